"""Faults the machine throws at a batch: a full disk, a folder turned read-only, inputs that
vanish, shrink or cannot be read, pipes, devices and looping links, two runs into one folder,
signals. Each fault fails its own item with one line (recorded in the ledger), never the run.

Tests run as root in CI, where file permissions do not bind: the permission faults run in a
real subprocess without root's permission override (its two capabilities dropped), and a
full disk is a real file-size limit (RLIMIT_FSIZE) or a failing write in the image writer.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import faceless.cli.run as run_cmd
from batchgen import entries as rows
from batchgen import photo
from faceless.api import anonymize_file
from faceless.cli.main import main
from faceless.core.digest import sha256_file
from faceless.core.errors import MediaReadError
from faceless.media import image as image_mod
from faceless.options import Options
from videogen import make_video


def noisy_video(path: Path, frames: int = 24, size: tuple[int, int] = (320, 240)) -> Path:
    """A clip of random pictures: it compresses badly, so its output is large."""
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) for _ in range(frames)]
    return make_video(path, images)


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err



def leftovers(folder: Path) -> list[str]:
    """Temporary files of faceless's atomic writes anywhere under `folder`."""
    return sorted(p.name for p in folder.rglob("*") if ".tmp-" in p.name)


def items(doc: dict) -> dict[str, dict]:
    return {Path(i["input"]).name: i for i in doc["items"]}


FACELESS = [sys.executable, "-m", "faceless"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


# A full disk ------------------------------------------------------------------------------

def _file_size_limit(limit: int):
    def apply() -> None:  # in the child, before exec: its writes past `limit` fail (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_while_writing_a_video_fails_that_item_and_the_batch_goes_on(tmp_path):
    """A real write failure inside the encoder (a file-size limit: the kernel refuses the
    write, as on a full disk); Python ignores SIGXFSZ, so the write returns an error."""
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "a.png")
    noisy_video(src / "big.mp4")
    photo(src / "c.png", x=8)
    r = subprocess.run([*FACELESS, "run", src, "-o", out, "--json"], capture_output=True,
                       text=True, env=ENV, timeout=600, preexec_fn=_file_size_limit(400_000))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    got = items(json.loads(r.stdout))
    assert got["a.png"]["ok"] and got["c.png"]["ok"]
    error = got["big.mp4"]["error"]
    assert "big.mp4" in error and "disk is full" in error and ".tmp-" not in error
    assert not (out / "big.mp4").exists() and leftovers(out) == []
    ledger = rows(out)
    assert ledger["big.mp4"].status == "failed" and "disk is full" in ledger["big.mp4"].error
    assert ledger["a.png"].status == ledger["c.png"].status == "done"


def test_a_full_disk_while_writing_a_photo_fails_that_item_only(tmp_path, capsys, monkeypatch):
    """ENOSPC where a full disk reports it: the write of the file's data (at fsync)."""
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "a.png")
    photo(src / "b.png", x=8)
    real, calls = os.fsync, []

    def full(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(image_mod.os, "fsync", full)
    code, doc, _ = run(["run", src, "-o", out, "--json"], capsys)
    assert code == 1
    got = items(json.loads(doc))
    assert str(out / "a.png") in got["a.png"]["error"] and ".tmp-" not in got["a.png"]["error"]
    assert "disk is full" in got["a.png"]["error"] and got["b.png"]["ok"]
    assert not (out / "a.png").exists() and leftovers(out) == []
    assert rows(out)["a.png"].status == "failed" and "disk is full" in rows(out)["a.png"].error
    # Space freed: the next run does the failed item and only that one.
    monkeypatch.setattr(image_mod.os, "fsync", real)
    code, doc, _ = run(["run", src, "-o", out, "--json"], capsys)
    assert code == 0 and list(items(json.loads(doc))) == ["a.png"]


# Permissions (root's override dropped: otherwise they do not bind it) ------------------------

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _bound_by_permissions() -> None:
    """In a child before exec: as root, drop the two capabilities that let root ignore file
    permissions, so the program it runs meets them like any user (it stays root otherwise)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot drop a capability")


@pytest.fixture()
def bound_by_permissions(tmp_path) -> Iterator[None]:
    """Skip where a child cannot be made to obey file permissions."""
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    probe.chmod(0)
    try:
        r = subprocess.run([sys.executable, "-c", f"open({str(probe)!r}).read()"],
                           preexec_fn=_bound_by_permissions, capture_output=True, text=True)
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"cannot drop root's permission override here: {err}")
    if "PermissionError" not in r.stderr:
        pytest.skip("file permissions do not bind a child process here")
    yield
    for p in tmp_path.rglob("*"):  # make everything removable again
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)


# Run in the child: the first finished item turns the output folder read-only, so the rest
# of the batch meets a folder that it cannot write into.
_READ_ONLY_MID_RUN = textwrap.dedent("""
    import os, sys
    import faceless.cli.run as r
    from faceless.cli.main import main
    out, argv = sys.argv[1], sys.argv[2:]
    if hasattr(r, "parse_workers"):  # in this process, so the switch below happens here
        argv += ["--workers", "1"]
    real = r.anonymize_file
    def first_then_read_only(*args, **kw):
        result = real(*args, **kw)
        os.chmod(out, 0o555)
        return result
    r.anonymize_file = first_then_read_only
    sys.exit(main(argv))
""")


def test_an_unreadable_input_and_a_folder_turned_read_only_mid_run(tmp_path,
                                                                  bound_by_permissions):
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ("a.png", "b.png", "c.png"):
        photo(src / name, x=8 * ord(name[0]) % 40)
    photo(src / "locked.png")
    (src / "locked.png").chmod(0)
    out.mkdir()
    r = subprocess.run([sys.executable, "-c", _READ_ONLY_MID_RUN, out, "run", src, "-o",
                        out, "--json"], capture_output=True, text=True, env=ENV,
                       preexec_fn=_bound_by_permissions, timeout=600)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    got = items(json.loads(r.stdout))
    assert got["a.png"]["ok"]  # done before the folder turned read-only
    for name in ("b.png", "c.png"):
        assert not got[name]["ok"] and "not writable" in got[name]["error"]
        assert not (out / name).exists()
    assert "locked.png" in got["locked.png"]["error"]
    assert "permission denied" in got["locked.png"]["error"]
    ledger = rows(out)
    assert ledger["a.png"].status == "done"
    assert {ledger[n].status for n in ("b.png", "c.png", "locked.png")} == {"failed"}
    assert "permission denied" in ledger["locked.png"].error
    assert "not writable" in ledger["b.png"].error
    assert leftovers(out) == []


# Inputs that change under faceless's feet -------------------------------------------------

def test_an_input_deleted_after_the_batch_was_planned(tmp_path, capsys, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "a.png")
    photo(src / "gone.png", x=8)
    photo(src / "z.png", x=16)
    real = run_cmd.plan_jobs

    def then_delete(*args, **kw):
        planned = real(*args, **kw)
        (src / "gone.png").unlink()
        return planned

    monkeypatch.setattr(run_cmd, "plan_jobs", then_delete)
    code, doc, _ = run(["run", src, "-o", out, "--json"], capsys)
    assert code == 1
    got = items(json.loads(doc))
    assert got["a.png"]["ok"] and got["z.png"]["ok"]
    assert "gone.png" in got["gone.png"]["error"] and "no such file" in got["gone.png"]["error"]
    entry = rows(out)["gone.png"]
    assert entry.status == "failed" and "no such file" in entry.error
    assert not (out / "gone.png").exists()


def _shrink_after(src: Path, frame: int, what: str):
    def progress(done: int, total: int | None) -> None:
        if done == frame:
            if what == "delete":
                src.unlink()
            else:
                os.truncate(src, src.stat().st_size // 3)
    return progress


@pytest.mark.parametrize("what", ["truncate", "delete"])
def test_an_input_changed_while_being_read_gives_a_correct_output_or_one_error(tmp_path,
                                                                                what):
    """Truncated under the reader: an error naming the file and no output, or the frames
    that were read, hidden, with a warning that the video ends early. Deleted: the open file
    is still read to its end (the data does not go away while it is open)."""
    src = noisy_video(tmp_path / "clip.mp4", 60)  # far larger than the reader's buffer
    dst = tmp_path / "out.mp4"
    options = Options(pipelined=False)
    try:
        r = anonymize_file(src, dst, options, progress=_shrink_after(src, 5, what))
    except MediaReadError as err:
        assert what == "truncate" and "clip.mp4" in str(err)
        assert not dst.exists() and leftovers(tmp_path) == []
        return
    assert dst.is_file() and leftovers(tmp_path) == []
    if what == "delete":
        assert r.frames == 60 and not r.warnings
    else:
        assert r.frames < 60 and "may be truncated" in r.warnings[0]


def test_strict_fails_a_video_truncated_while_being_read(tmp_path):
    src = noisy_video(tmp_path / "clip.mp4", 60)
    dst = tmp_path / "out.mp4"
    with pytest.raises(MediaReadError, match=r"clip\.mp4"):
        anonymize_file(src, dst, Options(pipelined=False, strict=True),
                       progress=_shrink_after(src, 5, "truncate"))
    assert not dst.exists() and leftovers(tmp_path) == []


# Pipes, devices, looping links ------------------------------------------------------------

def test_pipes_devices_and_looping_links_in_a_folder_never_hang_or_loop(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "real.png")
    os.mkfifo(src / "pipe.mp4")  # a reader that opened it would wait for a writer forever
    if os.geteuid() == 0:
        os.mknod(src / "zero.jpg", 0o600 | 0o020000, os.makedev(1, 5))  # like /dev/zero
    else:
        (src / "zero.jpg").symlink_to("/dev/zero")
    (src / "self.png").symlink_to("self.png")
    (src / "sub").mkdir()
    (src / "sub" / "back").symlink_to("..")  # a folder loop
    (src / "sub" / "gone.webm").symlink_to(tmp_path / "nothing.webm")
    code, doc, _ = run(["run", src, "-o", out, "--json"], capsys)
    assert code == 1
    got = items(json.loads(doc))
    assert got["real.png"]["ok"]
    assert "named pipe" in got["pipe.mp4"]["error"]
    assert "a device" in got["zero.jpg"]["error"]
    assert "loops" in got["self.png"]["error"]
    assert "target is missing" in got["gone.webm"]["error"]
    assert len(got) == 5  # nothing found twice through the folder loop
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if ".faceless" not in p.parts) == ["real.png"]
    # Named directly, too: one line each, nothing opened.
    code, doc, _ = run(["run", src / "pipe.mp4", src / "zero.jpg", "-o", tmp_path / "o2/",
                        "--json"], capsys)
    assert code == 1 and all(not i["ok"] for i in json.loads(doc)["items"])


# Two runs, one output folder --------------------------------------------------------------

def test_two_runs_into_one_folder_do_every_item_once(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    names = [f"p{i}.png" for i in range(6)]
    for i, name in enumerate(names):
        photo(src / name, side=300, size=(960, 720), x=20 + 10 * i)
    cmd = [*FACELESS, "run", src, "-o", out, "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=ENV) for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    done_by: list[set[str]] = []
    for proc, (stdout, stderr) in zip(procs, results, strict=True):
        assert proc.returncode in (0, 1), stderr
        assert "Traceback" not in stderr
        doc = json.loads(stdout)
        mine = {Path(i["input"]).name for i in doc["items"] if i["ok"]}
        for i in doc["items"]:  # what a run did not do, it left to the other one
            assert i["ok"] or "another faceless run" in i["error"], i["error"]
        done_by.append(mine)
    assert done_by[0].isdisjoint(done_by[1])
    assert (done_by[0] | done_by[1]) == set(names)
    ledger = rows(out)
    assert sorted(ledger) == names
    for n, e in ledger.items():
        assert e.status == "done" and e.output_sha256 == sha256_file(out / n)
    assert leftovers(out) == []


def test_overwrite_redoes_items_the_ledger_shows_done(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "a.png")
    photo(src / "b.png", x=8)
    assert run(["run", src, "-o", out], capsys)[0] == 0
    code, doc, _ = run(["run", src, "-o", out, "--json"], capsys)
    assert code == 0 and json.loads(doc)["already_done"] == 2
    before = {n: (out / n).stat().st_mtime_ns for n in ("a.png", "b.png")}
    code, doc, _ = run(["run", src, "-o", out, "--json", "--overwrite"], capsys)
    doc = json.loads(doc)
    assert code == 0 and doc["already_done"] == 0 and sorted(items(doc)) == ["a.png", "b.png"]
    assert all((out / n).stat().st_mtime_ns != t for n, t in before.items())
    assert {e.status for e in rows(out).values()} == {"done"}


# Signals ----------------------------------------------------------------------------------

def _start_and_signal(src: Path, out: Path, names: list[str], sig: int) -> tuple[int, str]:
    """Start a run, send `sig` once its first output is in place; (exit code, stderr)."""
    proc = subprocess.Popen([*FACELESS, "run", src, "-o", out], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 300
    try:
        while not any((out / n).exists() for n in names):
            assert proc.poll() is None, "the run ended before its first output"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_cleanly_and_the_next_run_finishes(tmp_path, sig):
    src, out = tmp_path / "in", tmp_path / "out"
    names = [f"p{i}.png" for i in range(6)]
    for i, name in enumerate(names):
        photo(src / name, side=400, size=(1280, 960), x=40 + 10 * i)
    code, err = _start_and_signal(src, out, names, sig)
    assert code == 130, err
    assert "Traceback" not in err and "stopped" in err and "run the same command again" in err
    assert leftovers(out) == []
    finals = [n for n in names if (out / n).exists()]
    for n in finals:
        Image.open(out / n).load()  # complete, not half-written
    done_before = {k for k, e in rows(out).items() if e.status == "done"}
    assert len(done_before) < len(names)
    r = subprocess.run([*FACELESS, "run", src, "-o", out, "--json"], capture_output=True,
                       text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr
    redone = set(items(json.loads(r.stdout)))
    assert redone.isdisjoint(done_before) and redone | done_before == set(names)
