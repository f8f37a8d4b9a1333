"""The dataset API: many images (arrays, paths or a folder) anonymised in batches on worker
processes, each yielded as it is done; a bad image is one failed item, never a leak."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import faceless
from faceless.batch.dataset import anonymize_images
from faceless.core.errors import ConfigError
from mediagen import changed_fraction, portrait_scene


def scenes(n: int) -> list[tuple[np.ndarray, tuple[float, float, float, float]]]:
    return [portrait_scene(x=8 + 6 * i) for i in range(n)]


def test_arrays_in_this_process_are_hidden_in_input_order():
    pics = scenes(3)
    got = list(faceless.anonymize_images([p for p, _ in pics], workers=1, batch_size=2))
    assert [g.index for g in got] == [0, 1, 2]
    for g, (pic, face) in zip(got, pics, strict=True):
        assert g.ok and g.source is None and g.image is not None and g.regions
        assert changed_fraction(pic, g.image, face) > 0.7
        assert g.image.shape == pic.shape and pic is not g.image


def test_a_folder_on_workers_gives_what_one_process_gives(tmp_path: Path):
    for i, (pic, _) in enumerate(scenes(5)):
        sub = tmp_path / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        Image.fromarray(pic).save(sub / f"{i}.png")
    (tmp_path / "b" / "broken.jpg").write_bytes(b"no image here")
    (tmp_path / ".hidden.png").write_bytes(b"not an input")
    one = {g.source: g for g in anonymize_images(tmp_path, workers=1)}
    two = list(anonymize_images(tmp_path, workers=2, batch_size=2))
    assert len(one) == len(two) == 6
    for g in two:
        ref = one[g.source]
        assert g.ok == ref.ok and g.index == ref.index
        if g.ok:
            assert g.image is not None and ref.image is not None
            assert np.array_equal(g.image, ref.image)
        else:
            assert g.image is None and g.source is not None and g.source.name == "broken.jpg"
            assert "broken.jpg" in str(g.error)


def test_ordered_results_on_workers_follow_the_input():
    pics = [p for p, _ in scenes(6)]
    got = list(anonymize_images(iter(pics), workers=2, batch_size=1, ordered=True))
    assert [g.index for g in got] == list(range(6))


def test_a_bad_array_fails_alone_and_nothing_unredacted_comes_back():
    pic, _ = portrait_scene()
    got = list(anonymize_images([pic, np.zeros((4, 4), np.uint8), pic], workers=1))
    assert [g.ok for g in got] == [True, False, True]
    assert got[1].image is None and "image 1" in str(got[1].error)


def test_bad_arguments_are_config_errors(tmp_path: Path):
    with pytest.raises(ConfigError):
        next(anonymize_images(tmp_path / "missing"))
    with pytest.raises(ConfigError):
        next(anonymize_images([], batch_size=0))
