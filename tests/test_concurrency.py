"""The pipelined path: same output as the sequential one, and any stage's failure fails closed."""

from __future__ import annotations

import threading
import time

import av
import numpy as np
import pytest

import faceless.pipeline as pipeline
from faceless.concurrency import Prefetch, Worker
from faceless.core.errors import AnalysisError, MediaReadError, MediaWriteError
from faceless.pipeline import Engine, Options, anonymize_file
from mediagen import portrait_scene
from videogen import make_video


def test_prefetch_keeps_order_and_carries_errors():
    def source():
        yield from range(5)
        raise ValueError("boom at 5")

    got = []
    with Prefetch(source(), depth=2) as it, pytest.raises(ValueError, match="boom at 5"):
        for x in it:
            got.append(x)
    assert got == [0, 1, 2, 3, 4]


def test_prefetch_stops_an_endless_producer_when_the_consumer_leaves():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    with Prefetch(endless(), depth=2) as it:
        assert next(it) == 0
    assert threading.active_count() == before


def test_worker_runs_in_order_and_reports_the_first_error():
    seen = []
    w = Worker(seen.append, depth=2)
    for i in range(20):
        w.submit(i)
    w.finish()
    assert seen == list(range(20))

    def fail_on_3(x):
        if x == 3:
            raise OSError("disk full")
        time.sleep(0.001)

    w = Worker(fail_on_3, depth=1)
    with pytest.raises(OSError, match="disk full"):
        for i in range(100):
            w.submit(i)
        w.finish()
    w.abort()  # safe to call after a failure


def _clip(tmp_path, n=10):
    frames = [portrait_scene(side=112, x=8 + 6 * i)[0] for i in range(n)]
    return make_video(tmp_path / "in.mp4", frames)


def _decoded(path):
    with av.open(str(path)) as c:
        return [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def test_pipelined_output_is_identical_to_sequential(tmp_path):
    src = _clip(tmp_path)
    a = anonymize_file(src, tmp_path / "seq.mp4", options=Options(pipelined=False))
    b = anonymize_file(src, tmp_path / "pipe.mp4", options=Options(pipelined=True))
    assert a.regions == b.regions and a.frames == b.frames == 10
    da, db = _decoded(a.dst), _decoded(b.dst)
    assert len(da) == len(db) == 10
    for (pa, ia), (pb, ib) in zip(da, db, strict=True):
        assert pa == pb and np.array_equal(ia, ib)


def _no_leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep) == []


@pytest.mark.parametrize("stage", ["decode", "detect", "encode"])
def test_a_failing_stage_fails_the_item_without_hanging(tmp_path, monkeypatch, stage):
    src = _clip(tmp_path, n=12)
    eng = Engine(Options(pipelined=True))
    if stage == "decode":
        real = pipeline.iter_frames

        def broken(path, **kw):
            for i, f in enumerate(real(path, **kw)):
                if i == 5:
                    raise MediaReadError(f"{path}: injected decode error")
                yield f

        monkeypatch.setattr(pipeline, "iter_frames", broken)
        expected = MediaReadError
    elif stage == "detect":
        calls = []
        real_analyse = eng.analyse

        def analyse(image, *args, **kwargs):
            calls.append(1)
            if len(calls) == 6:
                raise AnalysisError("injected detector error")
            return real_analyse(image, *args, **kwargs)

        monkeypatch.setattr(eng, "analyse", analyse)
        expected = AnalysisError
    else:
        real_write = pipeline.VideoWriter.write
        count = []

        def write(self, image, ref, **kw):
            count.append(1)
            if len(count) == 3:
                raise MediaWriteError("injected encoder error")
            return real_write(self, image, ref, **kw)

        monkeypatch.setattr(pipeline.VideoWriter, "write", write)
        expected = MediaWriteError
    before = threading.active_count()
    with pytest.raises(expected, match="injected"):
        anonymize_file(src, tmp_path / "out.mp4", engine=eng)
    assert _no_leftovers(tmp_path, {src.name})
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before, "a stage thread was left running"
