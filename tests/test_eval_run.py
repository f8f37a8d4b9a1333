"""evaluate() with stand-in region sources (no model), the threshold sweep, and layering."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import faceless.eval as E
from faceless.core.types import Region
from mediagen import portrait_scene


def sequence(tmp_path, n=8, box=(20.0, 20.0, 40.0, 44.0)):
    """An OTB-like sequence of n grey frames with the same labelled box in each."""
    from faceless.eval.loaders import Dataset, Obj, Sample

    samples = []
    for i in range(n):
        p = tmp_path / f"{i:04d}.png"
        Image.fromarray(np.full((64, 80, 3), 60 + i, np.uint8)).save(p)
        samples.append(Sample(p, (Obj(box, "face", track_id=0),), "seq", i, 10.0))
    return Dataset("otb", tmp_path, tuple(samples), is_sequence=True)


def test_a_source_sees_frames_in_order_and_may_look_ahead(tmp_path):
    ds = sequence(tmp_path)
    box = ds.samples[0].objects[0].box
    seen = []
    hide = {0, 1, 5, 6, 7}  # frames 2, 3, 4 leak: the longest leak is 3 frames from frame 2

    def buffering_source(frames):
        """Reads two frames ahead before answering, as a tracker might."""
        buf = []
        for f in frames:
            seen.append(int(f[0, 0, 0]) - 60)
            buf.append(len(seen) - 1)
            if len(buf) > 2:
                i = buf.pop(0)
                yield [Region(box)] if i in hide else []
        for i in buf:
            yield [Region(box)] if i in hide else []

    res = E.evaluate(ds, config=E.EvalConfig(thresholds=()), source=buffering_source)
    assert seen == list(range(8)) and not res.failures
    s = res.summary()
    face = s["kinds"]["face"]
    assert face["objects"] == 8 and face["hidden"] == 5
    lk = face["leaks"]
    assert lk["leaked"] == 3 and lk["tracks_leaking"] == 1
    assert lk["longest"] == {"frames": 3, "sequence": "seq", "track_id": 0, "first_frame": 2,
                             "seconds": 0.3}


def test_a_source_that_stops_early_fails_the_rest(tmp_path):
    ds = sequence(tmp_path, n=4)

    def short(frames):
        for i, _ in enumerate(frames):
            if i == 2:
                return
            yield []

    res = E.evaluate(ds, config=E.EvalConfig(thresholds=()), source=short)
    assert len(res.images) == 2 and len(res.failures) == 1  # frame 2 was read, never answered


def test_unreadable_frame_is_a_failure_and_the_rest_is_judged(tmp_path):
    ds = sequence(tmp_path, n=3)
    ds.samples[1].image.write_bytes(b"not a picture")
    res = E.evaluate(ds, config=E.EvalConfig(thresholds=()),
                     source=lambda frames: ([] for _ in frames))
    assert len(res.images) == 2 and "0001.png" in res.failures[0][0]


def test_recall_is_judged_on_the_renderers_mask(tmp_path):
    """A box region exactly on the label hides all of it; half of it hides half."""
    from faceless.anonymize.operators import OperatorSpec, Shape
    from faceless.options import Options

    ds = sequence(tmp_path, n=2, box=(20.0, 20.0, 40.0, 40.0))
    regions = iter([[Region((20, 20, 40, 40))], [Region((20, 20, 40, 30))]])
    opts = Options(operator=OperatorSpec(shape=Shape.BOX))
    res = E.evaluate(ds, opts, E.EvalConfig(thresholds=(), cover=0.7, pixels=True),
                     source=lambda frames: (next(regions) for _ in frames))
    covs = [o.coverage for im in res.images for o in im.objects]
    assert covs == [1.0, 0.5]
    s = res.summary()
    assert s["kinds"]["face"]["recall"] == 0.5 and s["over_redaction"] == 0.0
    # The frames are flat grey: the blur changes nothing there, so judged by changed pixels
    # nothing is hidden, while the mask says (correctly) that the pixels were replaced.
    assert s["kinds"]["face"]["recall_pixels"] == 0.0


def test_the_sweep_matches_runs_at_each_threshold(tmp_path):
    """Filtering one low-threshold pass by score gives what a run at that threshold finds."""
    from faceless.detect.faces import FaceOptions
    from faceless.eval.loaders import Dataset, Obj, Sample
    from faceless.options import Options

    samples = []
    for i, (side, x) in enumerate([(128, 32), (72, 10), (40, 100)]):
        frame, face = portrait_scene(side=side, x=x)
        frame[100:, :60] = np.random.default_rng(i).integers(0, 255, (44, 60, 3))
        p = tmp_path / f"{i}.png"
        Image.fromarray(frame).save(p)
        samples.append(Sample(p, (Obj(face),)))
    ds = Dataset("voc", tmp_path, tuple(samples))
    swept = E.evaluate(ds, Options(), E.EvalConfig(thresholds=(0.05, 0.2, 0.5))).summary()
    for row in swept["sweep"]:
        alone = E.evaluate(ds, Options(face=FaceOptions(threshold=row["threshold"])),
                           E.EvalConfig(thresholds=())).summary()
        assert row["recall"]["face"] == alone["kinds"]["face"]["recall"]
        assert row["over_redaction"] == alone["over_redaction"]
        assert row["false_regions_per_image"] == pytest.approx(
            sum(alone["false_regions_per_image"].values()))
    assert swept["kinds"]["face"]["recall"] == swept["sweep"][1]["recall"]["face"]


def test_the_library_never_prints(tmp_path, capsys):
    ds = sequence(tmp_path, n=2)
    E.evaluate(ds, config=E.EvalConfig(thresholds=()), source=lambda fr: ([] for _ in fr))
    assert capsys.readouterr() == ("", "")



def test_a_tracked_sequence_needs_the_configured_analyzer(tmp_path):
    """Tracking must see what the configured threshold finds, not a sweep's lower floor."""
    from faceless.core.errors import ConfigError
    from faceless.options import Options

    ds = sequence(tmp_path, n=2)
    opts = Options()
    assert E.uses_tracking(ds, opts) and not E.uses_tracking(ds, Options(track=None))
    assert E.make_analyzer(opts, E.EvalConfig(), ds).options == opts
    floor = E.make_analyzer(opts, E.EvalConfig())  # images: down to the sweep's lowest
    assert floor.options.face.threshold == min(E.EvalConfig().thresholds)
    with pytest.raises(ConfigError, match="configured threshold"):
        E.evaluate(ds, opts, E.EvalConfig(), analyzer=floor)
