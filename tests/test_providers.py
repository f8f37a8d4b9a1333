"""The GPU path: ONNX Runtime's CUDA provider is taken when the installed runtime has it."""

import onnxruntime as ort
import pytest

from faceless.detect import onnx as faceless_onnx
from faceless.detect.faces import CenterFaceDetector


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


@pytest.mark.skipif("CUDAExecutionProvider" not in ort.get_available_providers(),
                    reason="needs onnxruntime-gpu and a GPU")
def test_a_real_cuda_session_runs_the_face_model(astronaut):
    det = CenterFaceDetector()
    det.setup()
    assert "CUDAExecutionProvider" in det._session.get_providers()
    assert len(det.detect(astronaut)) >= 1


def test_a_cuda_provider_that_cannot_start_falls_back_to_the_cpu_and_says_why(
        monkeypatch, caplog, capsys, astronaut):
    """onnxruntime-gpu without its CUDA libraries: the run goes on on the CPU (never a frame
    left unanalysed), the log says why, and what ONNX Runtime printed is not printed."""
    said = []

    def preload_dlls():
        said.append(True)
        print("Failed to load libcudnn.so.9: cannot open shared object file")

    monkeypatch.setattr(faceless_onnx, "_preloaded", [])
    monkeypatch.setattr(ort, "preload_dlls", preload_dlls, raising=False)
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    det = CenterFaceDetector()
    with caplog.at_level("WARNING", logger="faceless.detect.onnx"):
        det.setup()
        CenterFaceDetector().setup()  # a second session: the libraries load once per process
    assert said == [True]
    assert det._session.get_providers() == ["CPUExecutionProvider"]
    assert len(det.detect(astronaut)) >= 1
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all("running on the CPU" in w for w in warnings)
    assert "libcudnn.so.9" in warnings[0]
    assert "libcudnn" not in capsys.readouterr().out
