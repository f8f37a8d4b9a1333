"""The audit log: its line format, the hash chain, tampering caught, reports, CLI --audit."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image

import faceless.audit.sign as sign_mod
from faceless.audit import (
    AuditDataError,
    AuditError,
    AuditKeyError,
    AuditLog,
    SigningUnavailableError,
    keygen,
    sign_log,
)
from faceless.audit.keys import fingerprint, load_public
from faceless.audit.log import GENESIS, encode
from faceless.audit.report import write_report
from faceless.audit.tracks import track_rows
from faceless.audit.verify import verify
from faceless.cli.main import main
from faceless.core.errors import FacelessError, OutputExistsError
from faceless.core.types import Decision, Kind, Origin, Region
from faceless.plan.model import FramePlan, Plan, SourceInfo
from mediagen import portrait_scene
from videogen import make_video


def cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def small_log(tmp_path: Path, n: int = 3) -> Path:
    """A log of n events inside tmp_path, each naming a file of its own."""
    log = AuditLog(tmp_path / "audit.jsonl", actor="tester")
    for i in range(n):
        f = tmp_path / f"f{i}.bin"
        f.write_bytes(bytes([i]) * 100)
        log.append("run", inputs=[f], settings={"i": i}, details={"n": i})
    return log.path


# --- the line format -------------------------------------------------------------------

def test_lines_are_canonical_json_chained_by_hash(tmp_path):
    (tmp_path / "in.jpg").write_bytes(b"pixels")
    log = AuditLog(tmp_path / "logs" / "audit.jsonl", actor="Ann")  # folder is created
    rec = log.append("detect", inputs=[tmp_path / "in.jpg"], settings={"hide": ["face"]},
                     models=[{"name": "m", "sha256": "ab"}], details={"frames": 1})
    log.append("render")
    raw = log.path.read_bytes()
    lines = raw.split(b"\n")
    assert raw.endswith(b"\n") and len(lines) == 3
    first = json.loads(lines[0])
    assert first == rec
    assert lines[0] == json.dumps(first, sort_keys=True, separators=(",", ":")).encode()
    assert set(first) == {"v", "seq", "time", "event", "actor", "tool", "files", "settings",
                          "models", "details", "prev"}
    assert first["v"] == 1 and first["seq"] == 0 and first["prev"] == GENESIS
    assert first["time"].endswith("Z") and first["tool"].startswith("faceless ")
    assert first["actor"] == "Ann" and first["event"] == "detect"
    # Outside the log's folder: an absolute path; the hash is the file's.
    assert first["files"] == [{"role": "input", "path": str(tmp_path / "in.jpg"),
                               "sha256": hashlib.sha256(b"pixels").hexdigest()}]
    second = json.loads(lines[1])
    assert second["seq"] == 1 and second["prev"] == hashlib.sha256(lines[0]).hexdigest()


def test_paths_inside_the_log_folder_are_relative(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"a")
    rec = AuditLog(tmp_path / "audit.jsonl").append("run", outputs=[tmp_path / "out" / "a.png"])
    assert rec["files"][0]["path"] == "out/a.png"
    assert rec["actor"]  # the OS user, or "unknown"


def test_append_errors_are_faceless_errors_of_the_right_builtin(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(AuditError) as e:
        log.append("run", inputs=[tmp_path / "missing.jpg"])
    assert isinstance(e.value, OSError) and isinstance(e.value, FacelessError)
    assert "missing.jpg" in str(e.value)
    with pytest.raises(AuditDataError) as e2:
        log.append("run", details={"x": object()})
    assert isinstance(e2.value, ValueError)
    with pytest.raises(AuditDataError):
        log.append("")
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(AuditError):
        AuditLog(tmp_path / "blocker" / "audit.jsonl").append("run")
    assert not log.path.exists()  # nothing was written by refused events


def test_concurrent_appends_keep_one_chain(tmp_path):
    log_path = tmp_path / "audit.jsonl"

    def work(k):
        log = AuditLog(log_path, actor=f"w{k}")
        for _ in range(10):
            log.append("run")
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    v = verify(log_path)
    assert v.ok, v.errors
    assert len(v.records) == 40


# --- verify ------------------------------------------------------------------------------

def test_a_good_log_verifies(tmp_path):
    v = verify(small_log(tmp_path))
    assert v.ok and not v.warnings and len(v.records) == 3 and v.files_checked == 3


def test_every_single_byte_change_before_the_last_line_is_caught(tmp_path):
    path = small_log(tmp_path, 3)
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    for i in range(last_start):
        tampered = bytearray(data)
        tampered[i] = ord("#") if data[i] != ord("#") else ord("$")
        path.write_bytes(bytes(tampered))
        v = verify(path)
        assert not v.ok, f"byte {i} ({chr(data[i])!r}) changed and not caught"
        assert v.errors[0].startswith("line "), v.errors


def test_a_change_to_the_last_line_changes_the_head(tmp_path):
    """The chain cannot protect its own last line: the head hash (or a signature) does."""
    path = small_log(tmp_path, 2)
    head = verify(path).head
    path.write_bytes(path.read_bytes().replace(b'"actor":"tester"', b'"actor":"tester"', 1)
                     .replace(b'"n":1', b'"n":7'))
    v = verify(path)
    assert v.head != head
    # Anything that breaks the canonical form is caught even there.
    path.write_bytes(path.read_bytes().replace(b'"n":7}', b'"n": 7}'))
    v = verify(path)
    assert not v.ok and "line 2" in v.errors[0] and "canonical" in v.errors[0]


@pytest.mark.parametrize("how, expected", [
    ("remove", "line 2 has seq 2, expected 1"),
    ("swap", "line 2 has seq 2, expected 1"),
    ("edit", "line 3 names prev"),
    ("duplicate", "line 3 has seq 1, expected 2"),
])
def test_removed_reordered_edited_lines_are_named(tmp_path, how, expected):
    path = small_log(tmp_path, 3)
    lines = path.read_bytes().splitlines(keepends=True)
    if how == "remove":
        del lines[1]
    elif how == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    elif how == "edit":
        lines[1] = lines[1].replace(b'"actor":"tester"', b'"actor":"mallory"')
    else:
        lines.insert(2, lines[1])
    path.write_bytes(b"".join(lines))
    v = verify(path)
    assert not v.ok and v.errors[0].startswith(expected), v.errors


def test_a_changed_or_missing_file_is_named(tmp_path):
    path = small_log(tmp_path, 2)
    with open(tmp_path / "f1.bin", "r+b") as f:
        f.write(b"\xff")
    v = verify(path)
    before = hashlib.sha256(bytes([1]) * 100).hexdigest()[:12]
    after = hashlib.sha256(b"\xff" + bytes([1]) * 99).hexdigest()[:12]
    assert v.errors == [f"f1.bin: changed since line 2 (sha256 expected {before}..., now "
                        f"{after}...)"]
    (tmp_path / "f0.bin").unlink()
    v = verify(path)
    assert any(e.startswith("f0.bin: missing (named by line 1") for e in v.errors)
    v = verify(path, allow_missing=True)
    assert any("f0.bin: missing" in w for w in v.warnings)
    assert len(v.errors) == 1 and "f1.bin" in v.errors[0]


def test_a_file_is_checked_against_its_latest_record(tmp_path):
    """A plan edited in review and logged again is history, not tampering."""
    plan = tmp_path / "a.plan.json"
    plan.write_text("1")
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("detect", plans=[plan])
    plan.write_text("2")
    log.append("review", plans=[plan])
    assert verify(log.path).ok


def test_bad_logs_each_get_one_clear_error(tmp_path):
    assert verify(tmp_path / "nope.jsonl").errors == [f"{tmp_path / 'nope.jsonl'}: "
                                                      "no such audit log"]
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert verify(tmp_path / "empty.jsonl").errors[0].endswith("the audit log is empty")
    (tmp_path / "pic.jsonl").write_bytes(b"\x89PNG\r\n\x1a\nrest")
    assert verify(tmp_path / "pic.jsonl").errors == [
        "line 1: not valid JSON (not UTF-8); this is not a faceless audit log"]
    (tmp_path / "text.jsonl").write_text("hello\nworld\n")
    assert verify(tmp_path / "text.jsonl").errors[0].startswith("line 1: not valid JSON")
    (tmp_path / "obj.jsonl").write_text('{"a":1}\n')
    assert "misses field(s)" in verify(tmp_path / "obj.jsonl").errors[0]


def test_a_truncated_last_line_is_reported_and_the_rest_verifies(tmp_path):
    path = small_log(tmp_path, 3)
    data = path.read_bytes()
    path.write_bytes(data[:-40])  # a crash in the middle of writing line 3
    v = verify(path)
    assert len(v.records) == 2
    assert v.errors == ["line 3: the last line is incomplete (no newline; likely a crash "
                        "mid-write); the 2 line(s) before it verify"]


def test_an_append_after_a_crash_chains_over_the_fragment(tmp_path):
    path = small_log(tmp_path, 2)
    with open(path, "ab") as f:
        f.write(b'{"actor":"tester","details":{"n"')  # the crash
    rec = AuditLog(path).append("run")
    assert rec["seq"] == 2  # the fragment is not an event
    v = verify(path)
    assert v.ok and len(v.records) == 3
    assert v.warnings == ["line 3: an incomplete line (a write interrupted by a crash), kept "
                          "in place; line 4 chains over it"]
    # The fragment is pinned now: changing it breaks the chain.
    path.write_bytes(path.read_bytes().replace(b'{"n"\n', b'{"m"\n'))
    assert verify(path).errors[0].startswith("line 3: not valid JSON, and line 4 does not")


def test_an_append_finishes_a_line_that_only_lacks_its_newline(tmp_path):
    path = small_log(tmp_path, 2)
    path.write_bytes(path.read_bytes()[:-1])
    assert AuditLog(path).append("run")["seq"] == 2
    assert verify(path).ok


# --- report ------------------------------------------------------------------------------

def _plan(src_sha: str) -> Plan:
    tb = Fraction(1, 10)
    box = (1.0, 1.0, 5.0, 5.0)
    frames = [FramePlan(i, i, [Region(box, Kind.FACE, 0.9, Origin.DETECTED, track_id=1)])
              for i in range(5)]
    frames[3].regions[0] = Region(box, Kind.FACE, 0.9, Origin.TRACKED, track_id=1)
    frames[2].regions.append(Region(box, Kind.PLATE, 1.0, Origin.MANUAL, Decision.KEEP,
                                    reason="officer's own car <b>"))
    return Plan(SourceInfo("in.mp4", src_sha, "video", 8, 8, tb, 5), frames)


def test_track_rows_group_regions_by_track_with_times():
    rows = track_rows(_plan("0" * 64))
    assert [(r.kind, r.track, r.first, r.last, r.decision) for r in rows] == [
        ("face", 1, 0.0, 0.4, "redact"), ("plate", None, 0.2, 0.2, "keep")]
    assert rows[0].origins == {"detected": 4, "tracked": 1, "manual": 0}
    assert rows[1].reason == "officer's own car <b>" and rows[1].origins["manual"] == 1


def test_report_writes_three_files_with_tracks_and_the_leak_check(tmp_path):
    src, dst, plan_path = tmp_path / "in.mp4", tmp_path / "out.mp4", tmp_path / "p.plan.json"
    src.write_bytes(b"source")
    dst.write_bytes(b"release")
    _plan(hashlib.sha256(b"source").hexdigest()).save(plan_path)
    log = AuditLog(tmp_path / "audit.jsonl", actor="Ann <script>")
    log.append("render", inputs=[src], plans=[plan_path], outputs=[dst])
    log.append("check", inputs=[dst], details={"ok": False, "suspects": [{"t": 1.0}]})
    paths = write_report(verify(log.path), tmp_path / "rep")
    assert [p.name for p in paths] == ["exemptions.csv", "custody.csv", "report.html"]
    rows = read_csv(paths[0])
    assert len(rows) == 2 and rows[0]["release"] == "out.mp4"
    assert rows[0]["release_sha256"] == hashlib.sha256(b"release").hexdigest()
    assert rows[1]["decision"] == "keep" and rows[1]["reason"] == "officer's own car <b>"
    assert (rows[0]["detected"], rows[0]["tracked"], rows[0]["manual"]) == ("4", "1", "0")
    custody = read_csv(paths[1])
    assert [c["event"] for c in custody] == ["render", "check"]
    page = paths[2].read_text()
    assert hashlib.sha256(b"release").hexdigest() in page and "FAILED; suspects: 1" in page
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;" in page
    assert "page-break-after" in page


# --- the command line --------------------------------------------------------------------

def test_run_with_audit_then_verify_tamper_and_report(tmp_path, capsys):
    frame, _ = portrait_scene()
    Image.fromarray(frame).save(tmp_path / "street.png")
    make_video(tmp_path / "clip.mp4", [frame] * 6)
    out, log = tmp_path / "released", tmp_path / "released" / "audit.jsonl"
    code, _, err = cli(["run", tmp_path / "street.png", tmp_path / "clip.mp4", "-o", out,
                        "--audit", log, "--actor", "Ann Clerk"], capsys)
    assert code == 0, err
    assert (out / "clip.mp4.plan.json").exists()  # --audit saves the plan
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["event"] for r in recs] == ["run", "run"]
    assert {f["role"] for f in recs[1]["files"]} == {"input", "plan", "output"}
    assert recs[1]["actor"] == "Ann Clerk" and recs[1]["models"] and recs[1]["settings"]
    code, stdout, err = cli(["audit", "verify", log], capsys)
    assert code == 0 and stdout.startswith(f"ok: {log}: 2 line(s) chained, 6 file(s) match")

    code, _, err = cli(["audit", "report", log, "-o", tmp_path / "rep"], capsys)
    assert code == 0, err
    page = (tmp_path / "rep" / "report.html").read_text()
    assert recs[1]["files"][2]["sha256"] in page and "clip.mp4" in page
    rows = read_csv(tmp_path / "rep" / "exemptions.csv")
    assert {r["release"] for r in rows} == {"street.png", "clip.mp4"}
    assert any(r["release"] == "clip.mp4" and r["track"] for r in rows)

    release = out / "clip.mp4"
    data = bytearray(release.read_bytes())
    data[len(data) // 2] ^= 0xFF
    release.write_bytes(bytes(data))
    code, _, err = cli(["audit", "verify", log], capsys)
    assert code == 1 and "clip.mp4: changed since line 2" in err
    code, stdout, _ = cli(["audit", "verify", log, "--json"], capsys)
    doc = json.loads(stdout)
    assert code == 1 and doc["ok"] is False and doc["lines"] == 2


def test_detect_and_render_with_audit(tmp_path, capsys):
    frame, _ = portrait_scene()
    Image.fromarray(frame).save(tmp_path / "a.png")
    log = tmp_path / "audit.jsonl"
    assert cli(["detect", tmp_path / "a.png", "--audit", log], capsys)[0] == 0
    assert cli(["render", tmp_path / "a.plan.json", "-o", tmp_path / "b.png", "--audit", log],
               capsys)[0] == 0
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["event"] for r in recs] == ["detect", "render"]
    assert [f["role"] for f in recs[0]["files"]] == ["input", "plan"]
    assert [f["path"] for f in recs[1]["files"]] == ["a.png", "a.plan.json", "b.png"]
    assert cli(["audit", "verify", log], capsys)[0] == 0


def test_a_failed_item_appends_nothing(tmp_path, capsys):
    (tmp_path / "bad.png").write_text("not a picture")
    log = tmp_path / "audit.jsonl"
    code, _, _ = cli(["run", tmp_path / "bad.png", "--audit", log], capsys)
    assert code == 1 and not log.exists()


def test_audit_usage_errors(tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "file").write_text("x")
    code, _, err = cli(["run", tmp_path / "a.png", "--audit", tmp_path / "file" / "log"],
                       capsys)
    assert code == 2 and "cannot write the audit log" in err
    code, _, err = cli(["run", tmp_path / "a.png", "--actor", "Ann"], capsys)
    assert code == 2 and "--audit" in err


def test_verify_and_report_on_bad_logs_exit_1_with_one_line(tmp_path, capsys):
    code, _, err = cli(["audit", "verify", tmp_path / "none.jsonl"], capsys)
    assert code == 1 and err.strip() == f"error: {tmp_path / 'none.jsonl'}: no such audit log"
    code, _, err = cli(["audit", "report", tmp_path / "none.jsonl", "-o", tmp_path / "r"],
                       capsys)
    assert code == 1 and not (tmp_path / "r").exists()
    path = small_log(tmp_path, 2)
    path.write_bytes(path.read_bytes()[:-5])
    code, _, err = cli(["audit", "verify", path], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "incomplete" in err


# --- signatures (faceless[sign]) ---------------------------------------------------------

def signed_log(tmp_path: Path) -> tuple[Path, Path, str]:
    """A 3-event log signed by a new key: (log, public key, fingerprint); 4 lines."""
    path = small_log(tmp_path, 3)
    fp = keygen(tmp_path / "key.pem")
    sign_log(path, tmp_path / "key.pem", actor="Signer")
    return path, tmp_path / "key.pem.pub", fp


def test_keygen_writes_a_private_key_0600_and_its_pub_and_never_overwrites(tmp_path):
    key = tmp_path / "key.pem"
    fp = keygen(key)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    pub = tmp_path / "key.pem.pub"
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert fp == fingerprint(load_public(pub)) and len(fp) == 64
    before = key.read_bytes()
    with pytest.raises(OutputExistsError) as e:
        keygen(key)
    assert isinstance(e.value, FileExistsError) and key.read_bytes() == before
    (tmp_path / "b.pem.pub").write_text("x")  # a lone .pub blocks too: nothing is written
    with pytest.raises(OutputExistsError):
        keygen(tmp_path / "b.pem")
    assert not (tmp_path / "b.pem").exists()


def test_sign_appends_a_sign_event_that_verifies(tmp_path):
    path, pub, fp = signed_log(tmp_path)
    lines = path.read_bytes().splitlines()
    rec = json.loads(lines[3])
    assert rec["event"] == "sign" and rec["actor"] == "Signer" and rec["seq"] == 3
    d = rec["details"]
    assert set(d) == {"algorithm", "key", "fingerprint", "head", "seq", "signature"}
    assert d["algorithm"] == "ed25519" and d["fingerprint"] == fp and d["seq"] == 2
    assert d["head"] == rec["prev"] == hashlib.sha256(lines[2]).hexdigest()
    assert base64.b64decode(d["key"]) == load_public(pub)
    v = verify(path, keys=[pub])
    assert v.ok and not v.warnings, (v.errors, v.warnings)
    assert [(s.line, s.fingerprint, s.actor) for s in v.signatures] == [(4, fp, "Signer")]
    assert v.to_dict()["signatures"][0]["fingerprint"] == fp


def test_every_single_byte_change_of_a_signed_log_is_caught(tmp_path):
    """The signature covers its own line too: the last line is no longer the weak spot."""
    path, pub, _ = signed_log(tmp_path)
    data = path.read_bytes()
    for i in range(len(data) - 1):  # the final newline is not part of any line's bytes
        tampered = bytearray(data)
        tampered[i] = ord("#") if data[i] != ord("#") else ord("$")
        path.write_bytes(bytes(tampered))
        v = verify(path, keys=[pub])
        assert not v.ok, f"byte {i} ({chr(data[i])!r}) changed and not caught"


def test_a_replaced_signature_is_a_bad_signature_naming_the_line(tmp_path):
    path, _, _ = signed_log(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    rec = json.loads(lines[3])
    sig = bytearray(base64.b64decode(rec["details"]["signature"]))
    sig[0] ^= 1
    rec["details"]["signature"] = base64.b64encode(bytes(sig)).decode()
    path.write_bytes(b"".join(lines[:3]) + encode(rec))
    v = verify(path)  # caught even without --key
    assert not v.ok and v.errors[0].startswith("line 4: bad signature by key ")
    assert not v.signatures


def test_a_log_re_signed_by_another_key_fails_with_the_right_key(tmp_path):
    """Rewrite a line, fix the chain after it, sign again with one's own key: only --key
    tells, which is why it exists."""
    path, pub, fp = signed_log(tmp_path)
    keygen(tmp_path / "mallory.pem")
    sign_log(path, tmp_path / "mallory.pem")
    v = verify(path, keys=[tmp_path / "mallory.pem.pub"])
    assert v.ok and len(v.signatures) == 2
    v = verify(path, keys=[pub, tmp_path / "mallory.pem.pub"])  # each key must have signed
    assert v.ok
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:3]))
    sign_log(path, tmp_path / "mallory.pem")
    v = verify(path, keys=[pub])
    assert v.errors == [f"not signed by {fp[:16]} (the key given with --key); signed by "
                        f"{fingerprint(load_public(tmp_path / 'mallory.pem.pub'))[:16]}"]
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:3]))
    assert verify(path, keys=[pub]).errors[0].endswith("; it is not signed")


def test_lines_after_the_last_signature_are_a_warning(tmp_path):
    path, pub, _ = signed_log(tmp_path)
    AuditLog(path).append("check")
    AuditLog(path).append("check")
    v = verify(path, keys=[pub])
    assert v.ok and v.warnings == ["2 line(s) unsigned after line 4 (the last signature; sign "
                                   "the log again to cover them)"]
    (tmp_path / "plain").mkdir()
    assert not verify(small_log(tmp_path / "plain", 1)).warnings  # unsigned logs: no noise


def test_sign_refuses_a_log_that_does_not_verify_and_bad_keys(tmp_path):
    path = small_log(tmp_path, 2)
    keygen(tmp_path / "key.pem")
    (tmp_path / "f0.bin").write_bytes(b"changed")
    with pytest.raises(AuditDataError, match=r"does not verify, not signing it: f0\.bin"):
        sign_log(path, tmp_path / "key.pem")
    (tmp_path / "f0.bin").unlink()  # files moved away are allowed, as with --allow-missing
    assert sign_log(path, tmp_path / "key.pem").line == 3
    with pytest.raises(AuditKeyError, match="not a PEM private key") as e:
        sign_log(path, tmp_path / "key.pem.pub")
    assert isinstance(e.value, ValueError) and isinstance(e.value, FacelessError)
    with pytest.raises(AuditKeyError, match="a private key; verify takes the public key"):
        verify(path, keys=[tmp_path / "key.pem"])
    with pytest.raises(AuditError):
        verify(path, keys=[tmp_path / "none.pub"])


def test_sign_covers_only_the_head_it_verified(tmp_path, monkeypatch):
    """An append between sign's verify and its write: sign verifies again, never signs an
    unverified head."""
    path = small_log(tmp_path, 1)
    keygen(tmp_path / "key.pem")
    real = sign_mod.verify
    calls = []

    def verify_then_append(*args, **kwargs):
        v = real(*args, **kwargs)
        if not calls:
            AuditLog(path).append("run")  # another process, just after our verify
        calls.append(1)
        return v
    monkeypatch.setattr(sign_mod, "verify", verify_then_append)
    sig = sign_log(path, tmp_path / "key.pem")
    assert len(calls) == 2 and sig.line == 3
    assert verify(path, keys=[tmp_path / "key.pem.pub"]).ok


def test_signing_is_imported_lazily_and_names_the_extra(monkeypatch, tmp_path):
    code = ("import sys; from faceless.audit import verify; import faceless.cli.main; "
            "from pathlib import Path; verify(Path(sys.argv[1])); "
            "print('cryptography' in sys.modules)")
    path = small_log(tmp_path, 1)
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                       check=True)
    assert r.stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "cryptography", None)  # as if not installed
    with pytest.raises(SigningUnavailableError, match=r"install faceless\[sign\]") as e:
        keygen(tmp_path / "key.pem")
    assert isinstance(e.value, RuntimeError)


def test_keygen_sign_verify_on_the_command_line(tmp_path, capsys):
    path = small_log(tmp_path, 2)
    key = tmp_path / "key.pem"
    code, out, _ = cli(["audit", "keygen", key], capsys)
    fp = fingerprint(load_public(tmp_path / "key.pem.pub"))
    assert code == 0 and f"fingerprint {fp[:16]} (sha256 {fp})" in out
    code, _, err = cli(["audit", "keygen", key], capsys)
    assert code == 2 and "exists" in err
    code, out, _ = cli(["audit", "sign", path, "--key", key, "--actor", "Ann"], capsys)
    assert code == 0 and out.startswith(f"signed {path} up to line 3 with key {fp[:16]}")
    code, out, _ = cli(["audit", "verify", path, "--key", f"{key}.pub"], capsys)
    assert code == 0 and out.rstrip().endswith(f"; signed by {fp[:16]} up to line 3")
    cli(["audit", "keygen", tmp_path / "other.pem"], capsys)
    code, _, err = cli(["audit", "verify", path, "--key", tmp_path / "other.pem.pub"], capsys)
    assert code == 1 and "not signed by" in err
    code, _, err = cli(["audit", "sign", path, "--key", f"{key}.pub"], capsys)
    assert code == 2 and "not a PEM private key" in err
    path.write_bytes(path.read_bytes().replace(b'"actor":"Ann"', b'"actor":"Bob"'))
    code, _, err = cli(["audit", "verify", path], capsys)
    assert code == 1 and "line 3: bad signature" in err
    code, _, err = cli(["audit", "sign", path, "--key", key], capsys)
    assert code == 1 and "does not verify, not signing it: line 3: bad signature" in err
    code, _, _ = cli(["audit", "report", path, "-o", tmp_path / "rep", "--key",
                      f"{key}.pub"], capsys)
    assert code == 1
