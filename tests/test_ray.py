"""`faceless run --ray` on a real local Ray cluster: the same outputs and ledger as a local
run, and a worker killed mid-run costs nothing (its file is retried)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from PIL import Image

from batchgen import entries, files, photo
from faceless.batch.cluster import RayRunner
from faceless.batch.pool import FileTask
from faceless.cli.main import main
from faceless.core.digest import sha256_file
from faceless.options import Options
from mediagen import portrait_scene
from videogen import make_video

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()


def rows(out: Path) -> dict[str, tuple[str, str | None]]:
    return {k: (e.status, e.output_sha256) for k, e in entries(out).items()}


def test_a_ray_run_gives_the_outputs_and_ledger_of_a_local_run(cluster, tmp_path, capsys):
    src = tmp_path / "in"
    for i in range(3):
        photo(src / f"p{i}.png", x=8 + 6 * i)
    frame, _ = portrait_scene()
    make_video(src / "clip.mp4", [frame] * 6)
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert main(["run", str(src), "-o", str(local), "--workers", "1", "-q"]) == 1
    capsys.readouterr()
    code = main(["run", str(src), "-o", str(on_ray), "--json", "--ray"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["ok"] == 4 and doc["failed"] == 1
    assert files(on_ray) == files(local) and len(files(on_ray)) == 4
    assert rows(on_ray) == rows(local)
    # Run again: everything done is skipped, as in a local run.
    code = main(["run", str(src), "-o", str(on_ray), "--json", "--ray"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["already_done"] == 4 and doc["ok"] == 0


def test_a_worker_killed_mid_run_is_retried_and_nothing_is_lost(cluster, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    names = [f"p{i}.png" for i in range(8)]
    for i, name in enumerate(names):
        photo(src / name, side=400, size=(1280, 960), x=40 + 10 * i)
    tasks = [FileTask(src / n, out / n) for n in names]
    got = {}
    with RayRunner(Options(), actors=2) as runner:
        before = runner.pids()
        for done in runner.run(tasks):
            if not got:  # one file done, the other actor is at work: kill both workers
                for pid in before:
                    os.kill(pid, signal.SIGKILL)
            got[done.task.dst.name] = done
        after = runner.pids()
    assert set(before).isdisjoint(after)  # the killed actors were restarted
    assert sorted(got) == sorted(names)
    for n, done in got.items():
        assert done.ok, done.error
        assert done.output_sha256 == sha256_file(out / n)
        Image.open(out / n).load()
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temporary left
