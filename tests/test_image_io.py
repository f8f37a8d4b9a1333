"""Tests for faceless.media.image: orientation, colour modes, metadata stripping, errors."""

from __future__ import annotations

import errno
import io
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, JpegImagePlugin, PngImagePlugin

from faceless.core.errors import (
    ConfigError,
    ImageTooLargeError,
    MediaReadError,
    MediaWriteError,
    UnsupportedFormatError,
)
from faceless.media import image as image_module
from faceless.media.image import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageOptions,
    LoadedImage,
    read_image,
    write_image,
)

RED = (255, 0, 0)
GREEN = (0, 255, 0)
XMP_NS = b"http://ns.adobe.com/xap"
XMP = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Label="SECRET-XMP"/>'
    '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
SECRETS = (
    b"SECRET-DATUM",  # GPS IFD
    b"THUMB-MARKER",  # embedded thumbnail
    b"SECRET-XMP",
    b"SECRET-COMMENT",
    b"SECRET-IPTC",
    b"SERIAL-12345",  # BodySerialNumber
    b"MAKERNOTE-BLOB",
)


# --- builders ---------------------------------------------------------------------------------


def _ifd(entries: list[tuple[int, int, int, bytes]], start: int, next_ifd: int) -> bytes:
    """One little-endian TIFF IFD placed at `start`, followed by its out-of-line values."""
    head = struct.pack("<H", len(entries))
    data = b""
    data_start = start + 2 + 12 * len(entries) + 4
    for tag, kind, count, payload in sorted(entries):
        if len(payload) <= 4:
            head += struct.pack("<HHI", tag, kind, count) + payload.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, kind, count, data_start + len(data))
            data += payload + b"\0" * (len(payload) % 2)
    return head + struct.pack("<I", next_ifd) + data


def _ascii(tag: int, text: str) -> tuple[int, int, int, bytes]:
    raw = text.encode() + b"\0"
    return (tag, 2, len(raw), raw)


def _short(tag: int, value: int) -> tuple[int, int, int, bytes]:
    return (tag, 3, 1, struct.pack("<H", value))


def _long(tag: int, value: int) -> tuple[int, int, int, bytes]:
    return (tag, 4, 1, struct.pack("<I", value))


def _exif_block(orientation: int = 1) -> bytes:
    """EXIF written by hand (not by Pillow) with a GPS IFD, identifying tags and a thumbnail."""
    thumb = io.BytesIO()
    Image.new("RGB", (8, 8), (9, 9, 9)).save(thumb, "JPEG", comment=b"THUMB-MARKER")
    thumbnail = thumb.getvalue()
    ifd0 = [_ascii(0x010F, "FacelessCam"), _short(0x0112, orientation)]
    pointers = [_long(0x8769, 0), _long(0x8825, 0)]
    exif_ifd = [
        _ascii(0x9003, "2024:01:02 03:04:05"),  # DateTimeOriginal
        _ascii(0xA431, "SERIAL-12345"),  # BodySerialNumber
        (0x927C, 7, 14, b"MAKERNOTE-BLOB"),  # MakerNote
    ]
    gps_ifd = [(0x0000, 1, 4, bytes([2, 3, 0, 0])), _ascii(0x0012, "SECRET-DATUM")]
    ifd1 = [_short(0x0103, 6), _long(0x0201, 0), _long(0x0202, len(thumbnail))]
    # Sizes do not depend on the pointer values, so lay out once with zeros, then for real.
    at_exif = 8 + len(_ifd(ifd0 + pointers, 0, 0))
    at_gps = at_exif + len(_ifd(exif_ifd, 0, 0))
    at_ifd1 = at_gps + len(_ifd(gps_ifd, 0, 0))
    at_thumb = at_ifd1 + len(_ifd(ifd1, 0, 0))
    pointers = [_long(0x8769, at_exif), _long(0x8825, at_gps)]
    ifd1 = [_short(0x0103, 6), _long(0x0201, at_thumb), _long(0x0202, len(thumbnail))]
    tiff = (
        b"II*\0"
        + struct.pack("<I", 8)
        + _ifd(ifd0 + pointers, 8, at_ifd1)
        + _ifd(exif_ifd, at_exif, 0)
        + _ifd(gps_ifd, at_gps, 0)
        + _ifd(ifd1, at_ifd1, 0)
        + thumbnail
    )
    return b"Exif\0\0" + tiff


def _with_iptc(jpeg: bytes) -> bytes:
    """Insert an APP13 Photoshop/IPTC segment right after SOI (Pillow cannot write one)."""
    iptc = b"\x1c\x02\x78" + struct.pack(">H", 11) + b"SECRET-IPTC"  # 2:120 caption
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\0\0" + struct.pack(">I", len(iptc)) + iptc
    body = b"Photoshop 3.0\0" + resource + b"\0" * (len(iptc) % 2)
    return jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def _png_chunks(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def _raw_png(path: Path, width: int, height: int, depth: int, colour: int, rows: bytes) -> Path:
    """A PNG written by hand, for layouts Pillow cannot save (16-bit RGB, a lying header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _noise(height: int = 24, width: int = 32, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def _gradient(height: int = 64, width: int = 96) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack((x * 255 // width, y * 255 // height, (x + y) % 256)).astype(np.uint8)


def _marked(height: int = 2, width: int = 4) -> np.ndarray:
    """Black image with red at the stored top-left and green at the stored top-right."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[0, 0] = RED
    pixels[0, -1] = GREEN
    return pixels


def _loaded(path: Path, pixels: np.ndarray, alpha: np.ndarray | None = None) -> LoadedImage:
    return LoadedImage(path, pixels, alpha, "PNG", None, None)


# --- constants and options --------------------------------------------------------------------


def test_public_constants_and_defaults() -> None:
    assert isinstance(IMAGE_EXTENSIONS, frozenset)
    assert sorted(IMAGE_EXTENSIONS) == [".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"]
    assert DEFAULT_MAX_PIXELS == 250_000_000
    options = ImageOptions()
    assert (options.quality, options.keep_metadata, options.max_pixels) == (95, False, 250_000_000)


@pytest.mark.parametrize("kwargs", [{"quality": 0}, {"quality": 101}, {"max_pixels": 0}])
def test_invalid_options_raise_config_error(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        ImageOptions(**kwargs)


def test_import_changes_no_pillow_global_state() -> None:
    code = (
        "import warnings\n"
        "import numpy\n"
        "from PIL import Image, ImageFile\n"
        "before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, warnings.filters[:])\n"
        "import faceless.media.image\n"
        "after = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, warnings.filters[:])\n"
        "assert before == after, (before, after)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# --- reading: orientation and colour modes ----------------------------------------------------

# Where the stored top-left (red) and top-right (green) pixels of a 2x4 image must appear once
# displayed, derived from the EXIF 2.3 definitions ("row 0 is the visual right side", ...).
ORIENTATIONS = {
    1: ((2, 4), (0, 0), (0, 3)),
    2: ((2, 4), (0, 3), (0, 0)),
    3: ((2, 4), (1, 3), (1, 0)),
    4: ((2, 4), (1, 0), (1, 3)),
    5: ((4, 2), (0, 0), (3, 0)),
    6: ((4, 2), (0, 1), (3, 1)),
    7: ((4, 2), (3, 1), (0, 1)),
    8: ((4, 2), (3, 0), (0, 0)),
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / "o.png"
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    Image.fromarray(_marked()).save(path, exif=exif.tobytes())

    loaded = read_image(path)

    shape, red_at, green_at = ORIENTATIONS[orientation]
    assert loaded.pixels.shape == (*shape, 3)
    assert tuple(loaded.pixels[red_at]) == RED
    assert tuple(loaded.pixels[green_at]) == GREEN
    assert int(loaded.pixels.sum()) == 2 * 255  # nothing else changed


@pytest.mark.parametrize(("orientation", "block_centre"), [(6, (3, 28)), (8, (60, 3))])
def test_exif_orientation_jpeg(
    tmp_path: Path, orientation: int, block_centre: tuple[int, int]
) -> None:
    # Stored 64 wide x 32 high with an 8x8 red block (JPEG keeps it) in the top-left corner;
    # displayed it is 32 wide x 64 high, the block top-right (6) or bottom-left (8).
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:8, :8] = RED
    path = tmp_path / "o.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=_exif_block(orientation))

    loaded = read_image(path)

    assert loaded.pixels.shape == (64, 32, 3)
    assert loaded.format == "JPEG"
    assert np.abs(loaded.pixels[block_centre].astype(int) - RED).max() < 20
    assert int(loaded.pixels[block_centre[0], 31 - block_centre[1]].max()) < 20


def test_rgb_pixels_are_contiguous_uint8(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(_noise()).save(path)
    loaded = read_image(path)
    assert loaded.pixels.dtype == np.uint8
    assert loaded.pixels.flags.c_contiguous
    assert loaded.alpha is None
    assert loaded.format == "PNG"
    assert loaded.path == path
    np.testing.assert_array_equal(loaded.pixels, _noise())


def test_grayscale_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "l.png"
    Image.new("L", (5, 3), 77).save(path)
    loaded = read_image(path)
    assert loaded.pixels.shape == (3, 5, 3)
    assert (loaded.pixels == 77).all()
    assert loaded.alpha is None


def test_grayscale_alpha_keeps_alpha(tmp_path: Path) -> None:
    path = tmp_path / "la.png"
    Image.new("LA", (5, 3), (200, 50)).save(path)
    loaded = read_image(path)
    assert (loaded.pixels == 200).all()
    assert loaded.alpha is not None
    assert loaded.alpha.shape == (3, 5)
    assert (loaded.alpha == 50).all()


def test_palette_with_transparency_keeps_alpha(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    im = Image.new("P", (4, 1))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putdata([0, 1, 1, 0])
    im.save(path, transparency=1)
    loaded = read_image(path)
    assert loaded.pixels[0, 0].tolist() == list(RED)
    assert loaded.alpha is not None
    assert loaded.alpha.tolist() == [[255, 0, 0, 255]]


def test_rgba_splits_alpha(tmp_path: Path) -> None:
    rgba = _noise(channels=4)
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(path)
    loaded = read_image(path)
    np.testing.assert_array_equal(loaded.pixels, rgba[:, :, :3])
    assert loaded.alpha is not None
    assert loaded.alpha.flags.c_contiguous
    np.testing.assert_array_equal(loaded.alpha, rgba[:, :, 3])


def test_16_bit_grayscale_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "g16.png"
    Image.fromarray(np.array([[0, 257, 32768, 65535]], np.uint16)).save(path)
    assert Image.open(path).mode == "I;16"
    loaded = read_image(path)
    assert loaded.pixels[:, :, 0].tolist() == [[0, 1, 128, 255]]
    assert (loaded.pixels[:, :, 0] == loaded.pixels[:, :, 2]).all()


def test_16_bit_rgb_png_becomes_8_bit(tmp_path: Path) -> None:
    row = np.array([[0, 257, 65535], [65535, 32768, 0]], ">u2").tobytes()
    path = _raw_png(tmp_path / "rgb16.png", 2, 1, 16, 2, b"\0" + row)
    loaded = read_image(path)
    assert loaded.pixels.dtype == np.uint8
    assert loaded.pixels.tolist() == [[[0, 1, 255], [255, 128, 0]]]


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    loaded = read_image(path)
    assert loaded.pixels.shape == (16, 16, 3)
    assert np.abs(loaded.pixels.astype(int) - (0, 255, 255)).max() < 8
    assert loaded.icc_profile is None


def test_single_frame_gif_is_read(tmp_path: Path) -> None:
    path = tmp_path / "still.gif"
    Image.fromarray(_marked()).save(path)
    loaded = read_image(path)
    assert loaded.format == "GIF"
    assert tuple(loaded.pixels[0, 0]) == RED


def test_multi_picture_jpeg_reads_primary_image(tmp_path: Path) -> None:
    path = tmp_path / "mpo.jpg"
    first, preview = Image.new("RGB", (32, 16), RED), Image.new("RGB", (32, 16), GREEN)
    first.save(path, "MPO", save_all=True, append_images=[preview], quality=95)
    assert Image.open(path).format == "MPO"
    loaded = read_image(path)
    assert loaded.format == "JPEG"
    assert np.abs(loaded.pixels.astype(int) - RED).max() < 10


# --- writing: formats, quality, alpha ---------------------------------------------------------


def test_png_round_trip_is_lossless_with_alpha(tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    Image.fromarray(_noise(channels=4)).save(src)
    loaded = read_image(src)
    out = tmp_path / "out.png"
    write_image(out, loaded.pixels, loaded)
    again = read_image(out)
    np.testing.assert_array_equal(again.pixels, loaded.pixels)
    assert again.alpha is not None
    assert loaded.alpha is not None
    np.testing.assert_array_equal(again.alpha, loaded.alpha)


def test_jpeg_defaults_quality_95_and_no_chroma_subsampling(tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    Image.fromarray(_gradient()).save(src)
    loaded = read_image(src)
    out = tmp_path / "out.jpg"
    write_image(out, loaded.pixels, loaded)

    with Image.open(out) as written:
        assert written.format == "JPEG"
        assert JpegImagePlugin.get_sampling(written) == 0  # 4:4:4
        reference = io.BytesIO()
        Image.fromarray(_gradient()).save(reference, "JPEG", quality=95, subsampling=0)
        assert written.quantization == Image.open(reference).quantization
    diff = np.abs(read_image(out).pixels.astype(int) - loaded.pixels)
    assert diff.mean() < 1.5
    assert diff.max() < 16


def test_jpeg_quality_option_is_used(tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    Image.fromarray(_gradient()).save(src)
    loaded = read_image(src)
    out = tmp_path / "out.jpg"
    write_image(out, loaded.pixels, loaded, ImageOptions(quality=40))
    reference = io.BytesIO()
    Image.fromarray(_gradient()).save(reference, "JPEG", quality=40, subsampling=0)
    assert Image.open(out).quantization == Image.open(reference).quantization


def test_solid_fill_keeps_hard_edges_in_jpeg(tmp_path: Path) -> None:
    pixels = np.full((32, 32, 3), 255, np.uint8)
    pixels[8:16, 8:16] = (0, 0, 0)
    pixels[16:24, 8:16] = (255, 0, 0)
    out = tmp_path / "out.jpg"
    write_image(out, pixels, _loaded(out, pixels))
    back = read_image(out).pixels.astype(int)
    assert np.abs(back - pixels).max() < 24  # 4:2:0 would smear red into white by far more


def test_webp_is_lossless_for_a_png_source(tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    Image.fromarray(_noise(channels=4)).save(src)
    loaded = read_image(src)
    out = tmp_path / "out.webp"
    write_image(out, loaded.pixels, loaded)
    assert b"VP8L" in out.read_bytes()[:64]
    again = read_image(out)
    assert again.format == "WEBP"
    assert loaded.alpha is not None
    assert again.alpha is not None
    np.testing.assert_array_equal(again.alpha, loaded.alpha)
    visible = loaded.alpha > 0  # lossless WebP may rewrite colours under alpha 0
    np.testing.assert_array_equal(again.pixels[visible], loaded.pixels[visible])


def test_webp_is_lossy_at_quality_for_a_jpeg_source(tmp_path: Path) -> None:
    src = tmp_path / "src.jpg"
    Image.fromarray(_gradient()).save(src, quality=95)
    loaded = read_image(src)
    out = tmp_path / "out.webp"
    write_image(out, loaded.pixels, loaded)
    assert b"VP8 " in out.read_bytes()[:64]
    assert np.abs(read_image(out).pixels.astype(int) - loaded.pixels).mean() < 3


def test_tiff_is_lzw_and_lossless_with_alpha(tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    Image.fromarray(_noise(channels=4)).save(src)
    loaded = read_image(src)
    out = tmp_path / "out.tif"
    write_image(out, loaded.pixels, loaded)
    with Image.open(out) as written:
        assert written.format == "TIFF"
        assert written.info["compression"] == "tiff_lzw"
    again = read_image(out)
    np.testing.assert_array_equal(again.pixels, loaded.pixels)
    assert again.alpha is not None
    assert loaded.alpha is not None
    np.testing.assert_array_equal(again.alpha, loaded.alpha)


def test_bmp_is_plain_rgb(tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    Image.fromarray(_noise(channels=4)).save(src)
    loaded = read_image(src)
    out = tmp_path / "out.bmp"
    write_image(out, loaded.pixels, loaded)
    with Image.open(out) as written:
        assert (written.format, written.mode) == ("BMP", "RGB")
    np.testing.assert_array_equal(read_image(out).pixels, loaded.pixels)


def test_format_comes_from_the_suffix_of_a_temporary_name(tmp_path: Path) -> None:
    pixels = _noise()
    out = tmp_path / ".photo.png.tmp-ab12.jpg"
    write_image(out, pixels, _loaded(tmp_path / "photo.png", pixels))
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    assert Image.open(out).format == "JPEG"
    upper = tmp_path / "SHOUT.PNG"
    write_image(upper, pixels, _loaded(upper, pixels))
    assert Image.open(upper).format == "PNG"


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_icc_profile_round_trips_byte_identical(tmp_path: Path, suffix: str) -> None:
    icc = _srgb_icc() + b"\0" * 16  # padded, so a regenerated profile would not compare equal
    src = tmp_path / f"src{suffix}"
    Image.fromarray(_gradient()).save(src, icc_profile=icc)
    loaded = read_image(src)
    assert loaded.icc_profile == icc
    out = tmp_path / f"out{suffix}"
    write_image(out, loaded.pixels, loaded)
    assert Image.open(out).info.get("icc_profile") == icc


def test_write_rejects_malformed_pixels(tmp_path: Path) -> None:
    pixels = _noise()
    source = _loaded(tmp_path / "a.png", pixels)
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", pixels.astype(np.float32), source)
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", pixels[:, :, 0], source)
    assert not (tmp_path / "a.png").exists()


# --- writing: metadata ------------------------------------------------------------------------


def _jpeg_full_of_metadata(path: Path, orientation: int = 1) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(_gradient()).save(
        buffer,
        "JPEG",
        quality=95,
        exif=_exif_block(orientation),
        xmp=XMP.encode(),
        comment=b"SECRET-COMMENT",
    )
    path.write_bytes(_with_iptc(buffer.getvalue()))
    # The fixture really holds what the tests below expect to disappear.
    with Image.open(path) as im:
        exif = im.getexif()
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)[0x0012] == "SECRET-DATUM"
        assert 0x0201 in exif.get_ifd(ExifTags.IFD.IFD1)
        assert {"xmp", "comment", "photoshop"} <= im.info.keys()
    data = path.read_bytes()
    assert all(secret in data for secret in SECRETS)
    return path


def test_jpeg_metadata_is_stripped_by_default(tmp_path: Path) -> None:
    loaded = read_image(_jpeg_full_of_metadata(tmp_path / "src.jpg"))
    out = tmp_path / "out.jpg"
    write_image(out, loaded.pixels, loaded)

    data = out.read_bytes()
    assert b"Exif" not in data
    assert XMP_NS not in data
    assert b"Photoshop 3.0" not in data
    for secret in SECRETS:
        assert secret not in data
    assert data.count(b"\xff\xd8\xff") == 1  # no second, embedded JPEG
    with Image.open(out) as written:
        assert not written.getexif()
        assert not {"exif", "xmp", "comment", "photoshop"} & written.info.keys()


def test_png_text_chunks_and_exif_are_stripped_by_default(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "SECRET-TEXT")
    info.add_text("Location", "SECRET-ZTXT", zip=True)
    info.add_itxt("Description", "SECRET-ITXT", lang="en", tkey="Beschreibung")
    info.add_itxt("XML:com.adobe.xmp", XMP)
    src = tmp_path / "src.png"
    Image.fromarray(_gradient()).save(src, pnginfo=info, exif=_exif_block())
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf"} <= set(_png_chunks(src.read_bytes()))

    loaded = read_image(src)
    out = tmp_path / "out.png"
    write_image(out, loaded.pixels, loaded)

    data = out.read_bytes()
    assert set(_png_chunks(data)) == {b"IHDR", b"IDAT", b"IEND"}
    for secret in (b"SECRET-TEXT", b"SECRET-ZTXT", b"SECRET-ITXT", XMP_NS, b"Exif", *SECRETS):
        assert secret not in data
    with Image.open(out) as written:
        assert not written.getexif()
        assert not written.text


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_keep_metadata_keeps_sanitized_exif(tmp_path: Path, suffix: str) -> None:
    keep = ImageOptions(keep_metadata=True)
    loaded = read_image(_jpeg_full_of_metadata(tmp_path / "src.jpg", orientation=6), keep)
    assert loaded.pixels.shape == (96, 64, 3)  # upright
    out = tmp_path / f"out{suffix}"
    write_image(out, loaded.pixels, loaded, keep)

    data = out.read_bytes()
    for secret in SECRETS:
        assert secret not in data
    assert XMP_NS not in data
    with Image.open(out) as written:
        exif = written.getexif()
        assert exif[ExifTags.Base.Make] == "FacelessCam"
        assert exif[ExifTags.Base.Orientation] == 1
        assert ExifTags.IFD.GPSInfo not in exif
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert not exif.get_ifd(ExifTags.IFD.IFD1)
        if suffix != ".tif":  # a TIFF keeps only the descriptive main-IFD tags
            assert exif.get_ifd(ExifTags.IFD.Exif)[0x9003] == "2024:01:02 03:04:05"
        assert written.size == (64, 96)
    # read back upright, not rotated a second time
    assert read_image(out).pixels.shape == (96, 64, 3)


# --- errors -----------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jpg"
    with pytest.raises(MediaReadError, match="not found") as caught:
        read_image(path)
    assert str(path) in str(caught.value)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(MediaReadError, match="folder"):
        read_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(MediaReadError, match="empty") as caught:
        read_image(path)
    assert str(path) in str(caught.value)
    assert not isinstance(caught.value, UnsupportedFormatError)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("just some text, not an image\n" * 10)
    with pytest.raises(UnsupportedFormatError, match="not a supported image") as caught:
        read_image(path)
    assert isinstance(caught.value, MediaReadError)
    assert str(path) in str(caught.value)


def test_format_outside_the_allowed_decoders_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "picture.jpg"
    Image.new("RGB", (4, 4)).save(path, "PPM")  # Pillow reads it; faceless does not
    with pytest.raises(UnsupportedFormatError):
        read_image(path)


@pytest.mark.parametrize("truncated_allowed", [False, True])
@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_image_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, truncated_allowed: bool
) -> None:
    # Some other code in the process may have set Pillow's global flag; it must not matter.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", truncated_allowed)
    whole = tmp_path / f"whole{suffix}"
    Image.fromarray(_noise(64, 64)).save(whole)
    path = tmp_path / f"half{suffix}"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaReadError, match="truncated") as caught:
        read_image(path)
    assert str(path) in str(caught.value)
    assert read_image(whole).pixels.shape == (64, 64, 3)  # the complete file is fine


def test_too_many_pixels_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 50)).save(path)

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageTooLargeError, match="100x50") as caught:
        read_image(path, ImageOptions(max_pixels=4999))
    assert str(path) in str(caught.value)


def test_lying_header_is_refused_with_default_limit(tmp_path: Path) -> None:
    # Claims 100000 x 100000 pixels (10 G) but holds one row: a classic decompression bomb.
    path = _raw_png(tmp_path / "bomb.png", 100_000, 100_000, 8, 0, b"\0" * 100_001)
    with pytest.raises(ImageTooLargeError):
        read_image(path)


def test_pillow_global_limit_does_not_override_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    path = tmp_path / "fine.png"
    Image.new("RGB", (40, 30)).save(path)  # 1200 pixels: over 2x Pillow's limit, under ours
    assert read_image(path).pixels.shape == (30, 40, 3)
    assert Image.MAX_IMAGE_PIXELS == 100


@pytest.mark.parametrize(("pillow_limit", "raised"), [(100, "error"), (1000, "warning")])
def test_pillow_decompression_bomb_becomes_image_too_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pillow_limit: int, raised: str
) -> None:
    # Pillow itself checks a GIF frame that grows the canvas; its error must arrive as ours, and
    # so must its warning where the application has turned warnings into errors.
    buffer = io.BytesIO()
    Image.new("P", (40, 30)).save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", 1, 1)  # logical screen 1x1, the frame still 40x30
    path = tmp_path / "g.gif"
    path.write_bytes(bytes(data))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageTooLargeError) as caught:
            read_image(path)
    expected = Image.DecompressionBombError if raised == "error" else Image.DecompressionBombWarning
    assert isinstance(caught.value.__cause__, expected)


def _animated(path: Path, fmt: str) -> Path:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, GREEN, (0, 0, 255))]
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:])
    return path


@pytest.mark.parametrize(("name", "fmt"), [("a.gif", "GIF"), ("a.webp", "WEBP"), ("a.tif", "TIFF")])
def test_animated_and_multi_page_images_are_refused(tmp_path: Path, name: str, fmt: str) -> None:
    path = _animated(tmp_path / name, fmt)
    with pytest.raises(UnsupportedFormatError, match="only still images") as caught:
        read_image(path)
    assert str(path) in str(caught.value)


def test_write_into_missing_folder(tmp_path: Path) -> None:
    pixels = _noise()
    out = tmp_path / "missing" / "out.png"
    with pytest.raises(MediaWriteError, match="does not exist") as caught:
        write_image(out, pixels, _loaded(out, pixels))
    assert str(out.parent) in str(caught.value)


def test_write_below_a_file(tmp_path: Path) -> None:
    pixels = _noise()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MediaWriteError):
        write_image(blocker / "out.png", pixels, _loaded(blocker, pixels))


def test_write_onto_a_folder(tmp_path: Path) -> None:
    pixels = _noise()
    folder = tmp_path / "out.png"
    folder.mkdir()
    with pytest.raises(MediaWriteError, match="folder"):
        write_image(folder, pixels, _loaded(folder, pixels))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_write_into_read_only_folder(tmp_path: Path) -> None:
    pixels = _noise()
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(MediaWriteError, match="permission"):
            write_image(folder / "out.png", pixels, _loaded(folder, pixels))
    finally:
        folder.chmod(0o700)


def test_permission_error_is_a_write_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Runs as root too, where the read-only folder above would not stop the write.
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(image_module, "open", refuse, raising=False)
    pixels = _noise()
    out = tmp_path / "out.png"
    with pytest.raises(MediaWriteError, match="permission"):
        write_image(out, pixels, _loaded(out, pixels))


def test_disk_error_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    pixels = _noise()
    out = tmp_path / "out.png"
    with pytest.raises(MediaWriteError, match="disk is full") as caught:
        write_image(out, pixels, _loaded(out, pixels))
    assert isinstance(caught.value.__cause__, OSError)
    assert not out.exists()


def test_unknown_output_suffix(tmp_path: Path) -> None:
    pixels = _noise()
    out = tmp_path / "out.gif"
    with pytest.raises(MediaWriteError, match=r"\.png") as caught:
        write_image(out, pixels, _loaded(out, pixels))
    assert str(out) in str(caught.value)
    assert not out.exists()
