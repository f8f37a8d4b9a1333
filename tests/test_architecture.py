"""Rules of the codebase that a reader relies on: layering, a quiet import, no identification."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import faceless

SRC = Path(faceless.__file__).parent
# Which of faceless's own packages each layer may import (DESIGN.md "Layers point one way").
ALLOWED = {
    "core": {"core"},
    "media": {"core", "media"},
    "detect": {"core", "detect"},
    "plan": {"core", "plan"},
    "anonymize": {"core", "anonymize"},
    "audit": {"core", "audit", "plan"},
    "track": {"core", "track"},
}


def faceless_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for n in names:
            parts = n.split(".")
            if parts[0] == "faceless" and len(parts) > 1:
                out.add(parts[1])
    return out


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_point_one_way(layer):
    for path in sorted((SRC / layer).rglob("*.py")):
        bad = faceless_imports(path) - ALLOWED[layer]
        assert not bad, f"{path.relative_to(SRC)} imports faceless.{bad} across layers"


def test_core_needs_only_numpy():
    for path in (SRC / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top = node.module.split(".")[0]
            elif isinstance(node, ast.Import):
                top = node.names[0].name.split(".")[0]
            else:
                continue
            assert top in {"numpy", "faceless", "__future__"} or top in sys.stdlib_module_names, (
                f"{path.name} imports {top}")


def test_nothing_imports_the_cli_or_review():
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).parts
        if rel[0] in {"cli", "review", "__main__.py"}:
            continue
        assert not faceless_imports(path) & {"cli", "review"}, path


def test_import_faceless_is_quiet():
    """No model, codec or network library is loaded and no global state changes on import.

    numpy is imported first: it installs warning filters of its own.
    """
    code = ("import sys, warnings, numpy; before = list(warnings.filters); import faceless; "
            "heavy = {'onnxruntime', 'onnx', 'av', 'cv2', 'PIL', 'socket', 'urllib.request'}; "
            "print(sorted(heavy & set(sys.modules)), warnings.filters == before)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[] True", r.stdout
    assert r.stderr == ""


def test_public_api_is_exactly_all():
    import types

    public = {n for n in dir(faceless) if not n.startswith("_")
              and not isinstance(getattr(faceless, n), types.ModuleType)}
    assert public == set(faceless.__all__) - {"__version__"}


def test_every_error_is_a_faceless_error_and_a_builtin():
    errors = [getattr(faceless, n) for n in faceless.__all__ if n.endswith("Error")]
    for e in errors:
        assert issubclass(e, faceless.FacelessError)
        if e is not faceless.FacelessError:
            assert any(b in e.__mro__ for b in (OSError, ValueError, RuntimeError,
                                                FileExistsError)), e


def test_no_code_that_identifies_faces():
    """Detect to hide, never to identify: no embedding, matching or recognition code."""
    words = ("embedding", "face_recognition", "facenet", "arcface", "insightface", "watchlist",
             "identify_face", "match_face")
    for path in SRC.rglob("*.py"):
        text = path.read_text().lower()
        for w in words:
            assert w not in text, f"{path.relative_to(SRC)} mentions {w!r}"
