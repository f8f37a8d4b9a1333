"""Inputs to jobs: which files a batch holds and where each one's output goes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faceless.media.files import is_output_name, special_file
from faceless.media.image import IMAGE_EXTENSIONS
from faceless.media.video import VIDEO_EXTENSIONS

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


@dataclass
class Job:
    """One input and where its output goes (or why it cannot be processed)."""

    src: Path
    dst: Path | None = None
    error: str | None = None


def plan_jobs(inputs: list[Path], output: Path | str | None, name_for: Callable[[Path], str],
              default_for: Callable[[Path], Path], folder_suffix: str,
              extensions: frozenset[str] = MEDIA_EXTENSIONS) -> tuple[list[Job], list[Path]]:
    """Map inputs to outputs. Returns the jobs and the files skipped (unsupported type).

    A file goes to `output` (a file name, or a folder when it exists as one, ends in a
    separator, or there are several inputs), else to `default_for(src)`. A folder is searched
    recursively and mirrored into `output` (default `FOLDER<folder_suffix>`), keeping names;
    hidden files, faceless's own outputs and an output folder inside the input are skipped.
    A missing input becomes a job with an error, so the batch goes on with the others.
    """
    jobs: list[Job] = []
    skipped: list[Path] = []
    # A trailing separator survives only in the text the user typed (Path drops it).
    wants_dir = output is not None and str(output).endswith(("/", "\\"))
    output = Path(output) if output is not None else None
    out_is_dir = output is not None and (output.is_dir() or wants_dir or len(inputs) > 1)
    for src in inputs:
        if src.is_dir():
            root = output if output is not None else src.with_name(src.name + folder_suffix)
            root_res = root.resolve()
            for f in sorted(src.rglob("*")):
                rel = f.relative_to(src)
                # Hidden files and folders (a job ledger's .faceless/ among them) are not inputs.
                if any(part.startswith(".") for part in rel.parts) or is_output_name(f):
                    continue
                special = special_file(f)  # a pipe, device or looping link: never opened
                if special is not None and f.suffix.lower() in extensions:
                    jobs.append(Job(f, None, f"{f}: {special}, not a media file; skipped"))
                    continue
                if not f.is_file():
                    continue
                if root_res in f.resolve().parents:  # our own output folder inside the input
                    continue
                if f.suffix.lower() not in extensions:
                    skipped.append(f)
                    continue
                jobs.append(Job(f, root / rel.parent / name_for(f)))
        elif src.is_file():
            if output is None:
                jobs.append(Job(src, default_for(src)))
            elif out_is_dir:
                jobs.append(Job(src, output / name_for(src)))
            else:
                jobs.append(Job(src, output))
        elif (special := special_file(src)) is not None:
            jobs.append(Job(src, None, f"{src}: {special}, not a media file; skipped"))
        else:
            jobs.append(Job(src, None, f"{src}: no such file or folder; check the path"))
    return jobs, skipped
