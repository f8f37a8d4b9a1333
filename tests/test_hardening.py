"""Hostile and awkward inputs: files that point at other files, library log noise, outputs in
containers faceless cannot write. Every test builds its own media."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from faceless.batch import Ledger, ledger_path
from faceless.cli.main import main
from faceless.core.errors import MediaWriteError, UnsupportedFormatError
from faceless.media import files
from faceless.media.files import atomic_output, check_paths, default_output, shown
from faceless.media.video import VideoOptions, VideoWriter, iter_frames, probe_video
from faceless.media.video import read as read_mod
from faceless.options import Options
from videogen import make_video


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def no_outputs(folder: Path) -> list[str]:
    """Names faceless could have written in `folder` (outputs and temporary files)."""
    return sorted(p.name for p in folder.iterdir() if ".faceless" in p.name or ".tmp-" in p.name)


# 1. An input never makes faceless read another file.

def _concat_list(folder: Path) -> Path:
    make_video(folder / "other.mp4", 4)
    path = folder / "release.mp4"
    path.write_text("ffconcat version 1.0\nfile 'other.mp4'\n")
    return path


def _hls_playlist(folder: Path) -> Path:
    make_video(folder / "other.ts", 30)
    path = folder / "release.mp4"
    path.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nother.ts\n#EXT-X-ENDLIST\n")
    return path


@pytest.mark.parametrize(("build", "what"), [(_concat_list, "an FFmpeg concat list"),
                                             (_hls_playlist, "an HLS/M3U playlist")])
def test_a_list_named_like_a_video_is_refused_and_never_followed(tmp_path, capsys, monkeypatch,
                                                                 build, what):
    path = build(tmp_path)
    opened: list[str] = []
    real_open = av.open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(read_mod.av, "open", spy)
    code, _, err = run(["run", path], capsys)
    assert code == 1
    assert f"error: Cannot read {path}: it is {what}, not a video." in err
    assert no_outputs(tmp_path) == []
    assert not any("other" in f for f in opened)  # the real clip was never opened
    with pytest.raises(UnsupportedFormatError, match=what):
        probe_video(path)


def test_ffmpeg_itself_refuses_a_list_the_first_bytes_do_not_give_away(tmp_path, monkeypatch):
    # The sniffing only words the message; FFmpeg's format whitelist is what refuses.
    path = _concat_list(tmp_path)
    monkeypatch.setattr(read_mod, "_sniff", lambda p: None)
    with pytest.raises(UnsupportedFormatError, match="not a video container faceless reads"):
        probe_video(path)
    with pytest.raises(UnsupportedFormatError):
        list(iter_frames(path))


def test_a_file_name_that_looks_like_an_ffmpeg_protocol_is_read_as_that_file(tmp_path,
                                                                             monkeypatch):
    make_video(tmp_path / "other.mp4", 4, size=(64, 48))
    make_video(tmp_path / "concat:other.mp4", 6, size=(32, 16))
    make_video(tmp_path / "pipe:0.mp4", 5, size=(32, 16))
    monkeypatch.chdir(tmp_path)
    info = probe_video(Path("concat:other.mp4"))
    assert (info.width, info.height) == (32, 16)
    assert len(list(iter_frames(Path("concat:other.mp4")))) == 6
    assert len(list(iter_frames(Path("pipe:0.mp4")))) == 5


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".avi", ".m4v", ".mpg", ".ts",
                                    ".wmv", ".flv", ".3gp"])
def test_every_container_faceless_reads_still_opens(tmp_path, suffix):
    path = make_video(tmp_path / f"clip{suffix}", 30)
    assert len(list(iter_frames(path))) >= 29  # MPEG program streams may hold back one frame


def test_a_text_file_named_like_a_video_gets_a_clear_line(tmp_path, capsys):
    path = tmp_path / "notes.mp4"
    path.write_text("just some notes\n")
    code, _, err = run(["run", path], capsys)
    assert code == 1
    assert f"Cannot read {path}: it is a text file, not a video." in err


# 2. Library log lines never reach the terminal beside faceless's one line.

def _tiff_that_makes_pillow_log(path: Path) -> Path:
    """A TIFF whose tags make Pillow warn (strip offsets past the end) and log an error
    (samples per pixel out of range) before it refuses the file."""
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 100, np.uint8)).save(buf, format="TIFF")
    data = bytearray(buf.getvalue())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, _ = struct.unpack_from("<HH", data, entry)
        if tag == 277:  # SamplesPerPixel
            struct.pack_into("<H", data, entry + 8, 9999)
        if tag == 273:  # StripOffsets: a count whose data lies past the end of the file
            struct.pack_into("<I", data, entry + 4, 10**6)
    path.write_bytes(bytes(data))
    return path


def _faceless(*argv: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    return subprocess.run([sys.executable, "-m", "faceless", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


def test_pillow_log_lines_are_not_shown_beside_the_error_line(tmp_path):
    path = _tiff_that_makes_pillow_log(tmp_path / "scan.tif")
    done = _faceless("run", "-q", path.name, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: scan.tif: ")
    done = _faceless("run", path.name, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: scan.tif: "), done.stderr
    assert lines[1].startswith("0 done, 1 failed")
    assert no_outputs(tmp_path) == []


def test_setup_logging_shows_faceless_warnings_only(tmp_path):
    code = (
        "import logging, warnings\n"
        "from faceless.cli.common import setup_logging\n"
        "setup_logging(False)\n"
        "logging.getLogger('PIL.TiffImagePlugin').error('pillow error')\n"
        "logging.getLogger('libav.mov').warning('libav warning')\n"
        "warnings.warn('a library warning')\n"
        "logging.getLogger('faceless.media.video').warning('faceless warning')\n"
        "logging.getLogger('faceless.api').info('faceless info')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.stderr.splitlines() == ["WARNING faceless.media.video: faceless warning"]
    quiet = code.replace("setup_logging(False)", "setup_logging(True)")
    done = subprocess.run([sys.executable, "-c", quiet], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.stderr == ""


# 3. Outputs in containers faceless cannot write; messages never name a temporary file.

def test_an_mpg_input_without_output_is_written_as_mp4(tmp_path, capsys):
    src = make_video(tmp_path / "tape.mpg", 30)
    assert default_output(src) == tmp_path / "tape.faceless.mp4"
    assert default_output(tmp_path / "TAPE.MPEG") == tmp_path / "TAPE.faceless.mp4"
    assert default_output(tmp_path / "a.mp4") == tmp_path / "a.faceless.mp4"  # unchanged
    code, _, err = run(["run", src], capsys)
    assert code == 0, err
    out = tmp_path / "tape.faceless.mp4"
    assert f"-> {out}" in err and "written as MP4: faceless cannot write .mpg video" in err
    with av.open(str(out)) as c:
        assert c.format.name.startswith("mov") and c.streams.video[0].frames >= 29
    assert no_outputs(tmp_path) == ["tape.faceless.mp4"]


def test_an_unwritable_output_suffix_names_the_users_path(tmp_path, capsys):
    src = make_video(tmp_path / "clip.mp4", 3)
    code, _, err = run(["run", src, "-o", tmp_path / "out.mpg"], capsys)
    assert code == 1
    assert f"error: {src}: {tmp_path / 'out.mpg'}: faceless cannot write a video as .mpg" in err
    assert f"use {tmp_path / 'out.mp4'} instead" in err
    assert ".tmp-" not in err
    assert no_outputs(tmp_path) == [] and not (tmp_path / "out.mpg").exists()


def test_an_output_without_suffix_says_how_to_name_a_folder(tmp_path, capsys):
    src = make_video(tmp_path / "clip.mp4", 3)
    out = tmp_path / "out"
    code, _, err = run(["run", src, "-o", out], capsys)
    assert code == 1
    assert f"error: {src}: {out}: the output has no suffix" in err
    assert f"end it with a slash ({out}/)" in err and f"e.g. {out}.mp4" in err
    assert ".tmp-" not in err and not out.exists()
    # As the message says: a trailing slash makes a new folder ...
    code, _, err = run(["run", src, "-o", f"{out}/"], capsys)
    assert code == 0, err
    assert (out / "clip.mp4").is_file()
    # ... and so does a folder that exists.
    again = tmp_path / "again"
    again.mkdir()
    code, _, err = run(["run", src, "-o", again], capsys)
    assert code == 0, err
    assert (again / "clip.mp4").is_file()


def test_the_leak_check_never_follows_a_list_named_like_a_video(tmp_path, capsys):
    path = _concat_list(tmp_path)
    code, _, err = run(["check", path, "--hide", "face"], capsys)
    assert code == 1
    assert "concat list" in err and str(path) in err


def test_an_image_given_a_video_suffix_names_the_users_path(tmp_path):
    src = tmp_path / "a.jpg"
    Image.new("RGB", (8, 8)).save(src)
    with pytest.raises(MediaWriteError, match=r"cannot write an image as \.mp4; use .*a\.jpg"):
        check_paths(src, tmp_path / "a.mp4", overwrite=False)


def test_temporary_names_map_back_to_the_output():
    assert shown(Path("/x/.out.mp4.tmp-0123abcd.mp4")) == Path("/x/out.mp4")
    assert shown(Path("/x/.out.tmp-0123abcd")) == Path("/x/out")
    assert shown(Path("/x/.hidden.mp4")) == Path("/x/.hidden.mp4")
    assert shown(Path("/x/clip.mp4")) == Path("/x/clip.mp4")


def test_errors_inside_atomic_output_never_name_the_temporary_file(tmp_path):
    dst = tmp_path / "out.mp4"
    with pytest.raises(MediaWriteError) as info, atomic_output(dst) as tmp:
        raise MediaWriteError(f"Cannot write {tmp}: boom ({tmp.name})")
    assert str(info.value) == f"Cannot write {dst}: boom (out.mp4)"
    assert list(tmp_path.iterdir()) == []


def test_video_writer_messages_name_the_final_output(tmp_path):
    info = probe_video(make_video(tmp_path / "in.mp4", 2))
    with pytest.raises(MediaWriteError) as err:
        VideoWriter(tmp_path / ".out.mpg.tmp-0123abcd.mpg", info)
    assert f"Cannot write {tmp_path / 'out.mpg'}:" in str(err.value)
    assert ".tmp-" not in str(err.value)


def test_files_module_imports_no_pyav():
    # Naming outputs must not need PyAV or Pillow (they are imported when a check needs them).
    done = subprocess.run([sys.executable, "-c", "import sys, faceless.media.files; "
                           "print('av' in sys.modules, 'PIL' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr
    assert files.OUTPUT_TAG == "faceless"


# 5. A video damaged part-way: a warning everywhere the user looks, or a failure when asked.

def _cut_video(folder: Path) -> Path:
    """An MP4 with its index at the front and the last 40% of its media data missing."""
    whole = make_video(folder / "whole.mp4", 40, size=(96, 64))
    faststart = folder / "faststart.mp4"
    with VideoWriter(faststart, probe_video(whole)) as w:
        for vf in iter_frames(whole):
            w.write(vf.image, vf.ref)
    data = faststart.read_bytes()
    mdat = data.find(b"mdat") - 4
    assert 0 < data.find(b"moov") < mdat
    cut = folder / "in" / "cut.mp4"
    cut.parent.mkdir()
    cut.write_bytes(data[: mdat + int((len(data) - mdat) * 0.6)])
    whole.unlink()
    faststart.unlink()
    return cut


def test_a_video_damaged_part_way_warns_in_summary_plan_and_json(tmp_path, capsys):
    cut = _cut_video(tmp_path)
    out = tmp_path / "out"
    code, _, err = run(["run", cut.parent, "-o", out, "--save-plan"], capsys)
    assert code == 0, err
    assert "warning" in err and "cut.mp4" in err and "may be truncated" in err
    assert "1 done (1 with warnings above), 0 failed" in err
    plan = json.loads((out / "cut.mp4.plan.json").read_text())
    (warning,) = plan["warnings"]
    assert "cut.mp4" in warning and "of the 40 frames" in warning
    assert len(plan["frames"]) < plan["source"]["frame_count"] == 40
    code, doc, _ = run(["run", cut, "-o", tmp_path / "again.mp4", "--json"], capsys)
    (item,) = json.loads(doc)["items"]
    assert code == 0 and item["ok"] and "may be truncated" in item["warnings"][0]


def test_strict_fails_a_video_damaged_part_way_and_writes_nothing(tmp_path, capsys):
    cut = _cut_video(tmp_path)
    out = tmp_path / "out"
    code, doc, _ = run(["run", cut.parent, "-o", out, "--strict", "--json"], capsys)
    assert code == 1
    (item,) = json.loads(doc)["items"]
    assert not item["ok"] and "cut.mp4" in item["error"] and "--strict" in item["error"]
    assert ".tmp-" not in item["error"]
    assert sorted(p.name for p in out.iterdir()) == [".faceless"]  # the ledger only
    with Ledger(ledger_path(out), create=False) as ledger:
        (entry,) = ledger.entries()
    assert entry.status == "failed" and "declares" in (entry.error or "")
    # A complete video passes strict mode untouched.
    whole = make_video(tmp_path / "ok.mp4", 10, size=(96, 64))
    code, _, err = run(["run", whole, "-o", tmp_path / "ok_out.mp4", "--strict"], capsys)
    assert code == 0, err


def test_strict_is_one_switch_for_options_and_video():
    assert Options(strict=True).video.strict
    assert Options(video=VideoOptions(strict=True)).strict
    assert not Options().strict and not Options().video.strict


def test_the_cli_asks_for_one_malloc_heap_before_it_runs_a_command(monkeypatch, tmp_path):
    """Look-ahead threads would each keep a heap grown to a network pass's peak: the command
    caps glibc at one arena before any thread starts."""
    from faceless.cli import main as cli_main
    from faceless.core.malloc import one_heap

    order: list[str] = []
    monkeypatch.setattr(cli_main, "one_heap", lambda: order.append("heap") or True)
    monkeypatch.setattr(cli_main, "setup_logging", lambda quiet: order.append("command"))
    with pytest.raises(SystemExit):
        cli_main.main(["--version"])
    assert order[:1] == ["heap"]
    assert one_heap() is sys.platform.startswith("linux")  # glibc on the machines we test
