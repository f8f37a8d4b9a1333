"""`faceless audit`: verify a log's hash chain, signatures and files; sign it; report on it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from faceless.audit import AuditDataError, keygen, sign_log
from faceless.audit.keys import short
from faceless.audit.report import write_report
from faceless.audit.verify import Verification, verify
from faceless.cli.common import EXIT_FAILED, EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="verify an audit log (--audit) and report on it",
                       description="Check and report on the tamper-evident audit log that "
                                   "`run`, `detect` and `render` write with --audit LOG.")
    cmds = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = cmds.add_parser("verify", help="recompute the hash chain and re-hash every file",
                        description="Exit 0 only when every line chains to the one before "
                                    "and every file the log names still has its sha256.")
    v.add_argument("log", type=Path, help="the audit log (JSONL)")
    v.add_argument("--allow-missing", action="store_true",
                   help="a file the log names that is gone (moved away) is a warning, "
                        "not an error")
    v.add_argument("--key", type=Path, action="append", default=[], metavar="KEY.pub",
                   help="a public key (from keygen) that must have signed the log; repeat "
                        "for several (each must have signed); needs faceless[sign]")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(func=main_verify)
    k = cmds.add_parser("keygen", help="make an Ed25519 key pair for signing logs",
                        description="Write a new private key to KEY (PEM, mode 0600; keep it "
                                    "secret) and its public key to KEY.pub, and print its "
                                    "fingerprint. Never overwrites. Needs faceless[sign].")
    k.add_argument("key", type=Path, metavar="KEY", help="the private key file to create")
    k.set_defaults(func=main_keygen)
    s = cmds.add_parser("sign", help="verify the log, then append a signature of its head",
                        description="Verify the log (files moved away are allowed), then "
                                    "append a `sign` event whose Ed25519 signature covers "
                                    "every line up to it. Needs faceless[sign].")
    s.add_argument("log", type=Path, help="the audit log (JSONL)")
    s.add_argument("--key", type=Path, required=True, metavar="KEY",
                   help="the private key (from keygen)")
    s.add_argument("--actor", help="who signs (default: the OS user name)")
    s.set_defaults(func=main_sign)
    r = cmds.add_parser("report", help="write exemptions.csv, custody.csv and report.html",
                        description="Verify the log, then write, per release: what was "
                                    "hidden and kept, by track, and who did what when.")
    r.add_argument("log", type=Path, help="the audit log (JSONL)")
    r.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                   help="folder for the report files (created if needed)")
    r.add_argument("--allow-missing", action="store_true",
                   help="as for verify: files moved away are warnings")
    r.add_argument("--key", type=Path, action="append", default=[], metavar="KEY.pub",
                   help="as for verify: a public key that must have signed the log")
    r.set_defaults(func=main_report)


def _print_problems(v: Verification) -> None:
    for w in v.warnings:
        print(f"warning: {v.path}: {w}", file=sys.stderr)
    for e in v.errors:
        text = e if e.startswith(str(v.path)) else f"{v.path}: {e}"
        print(f"error: {text}", file=sys.stderr)


def main_verify(a: argparse.Namespace) -> int:
    v = verify(a.log, allow_missing=a.allow_missing, keys=a.key)
    if a.json:
        sys.stdout.write(json.dumps(v.to_dict(), indent=1) + "\n")
        return EXIT_OK if v.ok else EXIT_FAILED
    _print_problems(v)
    if v.ok:
        print(f"ok: {a.log}: {len(v.records)} line(s) chained, {v.files_checked} file(s) "
              f"match; head {v.head}" + _signed_text(v))
    return EXIT_OK if v.ok else EXIT_FAILED


def _signed_text(v: Verification) -> str:
    # One entry per key, its latest signature: a log signed after every run stays one line.
    latest = {s.fingerprint: s.line for s in v.signatures}
    return "".join(f"; signed by {short(fp)} up to line {n}" for fp, n in latest.items())


def main_keygen(a: argparse.Namespace) -> int:
    fp = keygen(a.key)
    print(f"wrote {a.key} (private key, mode 0600: keep it secret) and {a.key}.pub "
          f"(public key, to verify with)\nfingerprint {short(fp)} (sha256 {fp})")
    return EXIT_OK


def main_sign(a: argparse.Namespace) -> int:
    try:
        sig = sign_log(a.log, a.key, actor=a.actor)
    except AuditDataError as err:  # the log does not verify: a failed input, as for verify
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"signed {a.log} up to line {sig.line} with key {short(sig.fingerprint)} (line "
          f"{sig.line} holds the signature; the head it signs: {sig.head})")
    return EXIT_OK


def main_report(a: argparse.Namespace) -> int:
    v = verify(a.log, allow_missing=a.allow_missing, keys=a.key)
    _print_problems(v)
    if not v.records:
        return EXIT_FAILED  # nothing verified: nothing to report on
    try:
        paths = write_report(v, a.output)
    except OSError as err:
        print(f"error: {a.output}: cannot write the report ({err.strerror or err})",
              file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {', '.join(str(p) for p in paths)}"
          + ("" if v.ok else f" (covering the {len(v.records)} line(s) that verify)"))
    return EXIT_OK if v.ok else EXIT_FAILED
