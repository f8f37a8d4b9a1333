"""Rules of the codebase that a reader relies on: layering, a quiet import, no identification."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import faceless

SRC = Path(faceless.__file__).parent
# Which of faceless's own packages and top-level modules each one may import: layers point
# one way (core at the bottom; cli on top, imported by nothing). Every package and module of
# faceless must be listed, and everything listed must exist.
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "media": {"core", "media"},
    "detect": {"core", "detect"},
    "plan": {"core", "plan"},
    "anonymize": {"core", "anonymize"},
    "track": {"core", "track"},
    "options": {"core", "anonymize", "detect", "media", "track"},
    "analyze": {"core", "analyze", "detect", "media", "options", "track"},
    "api": {"core", "analyze", "anonymize", "detect", "media", "options", "plan", "track"},
    "batch": {"core", "analyze", "anonymize", "api", "batch", "media", "options"},
    "audit": {"core", "plan", "audit"},
    "check": {"core", "analyze", "anonymize", "api", "audit", "check", "detect", "media",
              "options", "plan", "track"},
    "eval": {"core", "analyze", "anonymize", "eval", "media", "options", "track"},
    "samples": set(),
    "models": set(),
    "cli": {"core", "analyze", "anonymize", "api", "audit", "batch", "check", "detect", "eval",
            "media", "options", "plan", "review", "samples", "track", "cli"},
    "review": {"core", "analyze", "anonymize", "api", "audit", "batch", "check", "detect",
               "eval", "media", "options", "plan", "review", "samples", "track"},
    # The top-level package re-exports the API lazily: it imports api, batch, options and plan on
    # first use of a name (test_import_faceless_is_quiet), and for type checkers.
    "__init__": {"core", "api", "batch", "options", "plan"},
    "__main__": {"cli"},
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
            elif n == "faceless":  # `from faceless import __version__`: the package itself
                out.add("__init__")
    return out


def parts_of_faceless() -> set[str]:
    """Every package and top-level module of faceless, by name."""
    return ({p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
            | {p.stem for p in SRC.glob("*.py")})


def test_every_package_and_module_is_layered():
    assert parts_of_faceless() == set(ALLOWED), (
        "list each new package or module in ALLOWED (and drop the ones that are gone)")


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_point_one_way(layer):
    target = SRC / layer
    paths = sorted(target.rglob("*.py")) if target.is_dir() else [SRC / f"{layer}.py"]
    assert paths and all(p.exists() for p in paths), f"faceless.{layer} is missing"
    for path in paths:
        bad = faceless_imports(path) - ALLOWED[layer] - {layer, "__init__"}
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
