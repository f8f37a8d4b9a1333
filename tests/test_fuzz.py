"""Damaged media, a few hundred mutants of generated files: faceless keeps its promise on each.

A correct result, or exactly one error that names the file (and no output file); never
another exception, a traceback or a crash. The mutator is tools/fuzz.py's, which runs the
same checks on as many mutants as asked.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from faceless.cli.main import main


def _load_fuzz() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "tools" / "fuzz.py"
    spec = importlib.util.spec_from_file_location("tools_fuzz", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


fuzz = _load_fuzz()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[Path]:
    return fuzz.make_seeds(tmp_path_factory.mktemp("seeds"))


def test_the_seeds_are_valid(seeds):
    assert sorted(p.suffix for p in seeds) == sorted(fuzz.SEED_SUFFIXES)
    assert all(fuzz.read_mutant(p).status == "ok" for p in seeds)


def test_readers_keep_the_promise_on_300_mutants(seeds, tmp_path):
    seen: Counter[tuple[str, str]] = Counter()
    bad = []
    for path, how in fuzz.mutants(seeds, 300, seed=2024, folder=tmp_path):
        verdict = fuzz.read_mutant(path)
        seen[path.suffix, verdict.status] += 1
        if verdict.status == "violation":
            bad.append(f"{path.name} ({how}): {verdict.detail}")
    assert bad == []
    # The mutants reach both sides of every reader: some still decode, some are refused.
    for suffix in fuzz.SEED_SUFFIXES:
        assert seen[suffix, "error"] > 0
    assert sum(n for (_, status), n in seen.items() if status == "ok") > 0


def test_a_folder_run_keeps_the_promise_on_mutants(seeds, tmp_path, capsys):
    """One run over a folder of 60 mutants: it goes on past every bad file, each failed item
    gets exactly one error line and no output, each done item its output."""
    folder, out = tmp_path / "mutants", tmp_path / "out"
    made = [p for p, _ in fuzz.mutants(seeds, 60, seed=7, folder=folder)]
    code = main(["run", str(folder), "-o", str(out), "--json"])
    stdout, stderr = capsys.readouterr()
    assert fuzz.run_violations(code, stdout, stderr, folder, out) == []
    doc = json.loads(stdout)
    assert len(doc["items"]) == len(made)
    assert doc["ok"] > 0 and doc["failed"] > 0 and code == 1
