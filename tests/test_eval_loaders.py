"""Loaders of labelled sets, each on a tiny fixture written here, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from faceless.eval import loaders as L


def img(path, w=64, h=48):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(path)
    return path


def boxes(ds):
    return [[(o.box, o.kind, o.ignore) for o in s.objects] for s in ds.samples]


def test_wider_subsets_and_empty_images(tmp_path):
    img(tmp_path / "images/0--Parade/a.jpg")
    img(tmp_path / "images/1--Handshaking/b.jpg")
    (tmp_path / "wider_face_val_bbx_gt.txt").write_text(
        "0--Parade/a.jpg\n2\n10 20 30 40 0 0 0 0 0 0 \n1 2 3 4 2 0 0 0 0 0 \n"
        "1--Handshaking/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n")
    (tmp_path / "easy_medium_hard_membership.txt").write_text(
        "# header\n0--Parade/a.jpg 0 10 20 30 40 1 1 1\n0--Parade/a.jpg 1 1 2 3 4 0 0 0\n")
    ds = L.load(tmp_path, "wider")
    assert L.guess_format(tmp_path) == "wider"
    assert len(ds.samples) == 2 and ds.samples[1].objects == ()
    a, b = ds.samples[0].objects
    assert a.box == (10, 20, 40, 60) and not a.ignore and a.subsets == {"easy", "medium", "hard"}
    assert b.ignore and b.subsets == frozenset()
    assert L.load(tmp_path, "wider", subset="easy").samples[0].objects[0].ignore is False


def test_wider_without_membership_is_an_error(tmp_path):
    (tmp_path / "wider_face_val_bbx_gt.txt").write_text("a.jpg\n0\n0 0 0 0\n")
    with pytest.raises(L.DatasetError, match="easy/medium/hard"):
        L.load(tmp_path, "wider")


VOC = """<annotation><filename>{name}</filename>
<object><name>with_mask</name><difficult>0</difficult>
<bndbox><xmin>5</xmin><ymin>6</ymin><xmax>25</xmax><ymax>30</ymax></bndbox></object>
<object><name>car</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax><ymax>3</ymax>
</bndbox></object>
<object><name>without_mask</name><difficult>1</difficult>
<bndbox><xmin>30</xmin><ymin>6</ymin><xmax>50</xmax><ymax>30</ymax></bndbox></object>
</annotation>"""


def test_voc_every_object_is_a_face_unless_labels_filter(tmp_path):
    img(tmp_path / "images/p1.png")
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations/p1.xml").write_text(VOC.format(name="p1.png"))
    ds = L.load(tmp_path)
    assert ds.format == "voc" and ds.samples[0].image.name == "p1.png"
    assert [(o.label, o.kind, o.ignore) for o in ds.samples[0].objects] == [
        ("with_mask", "face", False), ("car", "face", False), ("without_mask", "face", True)]
    ds = L.load(tmp_path, "voc", labels=["with_mask", "without_mask"])
    assert [o.label for o in ds.samples[0].objects] == ["with_mask", "without_mask"]
    assert ds.samples[0].objects[0].box == (5, 6, 25, 30)


def test_dlib_folder_takes_each_image_once(tmp_path):
    img(tmp_path / "faces/x.jpg")
    xml = ("<?xml version='1.0'?><dataset><images><image file='x.jpg'>"
           "<box top='10' left='20' width='30' height='40'/>"
           "<box top='1' left='2' width='3' height='4' ignore='1'/></image></images></dataset>")
    (tmp_path / "faces/training.xml").write_text(xml)
    (tmp_path / "faces/training_with_landmarks.xml").write_text(xml)
    (tmp_path / "faces/style.xml").write_text("<stylesheet/>")
    ds = L.load(tmp_path, "dlib")
    assert len(ds.samples) == 1
    assert boxes(ds) == [[((20, 10, 50, 50), "face", False), ((2, 1, 5, 5), "face", True)]]


def test_openalpr_plates(tmp_path):
    img(tmp_path / "us/car1.jpg")
    (tmp_path / "us/car1.txt").write_text("car1.jpg\t-3\t20\t40\t10\tABC123\n")
    (tmp_path / "us/notes.txt").write_text("not an annotation")
    (tmp_path / "us/gone.txt").write_text("gone.jpg\t1\t2\t3\t4\tX\n")  # image missing
    ds = L.load(tmp_path, "openalpr")
    assert boxes(ds) == [[((0.0, 20, 37, 30), "plate", False)]]
    assert ds.samples[0].objects[0].label == "ABC123"


def test_ccpd_plates(tmp_path):
    img(tmp_path / "images/p.jpg")
    (tmp_path / "annotations_decoded.tsv").write_text(
        "# image\twidth\theight\tbbox\n"
        "images/p.jpg\t64\t48\t10,11,40,21\t1&2;3&4;5&6;7&8\t0_0\t100\t5\n")
    ds = L.load(tmp_path)
    assert ds.format == "ccpd" and boxes(ds) == [[((10, 11, 40, 21), "plate", False)]]


def test_mot_counts_pedestrians_and_ignores_other_people(tmp_path):
    seq = tmp_path / "train" / "SEQ-01"
    for f in (1, 2, 3):
        img(seq / "img1" / f"{f:06d}.jpg")
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SEQ-01\nimDir=img1\nframeRate=25\n"
                                     "imExt=.jpg\n")
    (seq / "gt").mkdir()
    (seq / "gt/gt.txt").write_text(
        "1,1,10,10,5,15,1,1,1.0\n2,1,11,10,5,15,1,1,0.8\n"
        "1,2,30,10,5,15,0,1,1.0\n"  # pedestrian not considered -> ignore
        "1,3,40,10,5,15,1,7,1.0\n"  # static person -> ignore
        "1,4,1,1,9,9,0,3,1.0\n"  # a car -> dropped
        "9,1,1,1,9,9,1,1,1.0\n")  # a frame without an image -> dropped
    ds = L.load(tmp_path)
    assert ds.format == "mot" and ds.is_sequence and ds.kinds() == ["person"]
    assert [(s.sequence, s.frame, s.fps) for s in ds.samples] == [
        ("SEQ-01", 1, 25.0), ("SEQ-01", 2, 25.0), ("SEQ-01", 3, 25.0)]
    f1 = ds.samples[0].objects
    assert [(o.track_id, o.ignore) for o in f1] == [(1, False), (2, True), (3, True)]
    assert f1[0].box == (10, 10, 15, 25) and ds.samples[2].objects == ()


def test_coco_categories_become_kinds(tmp_path):
    img(tmp_path / "images/a.jpg")
    doc = {"images": [{"id": 7, "file_name": "a.jpg", "width": 64, "height": 48}],
           "categories": [{"id": 1, "name": "face"}, {"id": 2, "name": "license plate"},
                          {"id": 3, "name": "dog"}],
           "annotations": [{"image_id": 7, "category_id": 1, "bbox": [1, 2, 10, 12]},
                           {"image_id": 7, "category_id": 2, "bbox": [20, 2, 10, 4]},
                           {"image_id": 7, "category_id": 1, "bbox": [40, 2, 9, 9],
                            "iscrowd": 1},
                           {"image_id": 7, "category_id": 3, "bbox": [5, 5, 5, 5]}]}
    (tmp_path / "instances_val.json").write_text(json.dumps(doc))
    ds = L.load(tmp_path)
    assert ds.format == "coco" and ds.samples[0].image == tmp_path / "images/a.jpg"
    assert boxes(ds)[0] == [((1, 2, 11, 14), "face", False), ((20, 2, 30, 6), "plate", False),
                            ((40, 2, 49, 11), "face", True), ((5, 5, 10, 10), "dog", False)]
    assert len(L.load(tmp_path, "coco", labels=["face"]).samples[0].objects) == 2


def test_otb_crlf_tabs_commas_and_missing_boxes(tmp_path):
    for i in range(1, 5):
        img(tmp_path / "Girl/img" / f"{i:04d}.jpg")
    (tmp_path / "Girl/groundtruth_rect.txt").write_bytes(
        b"57\t21\t31\t45\r\n58,22,31,43\r\n0 0 0 0\r\nNaN,NaN,NaN,NaN\r\n")
    ds = L.load(tmp_path / "Girl")
    assert ds.format == "otb" and ds.is_sequence
    assert [s.frame for s in ds.samples] == [0, 1, 2, 3]
    assert boxes(ds)[:2] == [[((57, 21, 88, 66), "face", False)],
                             [((58, 22, 89, 65), "face", False)]]
    assert ds.samples[2].objects == () and ds.samples[3].objects == ()
    assert L.load(tmp_path / "Girl", kind="head").kinds() == ["head"]


def test_missing_and_unknown(tmp_path):
    with pytest.raises(L.DatasetError, match="nope"):
        L.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(L.DatasetError, match="cannot tell its format"):
        L.load(tmp_path / "empty")
    with pytest.raises(L.DatasetError, match="annotations"):
        L.load(tmp_path / "empty", "voc")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/groundtruth_rect.txt").write_text("1 2 3 4\n")
    with pytest.raises(L.DatasetError, match="img"):
        L.load(tmp_path / "bad", "otb")
    (tmp_path / "bad/img").mkdir()
    img(tmp_path / "bad/img/0001.jpg")
    (tmp_path / "bad/groundtruth_rect.txt").write_text("one two three four\n")
    with pytest.raises(L.DatasetError, match="line 1"):
        L.load(tmp_path / "bad", "otb")
    # A DatasetError is a ConfigError: the CLI maps it to exit 2.
    from faceless.core.errors import ConfigError

    assert issubclass(L.DatasetError, ConfigError)


def test_limited(tmp_path):
    for i in range(1, 4):
        img(tmp_path / "img" / f"{i:04d}.jpg")
    (tmp_path / "groundtruth_rect.txt").write_text("1 1 5 5\n" * 3)
    assert len(L.load(tmp_path).limited(2).samples) == 2
    assert len(L.load(tmp_path).limited(0).samples) == 3
