"""The `faceless` command: naming, folders, exit codes and one clear line per bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from faceless.cli.main import main
from faceless.detect.ocr import DET_INT8_SHA256, DET_SHA256
from mediagen import changed_fraction, png_bomb, portrait_scene
from videogen import make_audio, make_video


def photo(path, **kw):
    frame, face = portrait_scene(**kw)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path)
    return frame, face


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_one_photo_writes_name_faceless_ext(tmp_path, capsys):
    frame, face = photo(tmp_path / "street.jpg")
    code, _, err = run(["run", tmp_path / "street.jpg"], capsys)
    assert code == 0, err
    out = tmp_path / "street.faceless.jpg"
    assert out.exists() and "1 done, 0 failed" in err
    assert changed_fraction(frame, np.asarray(Image.open(out)), face) > 0.8
    # It says where the networks ran (CUDA with onnxruntime-gpu and a GPU).
    assert re.search(r"failed in [0-9.]+s on (the CPU|CUDA)", err), err


def test_run_a_folder_mirrors_its_tree(tmp_path, capsys):
    src = tmp_path / "case-042"
    photo(src / "a.png")
    photo(src / "day2" / "b.jpg")
    (src / "day2" / "cam").mkdir()
    make_video(src / "day2" / "cam" / "c.mp4", 3)
    (src / "notes.txt").write_text("not media")
    code, _, err = run(["run", src, "-o", tmp_path / "released"], capsys)
    assert code == 0, err
    got = sorted(str(p.relative_to(tmp_path / "released"))
                 for p in (tmp_path / "released").rglob("*")
                 if p.is_file() and ".faceless" not in p.parts)  # beside them: the job ledger
    assert got == ["a.png", "day2/b.jpg", "day2/cam/c.mp4"]
    assert "skipped 1 file" in err


def test_a_folder_without_output_goes_beside_it_and_is_not_reprocessed(tmp_path, capsys):
    src = tmp_path / "case"
    photo(src / "a.png")
    assert run(["run", src], capsys)[0] == 0
    assert (tmp_path / "case.faceless" / "a.png").exists()
    # A second run refuses to overwrite, and does not pick up outputs as inputs.
    code, _, err = run(["run", src], capsys)
    assert code == 1 and "--overwrite" in err
    assert run(["run", src, "--overwrite"], capsys)[0] == 0


def test_bad_inputs_each_get_one_line_and_the_run_goes_on(tmp_path, capsys):
    d = tmp_path / "in"
    photo(d / "good1.png")
    photo(d / "zz_good2.jpg")
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.png").write_text("hello, I am not a picture")
    good = d / "good1.png"
    (d / "truncated.png").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    make_video(tmp_path / "full.mp4", 10)
    (d / "truncated.mp4").write_bytes((tmp_path / "full.mp4").read_bytes()[:600])
    (d / "corrupt.mp4").write_bytes(os.urandom(4000))
    make_audio(d / "voice.m4a")
    (d / "voice.mp4").write_bytes((d / "voice.m4a").read_bytes())
    png_bomb(d / "bomb.png")
    code, _, err = run(["run", d, "-o", tmp_path / "out"], capsys)
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("error")]
    bad = ["empty.jpg", "text.png", "truncated.png", "truncated.mp4", "corrupt.mp4",
           "voice.mp4", "bomb.png"]
    for name in bad:
        assert sum(name in ln for ln in lines) == 1, (name, err)
    assert len(lines) == len(bad)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()
                  if p.name != ".faceless") == ["good1.png", "zz_good2.jpg"]
    assert "2 done, 7 failed" in err


def test_missing_input_is_named_and_exit_1(tmp_path, capsys):
    photo(tmp_path / "a.png")
    code, _, err = run(["run", tmp_path / "nope.jpg", tmp_path / "a.png", "-o",
                        tmp_path / "o"], capsys)
    assert code == 1
    assert "nope.jpg: no such file" in err and (tmp_path / "o" / "a.png").exists()


def test_unsupported_single_file(tmp_path, capsys):
    f = tmp_path / "doc.pdf"
    f.write_bytes(b"%PDF-1.4")
    code, _, err = run(["run", f], capsys)
    assert code == 1 and "doc.pdf" in err and "not a supported" in err


def test_unwritable_output_folder(tmp_path, capsys):
    photo(tmp_path / "a.png")
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    code, _, err = run(["run", tmp_path / "a.png", "-o", blocker / "sub" / "a.png"], capsys)
    assert code == 1 and "output folder" in err


def test_output_equal_to_input_is_refused(tmp_path, capsys):
    photo(tmp_path / "a.png")
    code, _, err = run(["run", tmp_path / "a.png", "-o", tmp_path / "a.png", "--overwrite"],
                       capsys)
    assert code == 1 and "input itself" in err


@pytest.mark.parametrize("argv", [[], ["run"], ["run", "x.jpg", "--threshold", "5"],
                                  ["run", "x.jpg", "--operator", "smudge"],
                                  ["run", "x.jpg", "--mask-scale", "0"],
                                  ["run", "x.jpg", "--scales", "a,b"],
                                  ["run", "x.jpg", "--fast", "--thorough"],
                                  ["run", "x.jpg", "--thorough", "--full-every", "4"],
                                  ["run", "x.jpg", "--full-every", "0"],
                                  ["run", "x.jpg", "--text-every", "0"],
                                  ["run", "x.mp4", "--preset", ""],  # x264: ultrafast
                                  ["run", "x.mp4", "--fast", "--preset", "quick"],
                                  ["frobnicate"]])
def test_usage_errors_exit_2(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse exits by itself
        code = e.code
    assert code == 2


@pytest.mark.parametrize("error", [ValueError("29 is not a valid Type"), KeyError("boxes"),
                                   RuntimeError("stack smashed")])
def test_a_bug_exits_3_and_says_it_is_a_bug(tmp_path, capsys, monkeypatch, error):
    """An unexpected exception inside faceless is a bug: exit 3 (never 2, which means the
    user's options were wrong), with a message that says so and asks for a report."""
    import faceless.cli.run as run_command

    def broken(*args, **kwargs):
        raise error

    photo(tmp_path / "a.png")
    monkeypatch.setattr(run_command, "anonymize_file", broken)
    code, _, err = run(["run", tmp_path / "a.png"], capsys)
    assert code == 3
    assert "internal error" in err and "a bug in faceless" in err and "report" in err
    assert type(error).__name__ in err


def test_names_with_brackets_are_printed_as_they_are(tmp_path, capsys):
    """Rich markup in a file name ("[/]", "[bold]") is the user's text, never markup: the
    run goes on and names the file exactly."""
    folder = tmp_path / "case[bold]"
    photo(folder / "a[" / "]ok.png")
    bad = folder / "[/]x" / "broken.jpg"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a jpeg")
    code, _, err = run(["run", folder, "-o", tmp_path / "out"], capsys)
    assert code == 1
    assert "1 done, 1 failed" in err
    assert str(bad) in err and "]ok.png" in err


def test_hidden_folders_inside_an_input_folder_are_not_inputs(tmp_path, capsys):
    """A .folder (an earlier run's job ledger, a tool's cache) is neither processed nor
    counted as skipped."""
    photo(tmp_path / "in" / "a.png")
    photo(tmp_path / "in" / ".cache" / "b.png")
    (tmp_path / "in" / ".faceless").mkdir()
    (tmp_path / "in" / ".faceless" / "ledger.sqlite").write_bytes(b"SQLite format 3\0")
    code, _, err = run(["run", tmp_path / "in", "-o", tmp_path / "out"], capsys)
    assert code == 0, err
    assert "1 done, 0 failed" in err and "skipped" not in err
    assert not (tmp_path / "out" / ".cache").exists()


def test_json_summary(tmp_path, capsys):
    photo(tmp_path / "a.png")
    code, out, _ = run(["run", tmp_path / "a.png", "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["ok"] == 1 and doc["failed"] == 0
    item = doc["items"][0]
    assert item["output"].endswith("a.faceless.png") and item["regions"]["face"] >= 1
    assert doc["device"] in ("CPU", "CUDA", "CUDA and CPU")


def test_quiet_prints_nothing_on_success(tmp_path, capsys):
    photo(tmp_path / "a.png")
    code, out, err = run(["run", tmp_path / "a.png", "-q"], capsys)
    assert code == 0 and out == "" and err == ""


def test_detect_then_render(tmp_path, capsys):
    frame, face = photo(tmp_path / "a.png")
    code, _, err = run(["detect", tmp_path / "a.png"], capsys)
    assert code == 0, err
    plan = tmp_path / "a.plan.json"
    doc = json.loads(plan.read_text())
    assert doc["schema"] == "faceless.plan" and doc["frames"][0]["regions"]
    code, _, err = run(["render", plan, "--operator", "fill"], capsys)
    assert code == 0, err
    out = np.asarray(Image.open(tmp_path / "a.faceless.png"))
    assert changed_fraction(frame, out, face) > 0.8


def test_render_of_a_broken_plan_names_it(tmp_path, capsys):
    bad = tmp_path / "x.plan.json"
    bad.write_text("{}")
    code, _, err = run(["render", bad], capsys)
    assert code == 1 and "x.plan.json" in err and "not a faceless plan" in err


def test_video_with_audio_and_metadata_by_default_and_kept(tmp_path, capsys):
    src = make_video(tmp_path / "clip.mp4", 6, size=(96, 64), audio=True,
                     metadata={"title": "secret", "location": "+48.8577+002.2950/"})
    assert run(["run", src], capsys)[0] == 0
    import av

    with av.open(str(tmp_path / "clip.faceless.mp4")) as c:
        assert len(c.streams.audio) == 0
        assert "title" not in c.metadata and "location" not in c.metadata
    assert run(["run", src, "-o", tmp_path / "k.mp4", "--audio", "keep"], capsys)[0] == 0
    with av.open(str(tmp_path / "k.mp4")) as c:
        assert len(c.streams.audio) == 1


def test_demo_then_run(tmp_path, capsys):
    assert run(["demo", tmp_path / "d"], capsys)[0] == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["astronaut-moving.mp4",
                                                                   "astronaut.jpg"]


def test_console_script_is_installed():
    """The `faceless` entry point exists and answers --version (a real subprocess)."""
    r = subprocess.run([sys.executable, "-m", "faceless", "--version"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.startswith("faceless ")


def test_a_cut_off_video_is_done_with_a_warning(tmp_path, capsys):
    """Index at the front (faststart), end of the data missing: every decoded frame is hidden
    and written, and the user is told the source looks truncated."""
    whole = make_video(tmp_path / "src.mp4", 40, size=(96, 64))
    assert run(["run", whole, "-o", tmp_path / "faststart.mp4"], capsys)[0] == 0
    data = (tmp_path / "faststart.mp4").read_bytes()
    # Keep the index and 60% of the media data: a cut at 60% of the whole file could fall
    # inside the first keyframe (x264's output size varies from run to run by a few %).
    mdat = data.find(b"mdat") - 4
    assert 0 < data.find(b"moov") < mdat
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: mdat + int((len(data) - mdat) * 0.6)])
    code, _, err = run(["run", cut], capsys)
    assert code == 0, err
    assert "warning" in err and "may be truncated" in err and "cut.mp4" in err


def test_modes_set_the_video_schedule(tmp_path, capsys):
    """--fast looks in full less often, --thorough on every frame, both recorded in the plan."""
    clip = make_video(tmp_path / "c.mp4", 4, size=(64, 48))
    seen, models = {}, {}
    for flag in ("--fast", "--thorough", "--full-every=5", "--track-hold=0", "--text-every=12",
                 None):
        plan = tmp_path / f"{flag}.json"
        argv = ["detect", clip, "-o", plan] + ([flag] if flag else [])
        code, _, _ = run(argv, capsys)
        assert code == 0
        seen[flag] = json.loads(plan.read_text())["settings"]
        models[flag] = {m["sha256"] for m in json.loads(plan.read_text())["models"]}
    assert seen["--fast"]["schedule"]["full_every"] == 30
    assert seen["--fast"]["schedule"]["low_side"] == seen[None]["schedule"]["low_side"] == 640
    # The text network is int8 by default and the original fp32 one in --thorough.
    assert DET_INT8_SHA256 in models[None] and DET_SHA256 not in models[None]
    assert DET_SHA256 in models["--thorough"] and DET_INT8_SHA256 not in models["--thorough"]
    assert seen[None]["track"]["hold"] == 45  # the visual hold is on by default
    assert seen["--track-hold=0"]["track"]["hold"] == 0
    assert seen["--fast"]["face"]["precision"] == "int8"
    assert seen[None]["face"]["precision"] == "int8"
    assert seen["--thorough"]["face"]["precision"] == "fp32"
    # The plan says which text network read the plates, not only the model cards.
    assert seen[None]["plate"]["text"]["precision"] == "int8"
    assert seen["--thorough"]["plate"]["text"]["precision"] == "fp32"
    assert "text" not in seen[None]  # legible text is not hidden by default
    assert "model_path" not in seen[None]["face"] and "threads" not in seen[None]["face"]
    assert seen["--full-every=5"]["schedule"]["full_every"] == 5
    assert seen[None]["schedule"]["full_every"] == 8
    assert seen["--thorough"]["schedule"] is None
    assert 2.0 in seen["--thorough"]["face"]["scales"]
    assert seen["--thorough"]["text_every"] == 1 and seen["--fast"]["text_every"] == 12
    assert seen["--text-every=12"]["text_every"] == 12 and seen[None]["text_every"] == 6
    assert seen[None]["sparse"]["every"] == 2 and seen["--fast"]["sparse"]["every"] == 2


def _x264_settings(path):
    """The settings x264 writes into its stream (an SEI message: '... options: ...')."""
    data = path.read_bytes()
    start = data.index(b"x264 - core")
    return data[start:data.index(b"\x00", start)].decode("ascii", "replace")


def test_fast_encodes_with_superfast_unless_a_preset_is_named(tmp_path, capsys):
    """--fast trades file size for encoding CPU (x264 superfast: diamond motion search,
    subpel refinement 1, no macroblock tree); an explicit --preset still wins, with all of
    its settings: the default's and --fast's encodes leave out B-frames, a named preset's
    keep its own."""
    clip = make_video(tmp_path / "c.mp4", 4, size=(64, 48))
    settings = {}
    for name, flags in (("default", []), ("fast", ["--fast"]),
                        ("fast-veryfast", ["--fast", "--preset", "veryfast"]),
                        ("medium", ["--preset", "medium"])):
        out = tmp_path / f"{name}.mp4"
        code, _, _ = run(["run", clip, "-o", out, "--hide", "face", *flags], capsys)
        assert code == 0
        settings[name] = _x264_settings(out)
    assert "subme=1" in settings["fast"] and "mbtree=0" in settings["fast"]
    assert "me=dia" in settings["fast"]
    for name in ("default", "fast-veryfast"):  # veryfast
        assert "subme=2" in settings[name] and "me=hex" in settings[name]
        assert "mbtree=1" in settings[name]
    assert "subme=7" in settings["medium"]
    for name in ("default", "fast"):
        assert " bframes=0 " in settings[name]
    for name in ("fast-veryfast", "medium"):
        assert " bframes=3 " in settings[name]


def test_fast_sets_the_api_preset_and_only_commands_that_encode_say_so(capsys):
    from faceless.media.video import VideoOptions
    from faceless.options import FAST_PRESET, Options, mode_options

    base = Options(video=VideoOptions(preset="medium"))
    assert mode_options("fast", base).video.preset == FAST_PRESET
    assert mode_options("default", base).video.preset == "medium"
    assert mode_options("thorough", base).video.preset == "medium"
    helps = {}
    for command in ("run", "detect", "render"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = " ".join(capsys.readouterr().out.split())
    assert FAST_PRESET in helps["run"]
    assert FAST_PRESET not in helps["detect"] and FAST_PRESET not in helps["render"]


def test_detect_warns_about_a_cut_off_video(tmp_path, capsys):
    """`detect` tells the user, as `run` does, that a source ends before its index says."""
    whole = make_video(tmp_path / "src.mp4", 40, size=(96, 64))
    assert run(["run", whole, "-o", tmp_path / "faststart.mp4"], capsys)[0] == 0
    data = (tmp_path / "faststart.mp4").read_bytes()
    mdat = data.find(b"mdat") - 4
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: mdat + int((len(data) - mdat) * 0.6)])
    code, _, err = run(["detect", cut, "-o", tmp_path / "cut.json"], capsys)
    assert code == 0, err
    assert "warning" in err and "may be truncated" in err and "cut.mp4" in err
    assert "may be truncated" in json.loads((tmp_path / "cut.json").read_text())["warnings"][0]
