"""Read still images into upright RGB arrays and write them back with metadata stripped.

One module, over the usual size: reading and writing share the format tables and the
metadata rules (what is kept, what never is), which are read together.
"""

from __future__ import annotations

import errno
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import (
    BmpImagePlugin,
    ExifTags,
    GifImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

from faceless.core.errors import (
    ConfigError,
    ImageTooLargeError,
    MediaReadError,
    MediaWriteError,
    UnsupportedFormatError,
)
from faceless.media.files import not_regular, shown

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "ImageOptions",
    "LoadedImage",
    "read_image",
    "write_image",
]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
)

DEFAULT_MAX_PIXELS: int = 250_000_000

# Only these decoders are tried: Pillow knows dozens of formats, some of which hand the file to
# external programs (EPS runs Ghostscript), and untrusted input should meet as little as possible.
# Importing the plugins registers them, which Image.open would otherwise do lazily.
_READ_FORMATS = tuple(
    str(plugin.format)
    for plugin in (
        JpegImagePlugin.JpegImageFile,
        PngImagePlugin.PngImageFile,
        WebPImagePlugin.WebPImageFile,
        TiffImagePlugin.TiffImageFile,
        BmpImagePlugin.BmpImageFile,
        GifImagePlugin.GifImageFile,
    )
)

_WRITE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
# The suffixes write_image takes.
WRITE_EXTENSIONS: frozenset[str] = frozenset(_WRITE_FORMATS)

# Sources whose pixels were stored exactly, so a WebP copy should not add compression loss.
_LOSSLESS_SOURCES = frozenset({"PNG", "TIFF", "BMP", "GIF"})

_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# EXIF tags that identify a person or a device even with GPS gone. MakerNote is an opaque vendor
# blob that often holds serial numbers and preview images, so it cannot be vetted and goes too.
_IDENTIFYING_EXIF_TAGS = (
    0x927C,  # MakerNote
    0xA430,  # CameraOwnerName
    0xA431,  # BodySerialNumber
    0xA435,  # LensSerialNumber
)
_IFD0_THUMBNAIL_TAGS = (0x0201, 0x0202)  # JPEGInterchangeFormat(Length), if misplaced in IFD0
# In a TIFF the EXIF main IFD is the file's own IFD, so only descriptive tags may be merged in
# (layout tags would contradict the encoder's), and Pillow's libtiff writer cannot add the Exif
# sub-IFD at all.
_TIFF_DESCRIPTIVE_TAGS = frozenset(
    {
        0x010E,  # ImageDescription
        0x010F,  # Make
        0x0110,  # Model
        0x0131,  # Software
        0x0132,  # DateTime
        0x013B,  # Artist
        0x8298,  # Copyright
    }
)
_PIXEL_X_DIMENSION = 0xA002
_PIXEL_Y_DIMENSION = 0xA003


@dataclass(frozen=True)
class ImageOptions:
    """How images are read and written.

    keep_metadata keeps only a sanitized copy of the EXIF block: GPS, the embedded thumbnail,
    MakerNote, owner name and serial numbers removed, Orientation reset to 1. XMP, IPTC and
    comments are always dropped because they can carry names, places and face-region tags that
    cannot be vetted field by field. The ICC profile is always kept so colours do not shift.
    """

    quality: int = 95
    keep_metadata: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise ConfigError(f"image quality must be between 1 and 100, got {self.quality}")
        if self.max_pixels < 1:
            raise ConfigError(f"max_pixels must be a positive number, got {self.max_pixels}")


@dataclass(frozen=True)
class LoadedImage:
    """An image decoded upright into RGB, with what is needed to write it back faithfully.

    icc_profile is the RGB profile that describes ``pixels``; a grayscale or CMYK source profile
    is not kept because it cannot describe RGB pixels.
    """

    path: Path
    pixels: np.ndarray
    alpha: np.ndarray | None
    format: str
    icc_profile: bytes | None
    exif: bytes | None


class _TruncationGuard(io.BufferedReader):
    """A file whose reads note when a decoder asked for bytes past the end of the file.

    Pillow pads a truncated image with grey instead of failing when some other code in the process
    has set ImageFile.LOAD_TRUNCATED_IMAGES. That flag is global and not ours to change, so
    truncation is detected here instead: a complete file never makes its decoder read past EOF.
    """

    watching = False
    ran_out = False

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if self.watching and not data and size != 0:
            self.ran_out = True
        return data


def read_image(path: Path, options: ImageOptions = ImageOptions()) -> LoadedImage:
    """Decode a still image into upright 8-bit RGB pixels, with alpha kept separately.

    EXIF orientation is applied, so ``pixels`` is what a viewer shows. Every colour mode is
    converted to 8-bit RGB; 16-bit sources (16-bit PNG and TIFF) lose their low 8 bits of
    precision. Animated and multi-page files are refused, because hiding faces in only the
    first frame would silently drop or leak the others. A multi-picture JPEG (MPO) is read as
    its primary image: the extra pictures are previews or depth maps of the same scene, and
    like an embedded thumbnail they are never written out.

    The pixel count is checked against ``options.max_pixels`` from the header, before any pixel
    is decoded. That per-call limit replaces Pillow's process-wide ``Image.MAX_IMAGE_PIXELS`` for
    the header; where Pillow still applies its own limit (a GIF frame that grows the canvas),
    its error is reported as ImageTooLargeError too.
    """
    path = Path(path)
    special = not_regular(path)  # opening a FIFO would block, a device never end
    if special is not None:
        raise special
    try:
        raw = io.FileIO(path, "rb")
    except FileNotFoundError as err:
        raise MediaReadError(f"{path}: file not found; check the path and try again") from err
    except IsADirectoryError as err:
        raise MediaReadError(f"{path}: is a folder, not an image file") from err
    except PermissionError as err:
        raise MediaReadError(
            f"{path}: permission denied; make the file readable and try again"
        ) from err
    except OSError as err:
        raise MediaReadError(f"{path}: could not open the file ({err.strerror or err})") from err

    with _TruncationGuard(raw) as fp:
        if os.fstat(fp.fileno()).st_size == 0:
            raise MediaReadError(
                f"{path}: file is empty (0 bytes); it may still be copying or downloading, "
                "or the copy failed; provide the complete file"
            )
        im = _identify(fp, path)
        _check_size(im, path, options.max_pixels)
        _check_still(im, path)
        fp.watching = True
        try:
            im.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise _too_large(path, im.size, str(err)) from err
        except Exception as err:
            # Pillow reports damaged data with many exception types (OSError, ValueError,
            # SyntaxError, struct.error, ...); to the caller they all mean "cannot decode".
            raise MediaReadError(
                f"{path}: the {im.format} data is damaged or truncated and could not be decoded "
                f"({err}); re-export or re-copy the file"
            ) from err
        fp.watching = False
        if fp.ran_out:
            raise MediaReadError(
                f"{path}: the {im.format} file is truncated (it ends before the image data does); "
                "re-copy or re-download the complete file"
            )

        source_format = "JPEG" if im.format == "MPO" else str(im.format)
        exif = im.info.get("exif")
        icc = im.info.get("icc_profile") or None
        try:
            orientation = im.getexif().get(_ORIENTATION_TAG, 1)
        except Exception as err:
            raise MediaReadError(
                f"{path}: the EXIF block is damaged, so the orientation of the image is unknown "
                f"({err}); re-export the file"
            ) from err
        transpose = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
        upright = im if transpose is None else im.transpose(transpose)
        pixels, alpha = _to_rgb(upright, path)

    if icc is not None and icc[16:20] != b"RGB ":
        # A grayscale or CMYK profile attached to RGB pixels would make viewers misrender them.
        logger.debug("%s: dropping a non-RGB ICC profile after converting to RGB", path)
        icc = None
    return LoadedImage(
        path=path,
        pixels=pixels,
        alpha=alpha,
        format=source_format,
        icc_profile=bytes(icc) if icc is not None else None,
        exif=bytes(exif) if exif else None,
    )


def write_image(
    path: Path,
    pixels: np.ndarray,
    source: LoadedImage,
    options: ImageOptions = ImageOptions(),
) -> None:
    """Encode ``pixels`` into the format named by ``path``'s suffix and write exactly ``path``.

    Only the suffix picks the format, so a temporary name such as ``.photo.jpg.tmp-ab12.jpg``
    works. Nothing is copied from the source but its ICC profile and, with
    ``options.keep_metadata``, a sanitized EXIF block (see ImageOptions). The source alpha channel
    is written where the format can hold it (PNG, WebP, TIFF) and dropped otherwise. JPEG uses
    ``options.quality`` without chroma subsampling; WebP is lossless when the source format was
    lossless, else lossy at ``options.quality``; PNG, TIFF (LZW) and BMP are lossless. The file is
    encoded in memory first, so an encoder failure leaves nothing behind, and a failed write
    removes the partial file.
    """
    path = Path(path)
    _check_pixels(pixels, source)
    fmt = _WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(sorted(_WRITE_FORMATS))
        raise MediaWriteError(
            f"{shown(path)}: cannot write images with the suffix {path.suffix!r}; use one of "
            f"{supported}"
        )

    alpha = source.alpha if fmt in ("PNG", "WEBP", "TIFF") else None
    array = pixels if alpha is None else np.dstack((pixels, alpha))
    im = Image.fromarray(np.ascontiguousarray(array))
    params = _save_params(fmt, source, options, im.size)
    buffer = io.BytesIO()
    try:
        im.save(buffer, format=fmt, **params)
    except Exception as err:
        raise MediaWriteError(f"{shown(path)}: the {fmt} encoder failed ({err})") from err
    _write_file(path, buffer.getbuffer())


def _identify(fp: _TruncationGuard, path: Path) -> ImageFile.ImageFile:
    """Open the image header with one of the allowed decoders, without decoding pixels.

    The decoders are called directly rather than through Image.open, because Image.open applies
    Pillow's process-wide pixel limit, which would override options.max_pixels and can only be
    changed by mutating global state.
    """
    prefix = fp.read(16)
    damaged: Exception | None = None
    for name in _READ_FORMATS:
        entry = Image.OPEN.get(name)
        if entry is None:  # this Pillow was built without that codec
            continue
        factory, accept = entry
        accepted = accept is None or accept(prefix)
        # accept() returns a message string when it recognises a format it cannot decode.
        if isinstance(accepted, str) or not accepted:
            continue
        fp.seek(0)
        try:
            return factory(fp, "")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise _too_large(path, None, str(err)) from err
        except Exception as err:
            damaged = err
    if damaged is not None:
        raise MediaReadError(
            f"{path}: looks like an image but its header is damaged ({damaged}); "
            "re-export or re-copy the file"
        ) from damaged
    raise UnsupportedFormatError(
        f"{path}: not a supported image (the content is not JPEG, PNG, WebP, TIFF, BMP or GIF, "
        "whatever the file name says); convert it to one of those formats"
    )


def _check_size(im: ImageFile.ImageFile, path: Path, max_pixels: int) -> None:
    width, height = im.size
    if width * height > max_pixels:
        raise _too_large(path, im.size, f"the limit is {max_pixels:,} pixels")


def _too_large(path: Path, size: tuple[int, int] | None, detail: str) -> ImageTooLargeError:
    dims = f" is {size[0]}x{size[1]} pixels and" if size is not None else ""
    return ImageTooLargeError(
        f"{path}:{dims} is too large to decode safely ({detail}); downscale the image or raise "
        "the pixel limit if it is trusted"
    )


def _check_still(im: ImageFile.ImageFile, path: Path) -> None:
    if im.format == "MPO":
        return
    try:
        frames = getattr(im, "n_frames", 1)
    except Exception as err:
        raise MediaReadError(
            f"{path}: could not count the frames of this {im.format} file ({err}); "
            "re-export the file"
        ) from err
    if frames > 1:
        kind = "multi-page" if im.format == "TIFF" else "animated"
        raise UnsupportedFormatError(
            f"{path}: is an {kind} {im.format} with {frames} frames; only still images are "
            "supported; split it into single images, or convert it to a video and process that"
        )


def _to_rgb(im: Image.Image, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Return C-contiguous (H, W, 3) uint8 RGB and an (H, W) uint8 alpha or None."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow's own conversion clips 16-bit values at 255 instead of scaling them. Mode I
        # (32-bit) is what older Pillow versions return for 16-bit PNG, so it gets the same scale.
        wide = np.asarray(im, dtype=np.int64)
        gray = ((np.clip(wide, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2)), None
    if mode == "F":
        raise UnsupportedFormatError(
            f"{path}: floating-point images are not supported; convert it to 8 or 16 bits"
        )
    has_alpha = mode.endswith(("A", "a")) or "transparency" in im.info
    target = "RGBA" if has_alpha else "RGB"
    try:
        # convert() copies even when the mode already matches; at 250 MP a copy is a gigabyte.
        converted = im if mode == target else im.convert(target)
    except ValueError as err:
        raise UnsupportedFormatError(
            f"{path}: the colour mode {mode} is not supported; convert it to RGB"
        ) from err
    array = np.array(converted, dtype=np.uint8)
    if not has_alpha:
        return np.ascontiguousarray(array), None
    return np.ascontiguousarray(array[:, :, :3]), np.ascontiguousarray(array[:, :, 3])


def _check_pixels(pixels: np.ndarray, source: LoadedImage) -> None:
    if not isinstance(pixels, np.ndarray):
        raise TypeError(f"pixels must be a numpy array, got {type(pixels).__name__}")
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(
            f"pixels must be an (H, W, 3) uint8 array, got {pixels.shape} {pixels.dtype}"
        )
    if source.alpha is not None and source.alpha.shape != pixels.shape[:2]:
        raise ValueError(
            f"pixels {pixels.shape[:2]} and the source alpha {source.alpha.shape} differ in size"
        )


def _save_params(
    fmt: str, source: LoadedImage, options: ImageOptions, size: tuple[int, int]
) -> dict[str, object]:
    params: dict[str, object] = {}
    # BMP has no place for a profile; Pillow ignores it there.
    if source.icc_profile is not None and fmt != "BMP":
        params["icc_profile"] = source.icc_profile
    if options.keep_metadata and source.exif is not None and fmt != "BMP":
        exif = _sanitized_exif(source.exif, size, tiff=fmt == "TIFF")
        if exif is not None:
            params["exif"] = exif
    if fmt == "JPEG":
        # 4:4:4 so that small solid-fill redactions keep hard edges instead of colour bleed.
        params.update(quality=options.quality, subsampling=0)
    elif fmt == "WEBP":
        if source.format in _LOSSLESS_SOURCES:
            params["lossless"] = True
        else:
            params["quality"] = options.quality
    elif fmt == "TIFF":
        params["compression"] = "tiff_lzw"
    return params


def _sanitized_exif(raw: bytes, size: tuple[int, int], *, tiff: bool) -> bytes | None:
    """The source EXIF without location, thumbnail or identifying tags, marked upright.

    Built by copying the main IFD and the Exif sub-IFD only, so the GPS IFD and IFD1 (where the
    thumbnail lives) are never carried over, whatever else the source block held. For a TIFF
    output only the descriptive main-IFD tags are kept.
    """
    try:
        source = Image.Exif()
        source.load(raw)
        exif = Image.Exif()
        for tag, value in source.items():
            if tag in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop):
                continue
            if tag in _IFD0_THUMBNAIL_TAGS or (tiff and tag not in _TIFF_DESCRIPTIVE_TAGS):
                continue
            exif[tag] = value
        sub = (
            {}
            if tiff
            else {
                tag: value
                for tag, value in source.get_ifd(ExifTags.IFD.Exif).items()
                if tag not in _IDENTIFYING_EXIF_TAGS and tag != ExifTags.IFD.Interop
            }
        )
        if sub:
            # The pixels were transposed to upright, so any recorded size must follow.
            if _PIXEL_X_DIMENSION in sub:
                sub[_PIXEL_X_DIMENSION] = size[0]
            if _PIXEL_Y_DIMENSION in sub:
                sub[_PIXEL_Y_DIMENSION] = size[1]
            exif[ExifTags.IFD.Exif] = sub
        exif[_ORIENTATION_TAG] = 1
        return exif.tobytes()
    except Exception:
        # Metadata the user asked to keep is not worth failing the image over; dropping it is
        # the safe direction.
        logger.warning("could not parse the source EXIF; writing the image without it")
        return None


def _write_file(path: Path, data: memoryview) -> None:
    try:
        out = open(path, "wb")  # noqa: SIM115 - the open error and the write error differ
    except FileNotFoundError as err:
        raise MediaWriteError(
            f"{path}: the folder {path.parent} does not exist; create it first"
        ) from err
    except PermissionError as err:
        raise MediaWriteError(
            f"{path}: not allowed to write here; check the permissions of {path.parent}"
        ) from err
    except IsADirectoryError as err:
        raise MediaWriteError(f"{path}: is a folder; choose a file name for the output") from err
    except OSError as err:
        raise MediaWriteError(_write_failure(path, err)) from err
    try:
        with out:
            out.write(data)
            out.flush()
            # The caller renames this file into place; without fsync a crash can leave an
            # empty file under the final name.
            os.fsync(out.fileno())
    except OSError as err:
        try:
            os.unlink(path)
        except OSError:
            logger.warning("%s: could not remove the partial output", shown(path))
        raise MediaWriteError(_write_failure(path, err)) from err


def _write_failure(path: Path, err: OSError) -> str:
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return (f"{shown(path)}: the disk is full (or the file would exceed the size this "
                "system allows); free some space and try again")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"{shown(path)}: not allowed to write here ({err.strerror}); check the "
                "permissions of the output folder")
    return (f"{shown(path)}: could not write the file ({err.strerror or err}); check the "
            "output folder")
