"""Readers for labelled image sets and frame sequences, all turned into one Dataset type.

Every loader converts its format's boxes to float xyxy pixels (DESIGN.md: convert only at the
edges) and tags each labelled object with a kind (face, plate, person, head). An object marked
`ignore` is neither a hit nor a miss (WIDER faces outside the chosen subset, MOT persons that
the benchmark does not count, crowd boxes), but still counts as "labelled" when over-redaction
and false regions are judged.

One module, over the usual size: one short loader per format, sharing the parsing helpers.
"""

from __future__ import annotations

import configparser
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from faceless.core.errors import ConfigError
from faceless.core.types import Box

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
WIDER_SUBSETS = ("easy", "medium", "hard")


class DatasetError(ConfigError):
    """A labelled set is missing, of another format, or malformed (the CLI exits 2)."""


@dataclass(frozen=True)
class Obj:
    """One labelled object in one image or frame."""

    box: Box  # x1, y1, x2, y2 float pixels
    kind: str = "face"
    label: str = ""
    ignore: bool = False
    track_id: int | None = None
    subsets: frozenset[str] = frozenset()  # WIDER: the subsets (easy/medium/hard) it is in

    @property
    def short_side(self) -> float:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


@dataclass(frozen=True)
class Sample:
    """One image (or one frame of a sequence) and what is labelled in it."""

    image: Path
    objects: tuple[Obj, ...] = ()
    sequence: str = ""  # name of the frame sequence, "" for a plain image
    frame: int = 0  # index of the frame in its sequence (consecutive frames differ by 1)
    fps: float | None = None


@dataclass(frozen=True)
class Dataset:
    """A labelled set: images, or frame sequences kept in order."""

    format: str
    root: Path
    samples: tuple[Sample, ...]
    is_sequence: bool = False
    notes: tuple[str, ...] = field(default=())

    def kinds(self) -> list[str]:
        return sorted({o.kind for s in self.samples for o in s.objects})

    def limited(self, n: int) -> Dataset:
        """The first n samples (0 keeps all)."""
        return self if n <= 0 else replace(self, samples=self.samples[:n])


def _xywh(x: float, y: float, w: float, h: float) -> Box:
    return (x, y, x + w, y + h)


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(f"{path}: no such {what}")
    return path


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise DatasetError(f"{path}: cannot read it ({err.strerror or err})") from err


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise DatasetError(f"{path}: not readable XML ({err})") from err


def _find_image(folder: Path, name: str) -> Path | None:
    p = folder / name
    if p.is_file():
        return p
    for suffix in IMAGE_SUFFIXES:
        q = folder / (Path(name).stem + suffix)
        if q.is_file():
            return q
    return None


# --------------------------------------------------------------------------- WIDER FACE


def load_wider(root: Path, subset: str = "hard") -> Dataset:
    """WIDER FACE: wider_face_val_bbx_gt.txt, images/, and the subset membership.

    Membership comes from easy_medium_hard_membership.txt (path, face index, x y w h, in_easy,
    in_medium, in_hard) or, without it, from ground_truth_mat/wider_{subset}_val.mat (needs
    scipy). Faces outside `subset` are marked ignore, as the official evaluation does.
    """
    if subset not in WIDER_SUBSETS:
        raise DatasetError(f"WIDER subset must be one of {', '.join(WIDER_SUBSETS)}, "
                           f"got {subset!r}")
    gt_file = next(iter(sorted(root.glob("wider_face_*_bbx_gt.txt"))), None)
    if gt_file is None:
        raise DatasetError(f"{root}: no wider_face_*_bbx_gt.txt (is this a WIDER FACE folder?)")
    member = _wider_membership(root)
    lines = _read_text(gt_file).splitlines()
    samples: list[Sample] = []
    i = 0
    try:
        while i < len(lines):
            name = lines[i].strip()
            if not name:
                i += 1
                continue
            n = int(lines[i + 1])
            rows = lines[i + 2 : i + 2 + n]
            i += 2 + max(n, 1)  # an image without faces still has one row of zeros
            objs = []
            for k, row in enumerate(rows):
                x, y, w, h = (float(v) for v in row.split()[:4])
                subsets = member.get(name, {}).get(k, frozenset())
                objs.append(Obj(_xywh(x, y, w, h), "face", "face", subset not in subsets,
                                subsets=subsets))
            samples.append(Sample(root / "images" / name, tuple(objs)))
    except (ValueError, IndexError) as err:
        raise DatasetError(f"{gt_file}: malformed near line {i + 1} ({err})") from err
    return Dataset("wider", root, tuple(samples))


def _wider_membership(root: Path) -> dict[str, dict[int, frozenset[str]]]:
    txt = root / "easy_medium_hard_membership.txt"
    out: dict[str, dict[int, frozenset[str]]] = {}
    if txt.is_file():
        for line in _read_text(txt).splitlines():
            if line.startswith("#") or not line.strip():
                continue
            f = line.split()
            try:
                out.setdefault(f[0], {})[int(f[1])] = frozenset(
                    s for s, flag in zip(WIDER_SUBSETS, f[6:9], strict=True) if flag == "1")
            except (ValueError, IndexError) as err:
                raise DatasetError(f"{txt}: malformed line {line!r}") from err
        return out
    mats = root / "ground_truth_mat"
    if mats.is_dir():
        return _wider_membership_mat(mats)
    raise DatasetError(f"{root}: no easy_medium_hard_membership.txt and no ground_truth_mat/ "
                       "folder: the easy/medium/hard subsets are unknown")


def _wider_membership_mat(folder: Path) -> dict[str, dict[int, frozenset[str]]]:
    """Subset membership from the official evaluation's .mat files (needs scipy)."""
    try:
        from scipy.io import loadmat
    except ImportError as err:
        raise DatasetError(f"{folder}: reading the WIDER .mat ground truth needs scipy "
                           "(pip install 'faceless[eval]'), or provide "
                           "easy_medium_hard_membership.txt") from err
    out: dict[str, dict[int, set[str]]] = {}
    for subset in WIDER_SUBSETS:
        mat = loadmat(str(_need(folder / f"wider_{subset}_val.mat", "file")))
        for ev, files, keeps in zip(mat["event_list"], mat["file_list"], mat["gt_list"],
                                    strict=True):
            event = str(ev[0][0])
            for fname, keep in zip(files[0], keeps[0], strict=True):
                name = f"{event}/{fname[0][0]}.jpg"
                per = out.setdefault(name, {})
                for idx in keep[0].reshape(-1):
                    per.setdefault(int(idx) - 1, set()).add(subset)  # 1-based in MATLAB
    return {n: {k: frozenset(v) for k, v in d.items()} for n, d in out.items()}


# --------------------------------------------------------------------------- Pascal VOC


def load_voc(root: Path, labels: Iterable[str] | None = None, kind: str = "face") -> Dataset:
    """Pascal VOC XML: annotations/*.xml and images/; every object is `kind` unless filtered.

    `labels` keeps only objects with those names (others are dropped); `difficult` objects are
    ignored, as in the VOC evaluation.
    """
    ann = root / "annotations"
    if not ann.is_dir():
        ann = root / "Annotations"
    _need(ann, "folder (Pascal VOC sets keep their XML in annotations/)")
    imgs = next((root / d for d in ("images", "JPEGImages") if (root / d).is_dir()), root)
    keep = set(labels) if labels else None
    samples = []
    for xml in sorted(ann.glob("*.xml"), key=_natural):
        tree = _parse_xml(xml)
        fname = tree.findtext("filename") or f"{xml.stem}.jpg"
        img = _find_image(imgs, fname) or _find_image(imgs, xml.stem) or imgs / fname
        objs = []
        for o in tree.iter("object"):
            name = (o.findtext("name") or "").strip()
            if keep is not None and name not in keep:
                continue
            b = o.find("bndbox")
            if b is None:
                continue
            try:
                x1, y1, x2, y2 = (float(b.findtext(k) or "nan") for k in
                                  ("xmin", "ymin", "xmax", "ymax"))
            except ValueError as err:
                raise DatasetError(f"{xml}: a bndbox that is not four numbers") from err
            objs.append(Obj((x1, y1, x2, y2), kind, name,
                            (o.findtext("difficult") or "0").strip() == "1"))
        samples.append(Sample(img, tuple(objs)))
    if not samples:
        raise DatasetError(f"{ann}: no .xml annotations")
    return Dataset("voc", root, tuple(samples))


# --------------------------------------------------------------------------- dlib


def load_dlib(root: Path, kind: str = "face") -> Dataset:
    """dlib imglab XML (`<image file><box top left width height [ignore]>`): one file, or
    every such file under a folder (an image listed twice is taken once)."""
    files = [root] if root.is_file() else sorted(root.rglob("*.xml"))
    samples: list[Sample] = []
    seen: set[Path] = set()
    for xml in files:
        tree = _parse_xml(xml)
        if tree.tag != "dataset" or tree.find("images") is None:
            continue
        for img in tree.iter("image"):
            path = (xml.parent / img.get("file", "")).resolve()
            if path in seen:
                continue
            seen.add(path)
            objs = []
            for b in img.iter("box"):
                try:
                    box = _xywh(float(b.get("left", "")), float(b.get("top", "")),
                                float(b.get("width", "")), float(b.get("height", "")))
                except ValueError as err:
                    raise DatasetError(f"{xml}: a <box> without numeric top/left/width/height"
                                       ) from err
                objs.append(Obj(box, kind, b.findtext("label") or kind,
                                b.get("ignore", "0") == "1"))
            samples.append(Sample(xml.parent / img.get("file", ""), tuple(objs)))
    if not samples:
        raise DatasetError(f"{root}: no dlib XML (<dataset><images>) found")
    return Dataset("dlib", root, tuple(samples))


# --------------------------------------------------------------------------- plates


def load_openalpr(root: Path, kind: str = "plate") -> Dataset:
    """OpenALPR benchmark: one `.txt` per image, `filename<TAB>x<TAB>y<TAB>w<TAB>h<TAB>text`."""
    samples = []
    for txt in sorted(root.rglob("*.txt"), key=_natural):
        f = re.split(r"\t", _read_text(txt).strip())
        if len(f) < 5:
            continue  # not an annotation (a licence or a readme)
        try:
            x, y, w, h = (float(v) for v in f[1:5])
        except ValueError:
            continue
        img = txt.parent / f[0]
        if img.is_file():
            samples.append(Sample(img, (Obj((max(x, 0.0), y, x + w, y + h), kind,
                                            f[5] if len(f) > 5 else ""),)))
    if not samples:
        raise DatasetError(f"{root}: no OpenALPR annotations (image.txt beside image.jpg)")
    return Dataset("openalpr", root, tuple(samples))


def load_ccpd(root: Path, kind: str = "plate") -> Dataset:
    """CCPD decoded: annotations_decoded.tsv, `image  width  height  x1,y1,x2,y2  ...`."""
    tsv = _need(root / "annotations_decoded.tsv", "file (CCPD sets list their boxes there)")
    samples = []
    for n, line in enumerate(_read_text(tsv).splitlines(), 1):
        if line.startswith("#") or not line.strip():
            continue
        f = line.split("\t")
        try:
            x1, y1, x2, y2 = (float(v) for v in f[3].split(","))
        except (ValueError, IndexError) as err:
            raise DatasetError(f"{tsv}: line {n} has no x1,y1,x2,y2 box") from err
        samples.append(Sample(root / f[0], (Obj((x1, y1, x2, y2), kind, "plate"),)))
    return Dataset("ccpd", root, tuple(samples))


# --------------------------------------------------------------------------- sequences

# MOT classes: 1 pedestrian (counted when its `consider` flag is 1), 2 person on vehicle,
# 7 static person, 8 distractor, 12 reflection: people the benchmark does not count.
MOT_COUNTED, MOT_IGNORED = {1}, {1, 2, 7, 8, 12}


def load_mot(root: Path, kind: str = "person") -> Dataset:
    """MOTChallenge: SEQ/gt/gt.txt (`frame,id,x,y,w,h,consider,class,visibility`), SEQ/img1/.

    `root` is one sequence or a folder holding several. Pedestrians (class 1, consider 1)
    count; other people (static, on a vehicle, distractors, reflections) are ignored; vehicles
    and objects are dropped.
    """
    gts = [root / "gt" / "gt.txt"] if (root / "gt" / "gt.txt").is_file() else sorted(
        root.rglob("gt/gt.txt"))
    if not gts:
        raise DatasetError(f"{root}: no gt/gt.txt (is this a MOTChallenge sequence?)")
    samples: list[Sample] = []
    for gt in gts:
        seq = gt.parent.parent
        info = configparser.ConfigParser()
        if (seq / "seqinfo.ini").is_file():
            info.read(seq / "seqinfo.ini")
        s = info["Sequence"] if info.has_section("Sequence") else {}
        fps = float(s.get("frameRate", 0)) or None
        img_dir = seq / s.get("imDir", "img1")
        ext = s.get("imExt", ".jpg")
        per_frame: dict[int, list[Obj]] = {}
        for n, line in enumerate(_read_text(gt).splitlines(), 1):
            if not line.strip():
                continue
            f = line.replace(" ", "").split(",")
            try:
                frame, tid = int(float(f[0])), int(float(f[1]))
                box = _xywh(*(float(v) for v in f[2:6]))
                consider = float(f[6]) if len(f) > 6 else 1.0
                cls = int(float(f[7])) if len(f) > 7 and float(f[7]) >= 0 else 1
            except (ValueError, IndexError) as err:
                raise DatasetError(f"{gt}: line {n} is not frame,id,x,y,w,h,...") from err
            if cls not in MOT_IGNORED:
                continue
            counted = cls in MOT_COUNTED and consider > 0
            per_frame.setdefault(frame, []).append(
                Obj(box, kind, "pedestrian" if cls == 1 else f"class {cls}", not counted, tid))
        frames = sorted(int(p.stem) for p in img_dir.glob(f"*{ext}") if p.stem.isdigit())
        if not frames:
            raise DatasetError(f"{img_dir}: no frames (*{ext})")
        width = len(next(img_dir.glob(f"*{ext}")).stem)
        for fr in frames:
            samples.append(Sample(img_dir / f"{fr:0{width}d}{ext}", tuple(per_frame.get(fr, [])),
                                  seq.name, fr, fps))
    return Dataset("mot", root, tuple(samples), is_sequence=True)


def load_otb(root: Path, kind: str = "face") -> Dataset:
    """OTB: groundtruth_rect.txt (`x y w h` per frame; tabs, commas or spaces; CRLF) and
    img/ with the frames in name order. A frame whose box is empty or NaN has no object."""
    gt = root / "groundtruth_rect.txt"
    if not gt.is_file():
        gt = next(iter(sorted(root.glob("groundtruth_rect*.txt"))), gt)
    _need(gt, "file (OTB sequences keep their boxes in groundtruth_rect.txt)")
    img_dir = _need(root / "img", "folder (OTB sequences keep their frames in img/)")
    frames = sorted((p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                    key=_natural)
    rows = [r for r in _read_text(gt).splitlines() if r.strip()]
    samples = []
    for i, (img, row) in enumerate(zip(frames, rows, strict=False)):
        try:
            x, y, w, h = (float(v) for v in re.split(r"[\s,]+", row.strip())[:4])
        except ValueError as err:
            raise DatasetError(f"{gt}: line {i + 1} is not four numbers: {row!r}") from err
        ok = all(math.isfinite(v) for v in (x, y, w, h)) and w > 0 and h > 0
        objs = (Obj(_xywh(x, y, w, h), kind, root.name, track_id=0),) if ok else ()
        samples.append(Sample(img, objs, root.name, i))
    if not samples:
        raise DatasetError(f"{root}: no frames with boxes")
    return Dataset("otb", root, tuple(samples), is_sequence=True)


# --------------------------------------------------------------------------- COCO

COCO_KINDS = {"face": "face", "head": "head", "person": "person", "license plate": "plate",
              "license_plate": "plate", "licence plate": "plate", "plate": "plate"}


def load_coco(root: Path, labels: Iterable[str] | None = None) -> Dataset:
    """COCO instances JSON (a file, or the one under a folder or its annotations/).

    A category's kind follows its name (face, head, person, plate; anything else keeps its
    name); `labels` keeps only those category names. Crowd boxes are ignored.
    """
    js = root if root.is_file() else None
    if js is None:
        cands = sorted(root.glob("*.json")) + sorted(root.glob("annotations/*.json"))
        pref = [c for c in cands if "instances" in c.name] or cands
        if not pref:
            raise DatasetError(f"{root}: no COCO instances .json")
        js = pref[0]
    try:
        doc = json.loads(_read_text(js))
        cats = {c["id"]: c["name"] for c in doc.get("categories", [])}
        images = {im["id"]: im["file_name"] for im in doc["images"]}
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise DatasetError(f"{js}: not a COCO instances file ({err})") from err
    keep = set(labels) if labels else None
    per: dict[object, list[Obj]] = {k: [] for k in images}
    for a in doc.get("annotations", []):
        name = cats.get(a.get("category_id"), "object")
        if keep is not None and name not in keep:
            continue
        x, y, w, h = (float(v) for v in a["bbox"])
        kind = COCO_KINDS.get(name.lower(), name.lower())
        per.setdefault(a["image_id"], []).append(
            Obj(_xywh(x, y, w, h), kind, name, bool(a.get("iscrowd", 0) or a.get("ignore", 0))))
    base = js.parent
    folders = [base / "images", base, base.parent / "images", base.parent]
    samples = []
    for iid, fname in images.items():
        img = next((f / fname for f in folders if (f / fname).is_file()), base / fname)
        samples.append(Sample(img, tuple(per.get(iid, []))))
    return Dataset("coco", root, tuple(samples))


# --------------------------------------------------------------------------- dispatch


def _natural(p: Path) -> list[object]:
    """Sort key that puts img2 before img10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


LOADERS: dict[str, Callable[..., Dataset]] = {
    "wider": load_wider, "voc": load_voc, "dlib": load_dlib, "openalpr": load_openalpr,
    "ccpd": load_ccpd, "mot": load_mot, "coco": load_coco, "otb": load_otb,
}
FORMATS = tuple(LOADERS)


def guess_format(root: Path) -> str:
    """The format of a labelled set from the files it holds, or DatasetError."""
    if root.is_file():
        if root.suffix == ".json":
            return "coco"
        if root.suffix == ".xml":
            return "dlib"
    elif any(root.glob("wider_face_*_bbx_gt.txt")):
        return "wider"
    elif any((root / "annotations").glob("*.xml")) or (root / "Annotations").is_dir():
        return "voc"
    elif (root / "annotations_decoded.tsv").is_file():
        return "ccpd"
    elif (root / "groundtruth_rect.txt").is_file():
        return "otb"
    elif any(p.parent.name == "gt" for p in root.rglob("gt.txt")):
        return "mot"
    elif any(root.glob("*.json")) or any(root.glob("annotations/*.json")):
        return "coco"
    elif any(root.rglob("*.xml")):
        return "dlib"
    elif any(root.rglob("*.txt")):
        return "openalpr"
    raise DatasetError(f"{root}: cannot tell its format; pass --format")


def load(root: Path, fmt: str | None = None, *, subset: str = "hard",
         labels: Iterable[str] | None = None, kind: str | None = None) -> Dataset:
    """Load a labelled set in `fmt` (guessed from its files when None).

    `kind` relabels every object (say `head` for an OTB head box); `labels` filters VOC and
    COCO objects by name; `subset` picks the WIDER subset that counts.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such file or folder")
    fmt = fmt or guess_format(root)
    if fmt not in LOADERS:
        raise DatasetError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt == "wider":
        ds = load_wider(root, subset)
    elif fmt in ("voc", "coco"):
        ds = LOADERS[fmt](root, labels=list(labels) if labels else None)
    else:
        ds = LOADERS[fmt](root)
    if kind:
        ds = replace(ds, samples=tuple(
            replace(s, objects=tuple(replace(o, kind=kind) for o in s.objects))
            for s in ds.samples))
    return ds


__all__ = [
    "FORMATS",
    "Dataset",
    "DatasetError",
    "Obj",
    "Sample",
    "guess_format",
    "load",
    "load_ccpd",
    "load_coco",
    "load_dlib",
    "load_mot",
    "load_openalpr",
    "load_otb",
    "load_voc",
    "load_wider",
]
