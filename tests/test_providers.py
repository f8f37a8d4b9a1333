"""The GPU path: ONNX Runtime's CUDA provider is taken when the installed runtime has it."""

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from faceless.detect import onnx as faceless_onnx
from faceless.detect.faces import STRIDE, CenterFaceDetector
from faceless.detect.ocr import TextModel
from faceless.detect.onnx import gpu_bucket
from textgen import draw_text, plate_scene, textured


def test_cuda_is_asked_for_first_when_the_runtime_has_it(monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert faceless_onnx.providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert faceless_onnx.providers(prefer_gpu=False) == ["CPUExecutionProvider"]


def test_the_cpu_alone_without_a_gpu_runtime(monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert faceless_onnx.providers() == ["CPUExecutionProvider"]


def test_the_face_detector_hands_its_session_the_cuda_provider(monkeypatch):
    """No change to the user's code: the same detector asks for CUDA when it is there."""
    asked: list[list[str]] = []
    real = ort.InferenceSession

    def session(model, sess_options=None, providers=None, provider_options=None):
        asked.append(list(zip(providers, provider_options, strict=True)))
        # The CPU build cannot run CUDA: load on the CPU what faceless asked for.
        return real(model, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", session)
    det = CenterFaceDetector()
    det.setup()
    # cuDNN picks its convolution kernels by heuristics: its default benchmarks every new
    # input shape, and each closer look's crop has a shape of its own.
    assert asked == [[("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}),
                      ("CPUExecutionProvider", {})]]


def _cuda_starts() -> bool:
    """onnxruntime-gpu is installed and its CUDA provider starts (a GPU, its libraries)."""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    det = CenterFaceDetector()
    det.setup()
    return "CUDAExecutionProvider" in det._session.get_providers()


@pytest.mark.skipif(not _cuda_starts(), reason="needs onnxruntime-gpu and a GPU")
def test_a_real_cuda_session_runs_the_face_model(astronaut, monkeypatch):
    det = CenterFaceDetector()
    det.setup()
    assert "CUDAExecutionProvider" in det._session.get_providers()
    assert det._sessions.gpu
    with monkeypatch.context() as m:  # the CPU's boxes, to compare with
        m.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
        want = CenterFaceDetector().detect(astronaut)
    for side in (512, 400, 512, 320):  # alternating shapes, each with its own session
        got = det.detect(np.ascontiguousarray(astronaut[:side, :side]))
        assert len(got) >= 1
    assert len(det._sessions.by_shape) >= 3
    got = det.detect(astronaut)
    assert len(got) == len(want) and abs(got.xyxy - want.xyxy).max() < 3.0


def test_a_cuda_provider_that_cannot_start_falls_back_to_the_cpu_and_says_why(
        monkeypatch, caplog, capsys, astronaut):
    """onnxruntime-gpu without its CUDA libraries: the run goes on on the CPU (never a frame
    left unanalysed), the log says why, and what ONNX Runtime printed is not printed."""
    said = []

    def preload_dlls():
        said.append(True)
        print("Failed to load libcudnn.so.9: cannot open shared object file")

    real = ort.InferenceSession

    def session(model, sess_options=None, providers=None, provider_options=None):
        # What ORT does when the CUDA provider cannot load, also on a machine where it can.
        print("EP Error: Falling back to ['CPUExecutionProvider'] and retrying.")
        return real(model, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(faceless_onnx, "_preloaded", [])
    monkeypatch.setattr(ort, "preload_dlls", preload_dlls, raising=False)
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", session)
    det = CenterFaceDetector()
    with caplog.at_level("WARNING", logger="faceless.detect.onnx"):
        det.setup()
        CenterFaceDetector().setup()  # a second session: the libraries load once per process
    assert said == [True]
    assert det._session.get_providers() == ["CPUExecutionProvider"]
    assert len(det.detect(astronaut)) >= 1
    assert faceless_onnx.device() is not None and "CPU" in faceless_onnx.device()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all("running on the CPU" in w for w in warnings)
    assert "libcudnn.so.9" in warnings[0] and "Falling back" in warnings[0]
    out = capsys.readouterr().out  # stdout stays the CLI's (its --json)
    assert "libcudnn" not in out and "Falling back" not in out


def test_gpu_buckets_are_few_and_hold_what_they_are_given():
    sides = range(32, 4097, 32)
    buckets = {gpu_bucket(s) for s in sides}
    assert all(gpu_bucket(s) >= s and gpu_bucket(s) % STRIDE == 0 for s in sides)
    assert len(buckets) <= 24
    assert gpu_bucket(384) == 384 and gpu_bucket(640) == 640  # the low pass pads no more
    # every crop up to 256 px (closer looks, a recogniser's line) shares one shape
    assert {gpu_bucket(s) for s in range(32, 257, 32)} == {256}


def _cpu_boxes(image):
    return CenterFaceDetector().detect(np.ascontiguousarray(image)).xyxy


def test_on_cuda_each_input_shape_bucket_gets_its_own_session(astronaut, monkeypatch):
    """ONNX Runtime's CUDA convolutions redo their set-up whenever the input shape changes;
    a session per bucketed shape keeps each one on a single shape. The extra padding is
    zeros, as the stride's is: the boxes stay those of the CPU path."""
    det = CenterFaceDetector()
    det.setup()
    det._sessions.gpu = True  # what setup finds when the session runs on CUDA
    monkeypatch.setattr(faceless_onnx, "GPU_SESSIONS", 4)
    crop = np.ascontiguousarray(astronaut[:300, :450])  # 320x480 at the stride, 384x512 here
    got, want = det.detect(crop).xyxy, _cpu_boxes(crop)
    # Within 2 px of a ~90x120 px box: the padding's rows still reach the network's far
    # corners, by about a pixel, a little more or less with each CPU's int8 kernels.
    assert len(got) == len(want) == 1 and abs(got - want).max() < 2.0
    shaped = det._sessions.by_shape
    assert (gpu_bucket(320), gpu_bucket(480)) == (384, 512) and (384, 512) in shaped
    assert shaped[(384, 512)] is det._session  # the first shape takes the first session
    made = dict(shaped)
    det.detect(crop)  # the same shapes again: the same sessions
    assert shaped == made
    # A face near the bottom edge of its input meets more padding below it (200 rows: 256
    # here, 224 on the CPU), and its box moves a few pixels, not more.
    edge = astronaut[:200, :280]
    got, want = det.detect(np.ascontiguousarray(edge)).xyxy, _cpu_boxes(edge)
    assert len(got) == len(want) == 1 and abs(got - want).max() < 6.0
    # A closer look's small crop (here 128x128 with a ~30 px face) runs padded to 256x256.
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    det = CenterFaceDetector()
    det.setup()
    det._sessions.gpu = True
    got, want = det.detect(small).xyxy, _cpu_boxes(small)
    assert (256, 256) in det._sessions.by_shape
    assert len(got) == len(want) == 1 and abs(got - want).max() < 2.0


def test_past_the_session_cap_the_smallest_bucket_that_holds_the_input_serves(monkeypatch):
    det = CenterFaceDetector()
    det.setup()
    sessions = det._sessions
    sessions.gpu = True
    monkeypatch.setattr(faceless_onnx, "GPU_SESSIONS", 2)
    big, _, _ = sessions.fit(640, 640)
    small, _, _ = sessions.fit(128, 128)
    assert big is not small and len(sessions.by_shape) == 2
    assert sessions.fit(300, 200) == (big, 640, 640)  # no third session: 640x640 holds it
    assert sessions.fit(64, 64) == (small, 256, 256)
    assert sessions.fit(1088, 1920) == (sessions.first, 1280, 2048)  # none holds it
    assert len(sessions.by_shape) == 2
    blob = np.zeros((1, 3, 640, 640), np.float32)  # and the stand-in really runs
    assert len(big.run(None, {det._input: blob})) == 4


def test_the_text_network_on_cuda_pads_to_its_bucket_and_reads_the_same():
    """The text network's crops vary in size as the face network's do."""
    img = textured(200, 330, seed=3, mean=200, spread=12)
    draw_text(img, "OPEN 9 TO 5", (20, 60), 36)
    want = TextModel().probability(img, tile=960, overlap=64)
    gpu = TextModel()
    gpu.setup()
    gpu._sessions.gpu = True
    got = gpu.probability(img, tile=960, overlap=64)
    assert got.shape == want.shape == img.shape[:2]
    assert list(gpu._sessions.by_shape) == [(gpu_bucket(224), gpu_bucket(352))] == [(256, 384)]
    a, b = want > 0.3, got > 0.3  # the text mask (DB's threshold) barely moves
    assert a.sum() > 500  # there is text to read
    assert (a & b).sum() / (a | b).sum() > 0.95


def test_the_recogniser_on_cuda_reads_the_same_lines_from_fixed_shapes(monkeypatch):
    """The plate recogniser's batch (1-8 lines) and width vary per call: on CUDA each batch
    is filled up to REC_BATCH and its width rounded up to a bucket, and it reads the same."""
    from faceless.detect.ocr import REC_BATCH, REC_HEIGHT, Recognizer

    img, _ = plate_scene("ABC 1234", width=200)
    draw_text(img, "OPEN 9 TO 5", (10, 10), 24)
    from faceless.detect.text import TextDetector

    found = TextDetector()
    found.setup()
    lines = found.find(img).quads
    assert len(lines) >= 2

    def reads(rec):
        said = []
        rec.judge(img, lines, lambda text, conf: said.append((text, conf)) or 0.0)
        return said

    want = reads(Recognizer())
    gpu = Recognizer()
    gpu.setup()
    gpu._sessions.gpu = True
    shapes = []
    real = gpu._sessions.fit

    def fit(height, width):
        session, h, w = real(height, width)
        shapes.append((h, w))
        return session, h, w

    monkeypatch.setattr(gpu._sessions, "fit", fit)
    runs = []
    real_run = gpu._sessions.first.run
    monkeypatch.setattr(gpu._sessions.first, "run",
                        lambda out, feed: runs.append(next(iter(feed.values())).shape)
                        or real_run(out, feed), raising=False)
    got = reads(gpu)
    assert [t for t, _ in got] == [t for t, _ in want] and "ABC 1234" in [t for t, _ in want]
    assert all(abs(a - b) < 0.03 for (_, a), (_, b) in zip(got, want, strict=True))
    assert runs and shapes
    assert all(h == REC_HEIGHT and w == gpu_bucket(w) for h, w in shapes)
    assert all(shape[0] == REC_BATCH for shape in runs)


def test_the_device_names_where_the_sessions_ran(monkeypatch):
    monkeypatch.setattr(faceless_onnx, "_ran_on", set())
    assert faceless_onnx.device() is None
    faceless_onnx._ran_on.add("CPUExecutionProvider")
    assert faceless_onnx.device() == "CPU"
    faceless_onnx._ran_on.add("CUDAExecutionProvider")
    assert faceless_onnx.device() == "CUDA and CPU"
