"""The ledger of a folder run: a re-run resumes, redoes what changed, survives SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from PIL import Image

import faceless.batch.ledger as ledger_mod
import faceless.cli.run as run_cmd
from batchgen import entries as rows
from batchgen import photo
from faceless.batch import Ledger, LedgerError, ledger_path
from faceless.batch.ledger import decide
from faceless.cli.main import main
from faceless.core.digest import sha256_file
from faceless.core.errors import MediaWriteError


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err



def mtimes(out):
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns
            for p in out.rglob("*") if p.is_file() and ".faceless" not in p.parts}


@pytest.fixture()
def case(tmp_path):
    src = tmp_path / "case"
    photo(src / "a.png")
    photo(src / "day2" / "b.jpg", x=8)
    return src, tmp_path / "released"


def test_a_rerun_skips_what_is_done(case, capsys):
    src, out = case
    code, _, err = run(["run", src, "-o", out], capsys)
    assert code == 0, err
    got = rows(out)
    assert sorted(got) == ["a.png", "day2/b.jpg"]
    for key, e in got.items():
        assert e.status == "done" and e.error is None and e.media == "image"
        assert e.input_sha256 == sha256_file(src / key)
        assert e.output == key and e.output_sha256 == sha256_file(out / key)
    before = mtimes(out)
    code, _, err = run(["run", src, "-o", out], capsys)
    assert code == 0, err
    assert "2 already done" in err and "0 done, 0 failed" in err
    assert mtimes(out) == before  # nothing was detected or written again
    code, stdout, _ = run(["run", src, "-o", out, "--json"], capsys)
    doc = json.loads(stdout)
    assert code == 0 and doc["already_done"] == 2 and doc["items"] == []


def test_a_changed_input_is_redone_without_overwrite(case, capsys):
    src, out = case
    assert run(["run", src, "-o", out], capsys)[0] == 0
    before = mtimes(out)
    old = rows(out)["a.png"]
    photo(src / "a.png", x=4)  # another picture under the same name
    code, _, err = run(["run", src, "-o", out], capsys)
    assert code == 0, err
    assert "1 already done" in err and "1 done, 0 failed" in err
    new = rows(out)["a.png"]
    assert new.status == "done" and new.input_sha256 != old.input_sha256
    assert new.output_sha256 == sha256_file(out / "a.png") != old.output_sha256
    assert mtimes(out)["day2/b.jpg"] == before["day2/b.jpg"]


def test_changed_settings_redo_every_item(case, capsys):
    src, out = case
    assert run(["run", src, "-o", out], capsys)[0] == 0
    old = rows(out)
    code, _, err = run(["run", src, "-o", out, "--operator", "fill"], capsys)
    assert code == 0, err
    assert "2 done, 0 failed" in err and "already done" not in err
    new = rows(out)
    for key in old:
        assert new[key].settings_sha256 != old[key].settings_sha256
        assert new[key].output_sha256 != old[key].output_sha256


def test_a_failed_item_is_retried(case, capsys, monkeypatch):
    src, out = case
    real = run_cmd.anonymize_file

    def flaky(s, d, **kw):
        if s.name == "b.jpg":
            raise MediaWriteError(f"{d}: disk full")
        return real(s, d, **kw)

    monkeypatch.setattr(run_cmd, "anonymize_file", flaky)
    code, _, err = run(["run", src, "-o", out], capsys)
    assert code == 1 and "disk full" in err
    e = rows(out)["day2/b.jpg"]
    assert e.status == "failed" and "disk full" in str(e.error) and e.output_sha256 is None
    code, stdout, _ = run(["status", out], capsys)
    assert code == 1
    assert "image: 1 done, 1 failed" in stdout and "failed: day2/b.jpg:" in stdout
    assert "1 done, 1 failed, 2 total" in stdout
    monkeypatch.setattr(run_cmd, "anonymize_file", real)
    code, _, err = run(["run", src, "-o", out], capsys)
    assert code == 0, err
    assert "1 already done" in err and "1 done, 0 failed" in err
    assert rows(out)["day2/b.jpg"].status == "done"


def test_an_output_the_ledger_cannot_prove_ours_is_not_replaced(case, capsys):
    src, out = case
    assert run(["run", src, "-o", out], capsys)[0] == 0
    (out / "a.png").write_bytes(b"someone else's file")
    photo(src / "a.png", x=4)
    code, _, err = run(["run", src, "-o", out], capsys)
    assert code == 1 and "--overwrite" in err
    assert (out / "a.png").read_bytes() == b"someone else's file"


def test_status_json_and_no_ledger(case, capsys, tmp_path):
    src, out = case
    assert run(["run", src, "-o", out], capsys)[0] == 0
    code, stdout, _ = run(["status", out, "--json"], capsys)
    doc = json.loads(stdout)
    assert code == 0
    assert (doc["total"], doc["done"], doc["failed"], doc["unfinished"]) == (2, 2, 0, 0)
    assert doc["media"] == {"image": {"running": 0, "done": 2, "failed": 0}}
    assert [i["input"] for i in doc["items"]] == ["a.png", "day2/b.jpg"]
    code, stdout, _ = run(["status", out], capsys)
    assert code == 0 and stdout.splitlines()[-1] == "2 done, 0 failed, 2 total"
    code, _, err = run(["status", tmp_path / "nowhere"], capsys)
    assert code == 2 and "no ledger" in err


def test_no_ledger_without_an_output_folder(tmp_path, capsys):
    photo(tmp_path / "in" / "a.png")
    assert run(["run", tmp_path / "in" / "a.png"], capsys)[0] == 0
    assert run(["run", tmp_path / "in"], capsys)[0] == 0
    assert run(["run", tmp_path / "in" / "a.png", "-o", tmp_path / "one.png"], capsys)[0] == 0
    assert not list(tmp_path.rglob(".faceless"))
    # Unchanged: a second run beside the inputs still refuses to overwrite.
    code, _, err = run(["run", tmp_path / "in"], capsys)
    assert code == 1 and "--overwrite" in err


def test_an_output_folder_inside_the_input_is_skipped_with_its_ledger(case, capsys):
    src, _ = case
    out = src / "released"
    assert run(["run", src, "-o", out], capsys)[0] == 0
    code, _, err = run(["run", src, "-o", out], capsys)
    assert code == 0 and "2 already done" in err and "skipped" not in err
    assert sorted(rows(out)) == ["a.png", "day2/b.jpg"]


def test_a_locked_ledger_is_a_clear_error(tmp_path):
    with Ledger.for_folder(tmp_path):
        pass
    other = sqlite3.connect(ledger_path(tmp_path), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(LedgerError, match="locked by another faceless run"):
            Ledger(ledger_path(tmp_path), timeout=0.1)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_decide():
    from faceless.batch.ledger import Entry

    def entry(status, out="o1"):
        return Entry("a.png", "i1", "s1", status, "image", "a.png", out, None, 1.0, "t")

    assert decide(None, "i1", "s1", None).skip is False
    assert decide(entry("done"), "i1", "s1", "o1").skip is True
    assert decide(entry("done"), "i1", "s1", None) == decide(None, "i1", "s1", None)
    assert decide(entry("done"), "i2", "s1", "o1").overwrite is True
    assert decide(entry("done"), "i1", "s2", "o1").overwrite is True
    assert decide(entry("done"), "i1", "s1", "other").overwrite is False
    assert decide(entry("failed"), "i1", "s1", "o1").overwrite is True
    assert decide(entry("running", None), "i1", "s1", "new").overwrite is True


def test_sigkill_mid_run_then_resume(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    names = [f"p{i}.png" for i in range(8)]
    for i, name in enumerate(names):
        photo(src / name, side=400, size=(1280, 960), x=40 + 10 * i)
    cmd = [sys.executable, "-m", "faceless", "run", str(src), "-o", str(out), "--json"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    try:
        while not any((out / n).exists() for n in names):
            assert proc.poll() is None, "the run ended before its first output"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    # Nothing half-written under a final name: each output is a complete image.
    finals = [n for n in names if (out / n).exists()]
    for n in finals:
        Image.open(out / n).load()
    done_before = {k for k, e in rows(out).items() if e.status == "done"}
    assert len(done_before) < len(names), "the run finished before it was killed"

    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    redone = {os.path.basename(i["input"]) for i in doc["items"]}
    assert doc["already_done"] == len(done_before)
    assert redone.isdisjoint(done_before) and redone | done_before == set(names)
    got = rows(out)
    assert sorted(got) == names
    for n, e in got.items():
        assert e.status == "done" and e.output_sha256 == sha256_file(out / n)
        assert e.input_sha256 == sha256_file(src / n)
    # No temporary file of the killed run is left behind.
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, ".faceless"])


def test_an_item_killed_after_its_output_moved_into_place_is_redone(case, capsys):
    """The window between the atomic rename and the ledger's `done`, and a killed run's
    temporary file: the `running` row proves the output is ours."""
    src, out = case
    assert run(["run", src, "-o", out], capsys)[0] == 0
    e = rows(out)["a.png"]
    with Ledger.for_folder(out) as ledger:
        ledger.start("a.png", e.input_sha256, e.settings_sha256, "a.png")
        ledger._write("a.png", False, output_sha256=None)  # as if first written just now
    stale = out / ".a.png.tmp-0123abcd.png"
    stale.write_bytes(b"half")
    code, _, err = run(["run", src, "-o", out], capsys)
    assert code == 0, err
    assert "1 already done" in err and "1 done, 0 failed" in err
    assert not stale.exists()
    assert rows(out)["a.png"].status == "done"


def test_a_claim_is_atomic_and_a_dead_runs_claim_is_taken_over(tmp_path):
    """Of many processes claiming one item at once exactly one gets it; a claim held by a
    process that still runs is left to it, and one of a process that died is taken over."""
    path = ledger_path(tmp_path)
    Ledger(path).close()
    script = (
        "import sys\n"
        "from faceless.batch import Ledger\n"
        "with Ledger(sys.argv[1]) as l:\n"
        "    print(l.claim('a.png', 'i', 's', 'a.png', seen=None) is None)\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], text=True,
                              stdout=subprocess.PIPE) for _ in range(4)]
    won = [p.communicate(timeout=120)[0].strip() == "True" for p in procs]
    assert sum(won) == 1
    winner = procs[won.index(True)].pid
    assert rows(tmp_path)["a.png"].owner.split(":")[1] == str(winner)  # it has exited
    with Ledger(path) as ledger:
        assert ledger.claim("a.png", "i", "s", "a.png", seen=ledger.get("a.png")) is None
        mine = ledger.get("a.png")
    holder = subprocess.Popen([sys.executable, "-c", script + "import time; time.sleep(60)\n",
                               str(path)], text=True, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "False"  # ours, and we are alive
        with Ledger(path) as ledger:
            host = mine.owner.rsplit(":", 2)[0]
            alive = f"{host}:{holder.pid}:{ledger_mod._started(holder.pid)}"
            ledger._write("a.png", False, owner=alive)  # as if it had claimed the item
            entry = ledger.get("a.png")
            why = ledger.claim("a.png", "i", "s", "a.png", seen=entry)
            assert why is not None and f"process {holder.pid}" in why
    finally:
        holder.kill()
        holder.wait()
    with Ledger(path) as ledger:
        assert ledger.claim("a.png", "i", "s", "a.png", seen=ledger.get("a.png")) is None


def test_a_claim_refuses_an_item_finished_meanwhile(tmp_path):
    with Ledger(ledger_path(tmp_path)) as ledger:
        assert ledger.claim("a.png", "i", "s", "a.png", seen=None) is None
        seen = ledger.get("a.png")
        # Another run (a process that has exited since) finished it after we looked.
        ledger._write("a.png", False, status="done", output_sha256="o", owner="h:1:0")
        why = ledger.claim("a.png", "i", "s", "a.png", seen=seen)
        assert why is not None and "just finished" in why


def test_a_version_1_ledger_is_upgraded_in_place(tmp_path):
    path = ledger_path(tmp_path)
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE items (input TEXT PRIMARY KEY, input_sha256 TEXT NOT NULL, "
               "settings_sha256 TEXT NOT NULL, status TEXT NOT NULL, media TEXT NOT NULL, "
               "output TEXT NOT NULL, output_sha256 TEXT, error TEXT, seconds REAL, "
               "time TEXT NOT NULL)")
    db.execute("INSERT INTO items VALUES ('a.png', 'i', 's', 'done', 'image', 'a.png', 'o', "
               "NULL, 1.0, 't')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        (e,) = ledger.entries()
        assert e.status == "done" and e.owner is None
