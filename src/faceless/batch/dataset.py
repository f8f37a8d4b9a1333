"""Anonymise a dataset of images (arrays, paths or a folder) in batches, on worker processes,
yielding each image as it is done: for a data-loading pipeline."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Union

import numpy as np

from faceless.analyze.analyzer import Analyzer
from faceless.anonymize.redactor import Redactor
from faceless.batch.jobs import plan_jobs
from faceless.batch.pool import WorkerPool, available_cores, default_workers, error_text, per_worker
from faceless.core.errors import ConfigError, FacelessError
from faceless.core.types import Region
from faceless.media.image import IMAGE_EXTENSIONS, read_image
from faceless.options import Options

ImageInput = Union[np.ndarray, str, Path]  # noqa: UP007 (a runtime alias)
"""An image as an (H, W, 3) uint8 RGB array, or the path of an image file."""


@dataclass(frozen=True)
class DatasetItem:
    """One image of a dataset, anonymised (or why it could not be).

    `image` is None when it failed (`error` says why): an image that could not be analysed
    is never handed back unredacted.
    """

    index: int  # its place in the input, counting from 0
    source: Path | None  # the file it was read from; None for an array
    image: np.ndarray | None  # the anonymised RGB pixels, upright (EXIF orientation applied)
    regions: tuple[Region, ...]  # what was hidden, in the image's pixels
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def dataset_inputs(source: Iterable[ImageInput] | str | Path) -> Iterator[ImageInput]:
    """The images of a folder (searched recursively, sorted, hidden files left out), or the
    items of an iterable as they are."""
    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.is_dir():
            raise ConfigError(f"{folder}: not a folder; pass a folder of images, or an "
                              "iterable of images or paths")
        # Nothing is written: the output names plan_jobs gives are not used.
        jobs, _ = plan_jobs([folder], None, lambda f: f.name, lambda f: f, ".faceless",
                            extensions=frozenset(IMAGE_EXTENSIONS))
        return (j.src for j in jobs)
    return iter(source)


class ImageWorker:
    """Anonymises batches of images in this process with the models loaded once."""

    def __init__(self, options: Options) -> None:
        self.analyzer = Analyzer(options)
        self.analyzer.setup()
        self.redactor = Redactor(options.specs())

    def one(self, index: int, item: ImageInput) -> DatasetItem:
        src = Path(item) if isinstance(item, (str, Path)) else None
        try:
            if src is not None:
                pixels = read_image(src, self.analyzer.options.image).pixels
            else:
                pixels = np.asarray(item)
                if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
                    raise ConfigError(f"expected an (H, W, 3) uint8 RGB image, got "
                                      f"{pixels.shape} {pixels.dtype}")
            regions = self.analyzer.regions(pixels)
            hidden = self.redactor.hide(pixels, regions)
        except (FacelessError, OSError) as err:
            where = src if src is not None else f"image {index}"
            return DatasetItem(index, src, None, (), error_text(err, where))
        return DatasetItem(index, src, hidden, tuple(regions))

    def __call__(self, batch: list[tuple[int, ImageInput]]) -> list[DatasetItem]:
        return [self.one(i, item) for i, item in batch]


def _batches(items: Iterator[ImageInput], size: int) -> Iterator[list[tuple[int, ImageInput]]]:
    batch: list[tuple[int, ImageInput]] = []
    for i, item in enumerate(items):
        batch.append((i, item))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def anonymize_images(source: Iterable[ImageInput] | str | Path,
                     options: Options | None = None, *, workers: int | None = None,
                     batch_size: int = 8, ordered: bool = False) -> Iterator[DatasetItem]:
    """Anonymise many images, yielding each as it is done.

    `source`: a folder (its images, recursively), or an iterable of (H, W, 3) uint8 RGB
    arrays and image paths, read lazily: a generator of millions is fine. `workers`: worker
    processes, each loading the models once (None: one a core, as many as the memory
    holds, one per 20 images of a list; 1: this process). Images go to a worker
    `batch_size` at a time (paths are read by the worker). Results come in the order they
    finish, or in input order with `ordered` (holding finished ones back until the earlier
    ones are done).

    An image that cannot be read or analysed is yielded with `error` set and no pixels; the
    others go on. Closing the iterator early stops the workers.
    """
    options = options or Options()
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    known = len(source) if isinstance(source, Sized) and not isinstance(source, str) else None
    n = default_workers(known) if workers is None else workers
    if n < 1:
        raise ConfigError(f"workers must be at least 1 (or None), got {workers}")
    batches = _batches(dataset_inputs(source), batch_size)
    if n == 1:
        worker = ImageWorker(options)
        done: Iterator[DatasetItem] = (item for b in batches for item in worker(b))
    else:
        done = _pooled(batches, per_worker(options, n), n)
    return _in_order(done) if ordered else done


def _pooled(batches: Iterator[list[tuple[int, ImageInput]]], options: Options,
            workers: int) -> Iterator[DatasetItem]:
    threads = max(1, available_cores() // workers)
    with WorkerPool(partial(ImageWorker, options), workers, threads=threads) as pool:
        for fin in pool.run(batches):
            if fin.result is not None:
                yield from fin.result
            else:  # the worker process died on this batch, twice
                for i, item in fin.task:
                    src = Path(item) if isinstance(item, (str, Path)) else None
                    yield DatasetItem(i, src, None, (), f"{src or f'image {i}'}: {fin.error}")


def _in_order(items: Iterator[DatasetItem]) -> Iterator[DatasetItem]:
    held: dict[int, DatasetItem] = {}
    following = 0
    for item in items:
        held[item.index] = item
        while following in held:
            yield held.pop(following)
            following += 1


__all__ = ["DatasetItem", "ImageInput", "ImageWorker", "anonymize_images", "dataset_inputs"]
