"""The per-frame analyzer: detectors loaded once, turned into the regions to hide in a frame."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from faceless.core.errors import AnalysisError, ConfigError
from faceless.core.geometry import scale_box
from faceless.core.types import Detections, Kind, Region
from faceless.detect.base import CandidateDetector, Detector, ScaledDetector
from faceless.detect.faces import CenterFaceDetector, merge_split
from faceless.detect.guided import PassDetector
from faceless.detect.heads import HeadDetector, heads_from_persons
from faceless.detect.person_faces import GuidePersons, HeadLookOptions, faces_on_heads
from faceless.detect.persons import PersonDetector
from faceless.detect.plates import PlateDetector
from faceless.detect.text import TextDetector
from faceless.options import Options

Found = tuple[Detections, Detections | None]
"""What one search of a frame gives: confident detections, and candidates (or None)."""
FaceSearch = Callable[["Slot", np.ndarray], tuple[Detections, Detections]]
"""search(face slot, image) -> (confident faces, candidates), in place of its own search."""
CloserLooks = Callable[["Slot", ScaledDetector, np.ndarray], Detections]
"""looks(plate or text slot, its detector, image) -> what it finds on a frame it does not
search whole (closer looks around tracked regions, see detect.sparse)."""


def build_detectors(options: Options) -> list[Detector]:
    """One detector per kind to hide; plates share the text model when both are hidden, heads
    the person search when both are. A person search that only guides the face looks at
    people's heads (`PersonOptions.guide`) hides nothing itself."""
    out: list[Detector] = []
    if Kind.FACE in options.hide:
        out.append(CenterFaceDetector(options.face))
    text = None
    if Kind.TEXT in options.hide:
        text = TextDetector(options.text)
        out.append(text)
    if Kind.PLATE in options.hide:
        share = text if text is not None and options.plate.text == options.text else None
        out.append(PlateDetector(options.plate, text=share))
    if Kind.HEAD in options.hide or Kind.PERSON in options.hide:
        persons = PersonDetector(options.person)  # one search of a frame serves both kinds
        if Kind.HEAD in options.hide:
            out.append(HeadDetector(options.head, persons))
        if Kind.PERSON in options.hide:
            out.append(persons)
    elif options.person.guide and Kind.FACE in options.hide and options.person.face_looks:
        out.append(GuidePersons(options.person))
    return out


@dataclass(frozen=True)
class Slot:
    """One detector and what it can do, found once when the analyzer is built."""

    index: int  # its place among the analyzer's detectors
    detector: Detector
    candidates: CandidateDetector | None  # its whole-frame search also gives candidates
    scaled: ScaledDetector | None  # it can look closer at crops between searches
    # A face detector that the video face schedule can drive (None unless every face
    # detector can: the schedule needs single passes at a scale, as CenterFace has).
    guided: PassDetector | None
    # Plates, text, heads and persons: searched whole only every `text_every`-th video frame
    sparse: bool
    # What it finds is hidden (a person search that only guides face looks is not)
    hidden: bool = True


class Analyzer:
    """Detectors loaded once, turned into the regions to hide in any frame.

    Every detector is checked against the Detector protocol and its capabilities when the
    analyzer is built: a detector that does not follow it is a ConfigError here, never a
    failure in the middle of a video.
    """

    def __init__(self, options: Options | None = None,
                 detectors: Iterable[Detector] | None = None) -> None:
        self.options = options or Options()
        self.detectors = (list(detectors) if detectors is not None
                          else build_detectors(self.options))
        for det in self.detectors:
            if not isinstance(det, Detector):
                raise ConfigError(f"{type(det).__name__} is not a Detector: it needs kind, "
                                  "card, cards, setup and detect (faceless.detect.Detector)")
        # Closer face looks at people's heads, in video where persons are searched.
        self.head_looks = HeadLookOptions(max_looks=self.options.person.face_looks)
        faces = [d for d in self.detectors if d.kind is Kind.FACE]
        guidable = all(isinstance(d, PassDetector) for d in faces)
        self.slots: tuple[Slot, ...] = tuple(
            Slot(i, det,
                 det if isinstance(det, CandidateDetector) else None,
                 det if isinstance(det, ScaledDetector) else None,
                 det if guidable and det.kind is Kind.FACE and isinstance(det, PassDetector)
                 else None,
                 det.kind in (Kind.PLATE, Kind.TEXT, Kind.HEAD, Kind.PERSON),
                 not isinstance(det, GuidePersons))
            for i, det in enumerate(self.detectors))

    def setup(self) -> None:
        """Load every detector's models now (else they load on first use)."""
        for det in self.detectors:
            det.setup()

    def model_cards(self) -> list[dict[str, str]]:
        """The cards of every model the detectors use, as a plan records them."""
        return [c.to_dict() for d in self.detectors for c in d.cards]

    def regions(self, image: np.ndarray, video: bool = False) -> list[Region]:
        """Regions to redact in one upright RGB frame; any failure is an AnalysisError."""
        return self.analyse(image, candidates=False, video=video)[0]

    def searches(self, slot: Slot, frame_index: int | None) -> bool:
        """Whether `slot`'s detector searches this whole frame: plates and text, when tracking
        carries them (`frame_index` given), only every `text_every`-th frame; the rest always."""
        return (not slot.sparse or frame_index is None
                or frame_index % self.options.text_every == 0)

    @staticmethod
    def search(slot: Slot, image: np.ndarray, candidates: bool = True,
               video: bool = False) -> Found:
        """One detector's own search of a whole frame: what it finds, and its candidates
        (None when it has none or they were not asked for). Depends on the pixels alone."""
        if slot.candidates is not None:
            found, maybe = slot.candidates.detect_all(image, candidates, video)
            return found, maybe if candidates else None
        return slot.detector.detect(image), None

    def analyse(self, image: np.ndarray, *, candidates: bool = True, video: bool = False,
                frame_index: int | None = None, faces: FaceSearch | None = None,
                between: CloserLooks | None = None,
                started: Sequence[Callable[[], Found] | None] | None = None,
                ) -> tuple[list[Region], list[Region]]:
        """Regions to redact, and low-score candidates that only tracking may accept.

        `video` selects the per-frame budget (no 2x small-face pass on large frames);
        `frame_index`, given only when tracking carries regions between frames, lets the
        costly plate and text detectors search every `text_every`-th frame; `faces`, when
        given, searches for faces in place of the face detector's own search; `between`,
        when given, looks closer for plates and text on the other frames; `started`, one
        entry per slot, returns a search of this frame already started elsewhere (a video's
        look-ahead), or is None where the search runs here.
        """
        results: list[tuple[Slot, Found, str]] = []
        for i, slot in enumerate(self.slots):
            det = slot.detector
            if not slot.hidden and not (video and self.head_looks.max_looks):
                continue  # a search that only guides the face looks in video
            whole = self.searches(slot, frame_index)
            if not whole and (between is None or slot.scaled is None):
                continue
            job = started[i] if started is not None else None
            try:
                if not whole:
                    assert between is not None and slot.scaled is not None
                    found, maybe = between(slot, slot.scaled, image), None
                elif faces is not None and det.kind is Kind.FACE:
                    found, maybe = faces(slot, image)
                elif job is not None:
                    found, maybe = job()
                else:
                    found, maybe = self.search(slot, image, candidates, video)
            except AnalysisError:
                raise
            except Exception as err:  # any detector bug must fail the item, never pass a frame
                raise AnalysisError(f"{type(det).__name__} failed: {err!r}") from err
            results.append((slot, (found, maybe), "" if whole else " (closer look)"))
        if video and self.head_looks.max_looks:
            results = self._faces_on_heads(image, results, candidates)
        out: list[Region] = []
        low: list[Region] = []
        for slot, (found, maybe), how in results:
            if not slot.hidden:
                continue
            for dets, into in ((found, out), (maybe, low)):
                if dets is not None:
                    into.extend(self._grown(dets, how))
        return out, low

    def _faces_on_heads(self, image: np.ndarray, results: list[tuple[Slot, Found, str]],
                        candidates: bool) -> list[tuple[Slot, Found, str]]:
        """Closer face looks at the heads of the people this frame's search found, merged
        into the face search's result (detect.person_faces)."""
        face_at = next(((k, r) for k, r in enumerate(results)
                        if r[0].detector.kind is Kind.FACE
                        and isinstance(r[0].detector, PassDetector)), None)
        h, w = image.shape[:2]
        heads = [f.xyxy for slot, (f, _), how in results if not how
                 and slot.detector.kind is Kind.HEAD]
        if not heads:
            heads = [heads_from_persons(f.xyxy, w, h, self.options.head)
                     for slot, (f, _), how in results
                     if not how and slot.detector.kind is Kind.PERSON]
        if face_at is None or not heads:
            return results
        k, (slot, (sure, maybe), how) = face_at
        det = slot.detector
        assert isinstance(det, PassDetector)
        fo = det.options
        try:
            xyxy, score, looks = faces_on_heads(det, image, np.concatenate(heads),
                                                fo.candidate_threshold, self.head_looks,
                                                found=sure.xyxy)
        except AnalysisError:
            raise
        except Exception as err:  # as any detector's: fail the item, never pass a frame
            raise AnalysisError(f"face looks at heads failed: {err!r}") from err
        if not looks or not len(score):
            return results
        parts = [sure, *([maybe] if maybe is not None else [])]
        all_xyxy = np.concatenate([*(d.xyxy for d in parts), xyxy]).astype(np.float32)
        all_score = np.concatenate([*(d.score for d in parts), score]).astype(np.float32)
        sure, low = merge_split(all_xyxy, all_score, all_score >= fo.threshold, fo, w, h)
        out = list(results)
        out[k] = (slot, (sure, low if candidates else None), how)
        return out

    def _grown(self, dets: Detections, how: str) -> list[Region]:
        # Face boxes are grown to the head; plate and text detectors size their own.
        grow = self.options.mask_scale if dets.kind is Kind.FACE else 1.0
        return [Region(scale_box(r.box, grow), r.kind, r.score,
                       reason=f"{dets.kind} score {r.score:.2f}{how}")
                for r in dets.regions()]


class AnalyzerCache:
    """The last few analyzers by options, so a process that calls the API again and again
    with the same options loads the models once; the oldest is dropped past `size`."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: OrderedDict[Options, Analyzer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, options: Options | None) -> Analyzer:
        options = options or Options()
        with self._lock:
            analyzer = self._items.pop(options, None) or Analyzer(options)
            self._items[options] = analyzer
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return analyzer

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
