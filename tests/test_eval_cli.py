"""`faceless eval` end to end on small labelled sets built here, and its exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from faceless.cli.main import main
from mediagen import portrait_scene


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


VOC_OBJECT = ("<object><name>face</name><bndbox><xmin>{0}</xmin><ymin>{1}</ymin>"
              "<xmax>{2}</xmax><ymax>{3}</ymax></bndbox></object>")


def voc_set(root):
    """Two portraits whose face boxes are known, and a grey frame labelled with a face the
    detector cannot see: recall 2/3, one miss."""
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    scenes = [portrait_scene(), portrait_scene(side=96, size=(176, 120), x=60, y=12),
              (np.full((144, 192, 3), 80, np.uint8), (40.0, 40.0, 70.0, 80.0))]
    for i, (frame, face) in enumerate(scenes):
        Image.fromarray(frame).save(root / "images" / f"p{i}.png")
        (root / "annotations" / f"p{i}.xml").write_text(
            f"<annotation><filename>p{i}.png</filename>"
            + VOC_OBJECT.format(*(round(v) for v in face)) + "</annotation>")
    return root


def test_voc_set_json(tmp_path, capsys):
    data = voc_set(tmp_path / "set")
    code, out, err = run(["eval", data, "--format", "voc", "--json", "--sweep", "0.2,0.5"],
                         capsys)
    assert code == 0, err
    s = json.loads(out)
    face = s["kinds"]["face"]
    assert face["objects"] == 3 and face["hidden"] == 2
    assert face["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert sum(b["n"] for b in face["by_size"].values()) == 3
    assert s["dataset"] == {"format": "voc", "root": str(data), "images": 3, "judged": 3,
                            "failed": 0, "sequence": False}
    assert 0 <= s["over_redaction"] < 0.1
    assert s["time"]["seconds_per_image"] > 0 and s["time"]["seconds_per_megapixel"] > 0
    assert [r["threshold"] for r in s["sweep"]] == [0.2, 0.5]
    assert s["sweep"][0]["recall"]["face"] == face["recall"]


def test_table_on_the_terminal_and_the_settings_apply(tmp_path, capsys):
    data = voc_set(tmp_path / "set")
    code, out, _ = run(["eval", data, "--sweep", "none", "--pixels"], capsys)  # guessed voc
    assert code == 0
    assert "redaction recall" in out and "66.7%" in out and "by pixels" in out
    assert "over-redaction" in out and "ms per image" in out
    # The detection and hiding flags apply: a mask shrunk to half the face box hides too
    # little of any face; a large box mask passes even --cover 1.
    code, out, _ = run(["eval", data, "--json", "--sweep", "none", "--mask-scale", "0.5"],
                       capsys)
    assert json.loads(out)["kinds"]["face"]["recall"] == 0.0
    code, out, _ = run(["eval", data, "--json", "--sweep", "none", "--cover", "1.0",
                        "--shape", "box", "--mask-scale", "4"], capsys)
    assert json.loads(out)["kinds"]["face"]["hidden"] == 2


def test_plot_misses_and_rendered_images(tmp_path, capsys):
    data = voc_set(tmp_path / "set")
    argv = ["eval", data, "--misses", tmp_path / "misses.png", "-o", tmp_path / "rendered",
            "--json", "--sweep", "0.1,0.3"]
    try:
        import matplotlib  # noqa: F401

        argv += ["--plot", tmp_path / "plot.png"]
    except ImportError:
        pass
    code, out, err = run(argv, capsys)
    assert code == 0, err
    with Image.open(tmp_path / "misses.png") as im:
        assert im.width > 100  # one tile, the grey frame's label
    assert sorted(p.name for p in (tmp_path / "rendered").iterdir()) == [
        "00000_p0.png", "00001_p1.png", "00002_p2.png"]
    if "--plot" in map(str, argv):
        with Image.open(tmp_path / "plot.png") as im:
            assert im.width > 600
        assert json.loads(out)["plot"] == str(tmp_path / "plot.png")


def test_plot_without_matplotlib_is_a_usage_error(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    data = voc_set(tmp_path / "set")
    code, _, err = run(["eval", data, "--plot", tmp_path / "p.png", "-q"], capsys)
    assert code == 2 and "faceless[eval]" in err


def test_otb_sequence_reports_leaks_and_tracking_fills_them(tmp_path, capsys):
    """In frames 2-4 the labelled face cannot be seen (a patch covers it), so frame by frame
    nothing is found there: a 3-frame "leak" that tracking bridges."""
    seq = tmp_path / "Walk"
    (seq / "img").mkdir(parents=True)
    frame, face = portrait_scene()
    x1, y1, x2, y2 = (round(v) for v in face)
    hidden = frame.copy()  # the face turned away: a flat patch (not a scene cut)
    hidden[y1 - 4:y2 + 4, x1 - 4:x2 + 4] = 120
    rows = []
    for i in range(6):
        Image.fromarray(hidden if i in (2, 3, 4) else frame).save(
            seq / "img" / f"{i + 1:04d}.png")
        rows.append(f"{x1:.0f},{y1:.0f},{x2 - x1:.0f},{y2 - y1:.0f}")
    (seq / "groundtruth_rect.txt").write_bytes(("\r\n".join(rows) + "\r\n").encode())
    code, out, err = run(["eval", seq, "--json", "--no-track"], capsys)
    assert code == 0, err
    s = json.loads(out)
    lk = s["kinds"]["face"]["leaks"]
    assert s["dataset"]["sequence"] and lk["object_frames"] == 6 and lk["leaked"] == 3
    assert lk["longest"]["frames"] == 3 and lk["longest"]["first_frame"] == 2
    assert not s["settings"]["tracking"] and s["sweep"]
    code, out, _ = run(["eval", seq, "--no-track", "--sweep", "none"], capsys)
    assert "longest leak 3 frames" in out and "tracking off" in out
    # Tracking (on by default, as for a video) bridges the 3-frame gap between detections.
    code, out, err = run(["eval", seq, "--json"], capsys)
    assert code == 0, err
    s = json.loads(out)
    assert s["settings"]["tracking"] and "sweep" not in s
    assert s["kinds"]["face"]["leaks"]["leaked"] == 0


def test_wider_reports_ap(tmp_path, capsys):
    root = tmp_path / "wider"
    (root / "images/0--Parade").mkdir(parents=True)
    frame, (x1, y1, x2, y2) = portrait_scene()
    Image.fromarray(frame).save(root / "images/0--Parade/a.jpg")
    (root / "wider_face_val_bbx_gt.txt").write_text(
        f"0--Parade/a.jpg\n1\n{x1:.0f} {y1:.0f} {x2 - x1:.0f} {y2 - y1:.0f} 0 0 0 0 0 0\n")
    (root / "easy_medium_hard_membership.txt").write_text(
        f"0--Parade/a.jpg 0 {x1:.0f} {y1:.0f} {x2 - x1:.0f} {y2 - y1:.0f} 1 1 1\n")
    code, out, err = run(["eval", root, "--format", "wider", "--json"], capsys)
    assert code == 0, err
    ap = json.loads(out)["wider_ap"]
    assert set(ap) == {"iou", "min_score", "easy", "medium", "hard"}
    assert all(0.0 <= ap[k] <= 1.0 for k in ("easy", "medium", "hard"))


def test_missing_data_folder_exits_2_and_names_it(tmp_path, capsys):
    code, _, err = run(["eval", tmp_path / "no-such-set", "--format", "voc"], capsys)
    assert code == 2 and "no-such-set" in err and "no such" in err


def test_wrong_format_exits_2_with_a_reason(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    code, _, err = run(["eval", tmp_path / "x", "--format", "ccpd"], capsys)
    assert code == 2 and "annotations_decoded.tsv" in err


def test_unreadable_image_exits_1_and_the_rest_is_judged(tmp_path, capsys):
    data = voc_set(tmp_path / "set")
    (data / "images/p1.png").write_bytes(b"broken")
    code, out, err = run(["eval", data, "--json", "--sweep", "none"], capsys)
    assert code == 1 and "p1.png" in err
    s = json.loads(out)
    assert s["dataset"]["judged"] == 2 and s["failures"][0]["input"].endswith("p1.png")


@pytest.mark.parametrize("extra", [["--cover", "0"], ["--sweep", "a,b"], ["--sweep", "2"],
                                   ["--format", "yolo"], ["--threshold", "5"]])
def test_bad_options_exit_2(tmp_path, capsys, extra):
    data = voc_set(tmp_path / "set")
    try:
        code = main(["eval", str(data), *extra])
    except SystemExit as e:
        code = e.code
    assert code == 2
