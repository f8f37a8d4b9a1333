"""The faceless exception tree: one root, each subclass also a matching built-in."""

from __future__ import annotations


class FacelessError(Exception):
    """Root of every error faceless raises on purpose."""


class ConfigError(FacelessError, ValueError):
    """A setting or option has an invalid value."""


class MediaError(FacelessError, OSError):
    """Something is wrong with an input or output media file."""


class MediaReadError(MediaError):
    """An input could not be read or decoded (missing, empty, truncated, corrupt)."""


class MediaMissingError(MediaReadError, FileNotFoundError):
    """An input does not exist (or no longer: moved or deleted while the run went on)."""


class UnsupportedFormatError(MediaReadError):
    """The input is not a format faceless can read."""


class ImageTooLargeError(MediaReadError):
    """The image has so many pixels that decoding it could exhaust memory."""


class MediaWriteError(MediaError):
    """An output could not be written (folder missing or not writable, encoder failure)."""


class OutputExistsError(FacelessError, FileExistsError):
    """The output exists (or is the input itself) and overwriting was not allowed."""


class ModelError(FacelessError, RuntimeError):
    """A detection model could not be loaded or does not match its model card."""


class AnalysisError(FacelessError, RuntimeError):
    """Detection or anonymization failed on a frame; the item fails closed."""


class PlanError(FacelessError, ValueError):
    """A plan document is malformed, of an unknown version, or does not match its source."""
