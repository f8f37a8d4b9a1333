"""Metadata left in a release that faceless drops: EXIF, GPS, XMP, IPTC, tags, extra streams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
from PIL import Image, IptcImagePlugin

from faceless.check.model import METADATA, Finding
from faceless.core.errors import MediaReadError
from faceless.media.video import open_input

# Pillow `info` keys that describe how pixels are stored or shown, never who or where.
_HARMLESS_IMAGE_INFO = frozenset({
    "dpi", "jfif", "jfif_version", "jfif_unit", "jfif_density", "icc_profile", "progressive",
    "progression", "adobe", "adobe_transform", "gamma", "transparency", "aspect", "srgb",
    "chromaticity", "compression", "interlace", "lossless", "loop", "duration", "background",
    "bitmap", "sizes", "version", "resolution", "photometric", "frame_count",
})  # fmt: skip
_EXIF_GPS_IFD = 0x8825
_EXIF_IFD1 = 1  # Pillow's IFD index of the thumbnail's IFD
_IDENTIFYING_EXIF = {0x927C: "maker note", 0xA430: "camera owner name",
                     0xA431: "body serial number", 0xA435: "lens serial number",
                     0x013B: "artist", 0x8298: "copyright", 0x010F: "camera make",
                     0x0110: "camera model"}
# Container and stream tags that name formats and tools, never a person, place or device.
HARMLESS_TAGS = frozenset({
    "major_brand", "minor_version", "compatible_brands", "encoder", "handler_name",
    "language", "vendor_id", "duration", "encoder_options", "_statistics_tags",
    "_statistics_writing_app", "_statistics_writing_date_utc", "number_of_frames",
    "number_of_bytes", "bps",
})  # fmt: skip


def _finding(kind: str, reason: str) -> Finding:
    return Finding(METADATA, kind, reason)


def image_metadata(path: Path) -> list[Finding]:
    """Metadata in an image file: EXIF (GPS, thumbnail and identifying tags named), XMP,
    IPTC, comments and any other text chunk."""
    try:
        with Image.open(path) as im:
            info = dict(im.info)
            exif = im.getexif()
            gps = dict(exif.get_ifd(_EXIF_GPS_IFD)) if _EXIF_GPS_IFD in exif else {}
            thumb = bool(exif.get_ifd(_EXIF_IFD1)) if hasattr(exif, "get_ifd") else False
            iptc = IptcImagePlugin.getiptcinfo(im) if im.format in ("JPEG", "TIFF") else None
            tags = {**dict(exif), **dict(exif.get_ifd(0x8769))} if len(exif) else {}
    except (OSError, SyntaxError, ValueError) as err:
        raise MediaReadError(f"{path}: cannot read its metadata ({err})") from err
    out: list[Finding] = []
    if gps:
        out.append(_finding("gps", f"EXIF GPS block with {len(gps)} field(s): the place "
                                   "the picture was taken"))
    if thumb or "thumbnail" in info:
        out.append(_finding("thumbnail", "embedded EXIF thumbnail (a small unredacted copy)"))
    for tag, name in _IDENTIFYING_EXIF.items():
        if tag in tags:
            out.append(_finding("exif", f"EXIF {name}"))
    rest = {t for t in tags if t not in _IDENTIFYING_EXIF and t not in (_EXIF_GPS_IFD, 0x8769)}
    if rest:
        out.append(_finding("exif", f"EXIF block with {len(rest)} other tag(s)"))
    if iptc:
        out.append(_finding("iptc", "IPTC block (names, places, captions)"))
    for key in sorted(info):
        if key in _HARMLESS_IMAGE_INFO or key == "exif":
            continue
        if key in ("xmp", "XML:com.adobe.xmp"):
            out.append(_finding("xmp", "XMP packet (names, places, face-region tags)"))
        elif key in ("comment", "comments"):
            out.append(_finding("comment", "comment"))
        elif key == "photoshop":
            if not iptc:
                out.append(_finding("iptc", "Photoshop/IPTC resource block"))
        else:
            out.append(_finding("tag", f"image metadata {key!r}"))
    return out


def _tags(tags: dict[str, Any], where: str) -> list[Finding]:
    return [_finding("tag", f"{where} tag {key!r}") for key in sorted(tags)
            if key.lower() not in HARMLESS_TAGS]


def video_metadata(path: Path, audio_kept: bool = False) -> list[Finding]:
    """Container and stream tags beyond HARMLESS_TAGS, audio streams (unless `audio_kept`),
    more than one video stream, cover art, subtitle, data and attachment streams."""
    try:
        # The same guarded opening as every other read: a playlist or concat list named like
        # a video is refused, never followed.
        with open_input(path) as c:
            out = _tags(dict(c.metadata), "container")
            videos = 0
            for s in c.streams:
                label = f"stream #{s.index} ({s.type})"
                if s.type == "video":
                    if s.disposition & av.stream.Disposition.attached_pic:
                        out.append(_finding("stream", f"{label}: cover art"))
                        continue
                    videos += 1
                    if videos > 1:
                        out.append(_finding("stream", f"{label}: a second video stream"))
                elif s.type == "audio":
                    if not audio_kept:
                        out.append(_finding("audio", f"{label}: audio (voices identify "
                                                     "people)"))
                else:
                    out.append(_finding("stream", f"{label}: {s.type} stream"))
                out.extend(_tags(dict(s.metadata), label))
    except av.error.FFmpegError as err:
        raise MediaReadError(f"{path}: cannot read its metadata ({err})") from err
    return out
