"""Plates (by default) and text (on request) through the pipeline and the CLI."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from faceless.api import anonymize_file, anonymize_image, detect_file
from faceless.cli.main import main
from faceless.core.errors import ConfigError
from faceless.core.types import Kind
from faceless.media.video import VideoOptions
from faceless.options import Options
from textgen import plate_scene
from videogen import make_video


def black_share(img: np.ndarray, box) -> float:
    x1, y1, x2, y2 = (round(v) for v in box)
    return float((img[y1:y2, x1:x2].max(axis=2) < 20).mean())


def test_plates_are_filled_by_default():
    scene, box = plate_scene("KX 4821", width=180)
    out = anonymize_image(scene)
    assert black_share(out, box) > 0.9


def test_faces_only_leaves_plates(tmp_path):
    scene, box = plate_scene("KX 4821", width=180)
    out = anonymize_image(scene, Options(hide=frozenset({Kind.FACE})))
    assert black_share(out, box) < 0.05


def test_plan_records_the_plate_kind_and_fill(tmp_path):
    scene, _ = plate_scene("KX 4821", width=180)
    src = tmp_path / "car.png"
    Image.fromarray(scene).save(src)
    plan = detect_file(src)
    assert [str(r.kind) for r in plan.frames[0].regions] == ["plate"]
    assert plan.settings["plate_operator"]["operator"] == "fill"
    assert any(c["name"].startswith("CenterFace") for c in plan.models)
    assert len(plan.models) == 3, "face model, text detection and recognition models"


def test_plates_in_video_are_hidden_on_every_frame(tmp_path):
    """Plates are searched every 3rd frame; tracking covers the frames in between."""
    frames, box = [], None
    for i in range(10):
        f, box = plate_scene("KX 4821", width=150, size=(240, 320), xy=(60 + 2 * i, 80), seed=i)
        frames.append(f)
    src = make_video(tmp_path / "car.mp4", frames)
    out = anonymize_file(src, options=Options(video=VideoOptions(crf=12)))
    with av.open(str(out.dst)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == 10
    for i, img in enumerate(decoded):
        x1, y1, x2, y2 = box
        shifted = (x1 - 2 * (9 - i), y1, x2 - 2 * (9 - i), y2)
        assert black_share(img, shifted) > 0.8, f"frame {i}"


def test_text_on_request(tmp_path, capsys):
    from textgen import draw_text, textured

    img = textured(200, 400)
    box = draw_text(img, "Room 214 Records", (40, 80), 28)
    src = tmp_path / "sign.png"
    Image.fromarray(img).save(src)
    assert main(["run", str(src), "--hide", "face,text"]) == 0
    out = np.asarray(Image.open(tmp_path / "sign.faceless.png"))
    assert black_share(out, box) > 0.9


@pytest.mark.parametrize("value", ["faces", "", "face,hat", "plate;text"])
def test_bad_hide_lists_exit_2(value, capsys):
    assert main(["run", "x.jpg", "--hide", value]) == 2


def test_options_refuse_an_empty_or_unsupported_hide():
    with pytest.raises(ConfigError):
        Options(hide=frozenset())
