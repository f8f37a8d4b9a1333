"""Everything that decides what is found and how it is hidden, and the named speed modes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from faceless.anonymize.operators import Operator, OperatorSpec, Shape
from faceless.core.errors import ConfigError
from faceless.core.types import Kind
from faceless.detect.faces import FaceOptions, thorough
from faceless.detect.guided import ScheduleOptions
from faceless.detect.heads import HeadOptions
from faceless.detect.persons import PersonOptions
from faceless.detect.plates import PlateOptions
from faceless.detect.sparse import SparseOptions
from faceless.detect.text import TextOptions
from faceless.media.image import ImageOptions
from faceless.media.video import VideoOptions
from faceless.track.tracker import TrackOptions

MODES = ("fast", "default", "thorough", "bodycam")
FAST_PRESET = "superfast"
"""--fast's x264 preset (the default's is VideoOptions.preset)."""


def _fill() -> OperatorSpec:
    return OperatorSpec(Operator.FILL, Shape.BOX)


@dataclass(frozen=True)
class Options:
    """Everything that decides what is found and how it is hidden.

    Grouped by stage: what to hide (`hide`) and each detector's options (`face`, `plate`,
    `text`); how video is searched over time (`schedule`, `text_every`, `sparse`, `track`);
    how regions are hidden (`mask_scale` and the operators); how files are read and written
    (`video`, `image`, `pipelined`, `overwrite`, `strict`).
    """

    face: FaceOptions = field(default_factory=FaceOptions)
    # CenterFace boxes hug the brows-to-chin area; grown by this factor they reach the
    # hairline, ears and chin (docs/decisions: mask scale).
    mask_scale: float = 1.45
    operator: OperatorSpec = field(default_factory=OperatorSpec)
    # Plates by default: a plate identifies a car's owner as surely as a face.
    hide: frozenset[Kind] = frozenset({Kind.FACE, Kind.PLATE})
    plate: PlateOptions = field(default_factory=PlateOptions)
    text: TextOptions = field(default_factory=TextOptions)
    # Heads and whole persons (hide head, person): one person search serves both.
    person: PersonOptions = field(default_factory=PersonOptions)
    head: HeadOptions = field(default_factory=HeadOptions)
    # Solid fill for characters: blurred or pixelated text can be read back, or guessed
    # from a short list of plates.
    plate_operator: OperatorSpec = field(default_factory=_fill)
    text_operator: OperatorSpec = field(default_factory=_fill)
    # Video with tracking: plates and text are searched on every Nth frame (a search costs
    # many face passes); tracking carries them between and `sparse` looks closer at the
    # tracked ones. 1 searches every frame.
    text_every: int = 6
    sparse: SparseOptions = field(default_factory=SparseOptions)
    video: VideoOptions = field(default_factory=VideoOptions)
    image: ImageOptions = field(default_factory=ImageOptions)
    # Video: decode and encode in their own threads and search frames ahead (same output).
    pipelined: bool = True
    # Video only: link detections over time and add what single frames miss (None: off).
    track: TrackOptions | None = field(default_factory=TrackOptions)
    # Video with tracking: full face passes on a schedule, a low-resolution pass between and
    # closer looks where tracks expect faces (see detect.guided). None: every pass, every frame.
    schedule: ScheduleOptions | None = field(default_factory=ScheduleOptions)
    overwrite: bool = False
    # Fail an item that is damaged part-way (a video that ends before its container says)
    # instead of releasing what decodes with a warning; the same switch as `video.strict`.
    strict: bool = False

    def __post_init__(self) -> None:
        if self.strict != self.video.strict:  # either one asks for it: both say so
            object.__setattr__(self, "strict", True)
            object.__setattr__(self, "video", replace(self.video, strict=True))
        if not 0.5 <= self.mask_scale <= 4.0:
            raise ConfigError(f"mask_scale must lie in [0.5, 4], got {self.mask_scale}")
        object.__setattr__(self, "hide", frozenset(Kind(k) for k in self.hide))
        if not self.hide:
            raise ConfigError("nothing to hide: name at least one of face, plate, text, "
                              "head, person")
        if not 1 <= self.text_every <= 60:
            raise ConfigError(f"text_every must lie in [1, 60], got {self.text_every}")

    def specs(self, face: OperatorSpec | None = None) -> dict[Kind, OperatorSpec]:
        """The operator for each kind (`face` overrides the face operator)."""
        return {Kind.FACE: face or self.operator, Kind.HEAD: face or self.operator,
                Kind.PERSON: face or self.operator, Kind.PLATE: self.plate_operator,
                Kind.TEXT: self.text_operator}

    def settings(self) -> dict[str, object]:
        """The parts of the options that a plan records."""
        face = _recordable(asdict(self.face))
        # Plate and text settings (the text network's precision among them) only where used.
        found = {name: _recordable(asdict(getattr(self, name))) for name, kind in
                 (("plate", Kind.PLATE), ("text", Kind.TEXT)) if kind in self.hide}
        # A person search also runs to guide face looks at heads (PersonOptions.guide).
        if self.hide & {Kind.HEAD, Kind.PERSON} or (self.person.guide and self.person.face_looks):
            found["person"] = _recordable(asdict(self.person))
        if Kind.HEAD in self.hide:
            found["head"] = asdict(self.head)
        return {"hide": sorted(str(k) for k in self.hide),
                "face": face, **found, "mask_scale": self.mask_scale,
                "operator": self.operator.to_dict(),
                "plate_operator": self.plate_operator.to_dict(),
                "text_operator": self.text_operator.to_dict(), "text_every": self.text_every,
                "sparse": asdict(self.sparse),
                "track": None if self.track is None else asdict(self.track),
                "schedule": None if self.schedule is None or self.track is None
                else asdict(self.schedule),
                # What the release keeps besides pixels (a leak check reads it).
                "audio": str(self.video.audio),
                "keep_metadata": self.video.keep_metadata or self.image.keep_metadata}


def _recordable(settings: dict[str, object]) -> dict[str, object]:
    """Options as a plan records them: JSON values, without this machine's paths and threads."""
    out: dict[str, object] = {}
    for key, value in settings.items():
        if key in ("model_path", "rec_model_path", "threads"):
            continue
        if isinstance(value, dict):
            value = _recordable(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def mode_options(mode: str, base: Options | None = None) -> Options:
    """`base` (default: Options()) set up for one of the speed/recall MODES.

    fast: full face looks every 30th frame, the default's low pass between, plates searched
    every 12th frame with closer looks at tracked ones between, and x264's superfast preset
    (bulk work: more leaks and larger files, see docs/benchmarks.md). It sets
    `base.video.preset`: to keep another preset, `replace` it in the result (the CLI does so
    for an explicit --preset).
    default: `base` unchanged.
    thorough: the face passes of `detect.faces.thorough` (1x/2x/3x, mirrored, tiled) on
    every frame, plates and text searched on every frame, with the fp32 networks.
    bodycam: the default, and whole heads hidden as well (people seen from behind or turned
    away; persons searched every `text_every`-th frame, tracking carries them between), for
    releases of body-worn and CCTV footage (docs/decisions: heads in a named mode).
    """
    base = base or Options()
    if mode == "default":
        return base
    if mode == "fast":
        # The low pass stays at the default's size: on large frames a smaller one needs more
        # closer looks than it saves (docs/decisions: face schedule).
        return replace(base, schedule=ScheduleOptions(full_every=30),
                       text_every=max(base.text_every, 12),
                       face=replace(base.face, precision="int8"),
                       video=replace(base.video, preset=FAST_PRESET))
    if mode == "bodycam":
        return replace(base, hide=base.hide | {Kind.HEAD})
    if mode == "thorough":
        return with_precision(replace(base, schedule=None, text_every=1,
                                      face=thorough(base.face)), "fp32")
    raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def plan_specs(settings: Mapping[str, Any], options: Options | None = None,
               operator: OperatorSpec | None = None) -> dict[Kind, OperatorSpec]:
    """The operator for each kind that a plan is rendered with: the ones its `settings`
    record, `options`' (default Options()) where it records none; `operator`, when given,
    overrides the face operator."""
    base = options or Options()

    def recorded(key: str, default: OperatorSpec) -> OperatorSpec:
        return OperatorSpec.from_dict(settings[key]) if key in settings else default

    return replace(base, plate_operator=recorded("plate_operator", base.plate_operator),
                   text_operator=recorded("text_operator", base.text_operator)
                   ).specs(operator or recorded("operator", base.operator))


def with_precision(options: Options, precision: str) -> Options:
    """`options` with the face and text networks at `precision` (int8 or fp32)."""
    text = replace(options.text, precision=precision)
    plate = replace(options.plate, text=replace(options.plate.text, precision=precision))
    return replace(options, face=replace(options.face, precision=precision), text=text,
                   plate=plate)


__all__ = ["FAST_PRESET", "MODES", "Options", "mode_options", "plan_specs", "with_precision"]
