"""`faceless run --workers N`: files side by side in worker processes, with the same outputs
and ledger as one worker; a bad file, a dead worker and a stop each leave the batch sound."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from PIL import Image

from batchgen import entries, files, photo
from faceless.batch.pool import WorkerPool, default_workers
from faceless.cli.main import main
from faceless.core.digest import sha256_file
from mediagen import portrait_scene
from videogen import make_video


def rows(out: Path) -> dict[str, tuple[str, str | None]]:
    return {k: (e.status, e.output_sha256) for k, e in entries(out).items()}


@pytest.fixture()
def batch(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    for i in range(5):
        photo(src / f"p{i}.png", x=8 + 6 * i)
    photo(src / "sub" / "q.jpg", x=20)
    frame, _ = portrait_scene()
    make_video(src / "clip.mp4", [frame] * 6)
    (src / "broken.jpg").write_bytes(b"not a jpeg at all")
    return src


def test_workers_give_the_same_outputs_and_ledger_as_one(batch, tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["run", str(batch), "-o", str(one), "--workers", "1", "-q"]) == 1
    code = main(["run", str(batch), "-o", str(two), "--workers", "2", "--json"])
    out, _ = capsys.readouterr()
    assert code == 1  # the broken file failed; every other file was done
    doc = json.loads(out)
    assert doc["ok"] == 7 and doc["failed"] == 1
    bad = [i for i in doc["items"] if not i["ok"]]
    assert len(bad) == 1 and "broken.jpg" in bad[0]["error"]
    assert files(one) == files(two) and len(files(two)) == 7
    assert rows(one) == rows(two)
    assert rows(two)["broken.jpg"][0] == "failed"


def test_a_rerun_with_workers_skips_what_is_done(batch, tmp_path, capsys):
    out = tmp_path / "out"
    (batch / "broken.jpg").unlink()
    assert main(["run", str(batch), "-o", str(out), "--workers", "2", "-q"]) == 0
    before = files(out)
    photo(batch / "p9.png", x=30)
    capsys.readouterr()
    assert main(["run", str(batch), "-o", str(out), "--workers", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["already_done"] == 7 and [Path(i["input"]).name for i in doc["items"]] == ["p9.png"]
    after = files(out)
    assert {k: v for k, v in after.items() if k != "p9.png"} == before


def test_bad_workers_value_is_a_usage_error(tmp_path, capsys):
    photo(tmp_path / "a.png")
    assert main(["run", str(tmp_path / "a.png"), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_default_workers_fit_the_batch():
    assert default_workers(1) == 1
    assert 1 <= default_workers(10_000) <= (os.cpu_count() or 1)


class DiesOnce:
    """A worker that kills its own process the first time it meets task 'die'."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __call__(self, task: str) -> str:
        if task == "die" and not self.marker.exists():
            self.marker.write_text("died")
            os.kill(os.getpid(), signal.SIGKILL)
        return task.upper()


class AlwaysDies:
    def __call__(self, task: str) -> str:
        if task == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        return task.upper()


def test_a_task_whose_worker_dies_is_retried(tmp_path):
    tasks = ["a", "b", "die", "c", "d"]
    with WorkerPool(partial(DiesOnce, tmp_path / "marker"), 2) as pool:
        got = {f.task: (f.result, f.error) for f in pool.run(tasks)}
    assert got == {t: (t.upper(), None) for t in tasks}
    assert (tmp_path / "marker").exists()


def test_a_task_that_kills_every_worker_fails_alone():
    with WorkerPool(AlwaysDies, 2, retries=1) as pool:
        got = {f.task: (f.result, f.error) for f in pool.run(["a", "die", "b", "c"])}
    assert got["a"] == ("A", None) and got["b"] == ("B", None) and got["c"] == ("C", None)
    assert got["die"][0] is None and "worker process ended" in str(got["die"][1])


@pytest.mark.slow
def test_sigterm_stops_the_pool_cleanly_and_a_rerun_finishes(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    names = [f"p{i}.png" for i in range(16)]
    for i, name in enumerate(names):
        photo(src / name, side=400, size=(1280, 960), x=40 + 10 * i)
    cmd = [sys.executable, "-m", "faceless", "run", str(src), "-o", str(out), "--json",
           "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not any((out / n).exists() for n in names):
        assert proc.poll() is None, "the run ended before its first output"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130
    doc = json.loads(stdout)  # the summary was written
    assert doc["stopped"] is True
    # Nothing partial under a final name, no temporary left, no worker left running.
    finals = [n for n in names if (out / n).exists()]
    assert len(finals) < len(names), "the run finished before it was stopped"
    for n in finals:
        Image.open(out / n).load()
    assert not [p for p in out.iterdir() if p.name.startswith(".p")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    got = rows(out)
    assert sorted(got) == sorted(names)
    for n, (status, digest) in got.items():
        assert status == "done" and digest == sha256_file(out / n)


def _children(pid: int) -> list[int]:
    """Live child processes of `pid` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.slow
def test_sigkill_of_a_run_with_workers_then_resume(tmp_path):
    """The run killed with SIGKILL mid-batch: its workers stop with it, nothing partial is
    left under a final name, and the next run does every remaining input exactly once."""
    src, out = tmp_path / "in", tmp_path / "out"
    names = [f"p{i}.png" for i in range(12)]
    for i, name in enumerate(names):
        photo(src / name, side=400, size=(1280, 960), x=40 + 10 * i)
    cmd = [sys.executable, "-m", "faceless", "run", str(src), "-o", str(out), "--json",
           "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while not any((out / n).exists() for n in names):
            assert proc.poll() is None, "the run ended before its first output"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert workers, "the run had no worker processes"
    deadline = time.monotonic() + 60
    while any(_alive(w) for w in workers):
        assert time.monotonic() < deadline, "workers outlived the killed run"
        time.sleep(0.1)
    for n in names:
        if (out / n).exists():
            Image.open(out / n).load()  # complete, never half-written
    done_before = {k for k, (status, _) in rows(out).items() if status == "done"}
    assert len(done_before) < len(names), "the run finished before it was killed"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    redone = {Path(i["input"]).name for i in doc["items"]}
    assert doc["already_done"] == len(done_before)
    assert redone.isdisjoint(done_before) and redone | done_before == set(names)
    got = rows(out)
    assert sorted(got) == sorted(names)
    for n, (status, digest) in got.items():
        assert status == "done" and digest == sha256_file(out / n)
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, ".faceless"])
