"""Shared fixtures: a throw-away random decoder (export.random_weights), synthetic images, an isolated style cache.

Nothing here reads ../shared: every image and clip is generated.
"""
from __future__ import annotations

import importlib.util
import os

# One intra-op thread, here and in every subprocess a test starts: the tensors are tiny, so a second
# thread's hand-offs cost more than it computes, and it fights the other test worker for the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def synthetic_rgb(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A small photo-like RGB uint8 image: gradients, a disc and a bar, a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / w, y / h, 1 - x / w], -1) * 200 + 30
    cv2.circle(img, (w // 3, h // 2), max(3, min(h, w) // 5), (250, 220, 40), -1)
    cv2.rectangle(img, (w // 2, h // 4), (w // 2 + w // 6, 3 * h // 4), (20, 60, 200), -1)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Style statistics are cached under XDG_CACHE_HOME: keep tests away from the user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def random_decoder(tmp_path_factory):
    """Path to a randomly initialized decoder (plumbing only; never committed). Every test that
    needs "a model with a random decoder" starts here, through ``model`` or ``lively_model``."""
    from export.random_weights import random_decoder
    from stylecam.loading import save_decoder
    path = tmp_path_factory.mktemp("assets") / "decoder.pt"
    save_decoder(random_decoder(), path, {"note": "random init for tests"})
    return path


@pytest.fixture(scope="session")
def model(random_decoder):
    """The full StyleTransfer on the CPU with the random decoder."""
    from stylecam.loading import load_model
    return load_model(random_decoder)


@pytest.fixture
def photo(tmp_path):
    """A 64×48 synthetic JPEG photo on disk."""
    p = tmp_path / "photo.jpg"
    cv2.imwrite(str(p), cv2.cvtColor(synthetic_rgb(48, 64), cv2.COLOR_RGB2BGR))
    return p


@pytest.fixture
def style_image(tmp_path):
    """A 64×64 synthetic 'painting' (strong colours, stripes) on disk."""
    rng = np.random.default_rng(7)
    img = np.zeros((64, 64, 3), np.uint8)
    for i in range(0, 64, 8):
        img[:, i:i + 4] = rng.integers(0, 255, 3)
    p = tmp_path / "painting.png"
    cv2.imwrite(str(p), img)
    return p


@pytest.fixture(scope="session")
def lively_model(model):
    """``model`` with its random decoder's output spread over [0, 1] (``spread_output``): a raw
    random decoder gives a near-constant image, useless for parity checks."""
    import copy

    from export.random_weights import spread_output
    from stylecam.images import to_tensor
    content, style = to_tensor(synthetic_rgb(64, 64, seed=1)), to_tensor(synthetic_rgb(64, 64, seed=2)[:, ::-1].copy())
    return spread_output(copy.deepcopy(model), content, style)


@pytest.fixture(scope="session")
def lively_decoder(lively_model, tmp_path_factory):
    """``lively_model``'s decoder as a file (float32: the same weights, so the same cached graphs)."""
    from stylecam.loading import save_decoder
    return save_decoder(lively_model.decoder, tmp_path_factory.mktemp("lively") / "decoder.pt", {}, half=False)


HAS_ORT = importlib.util.find_spec("onnxruntime") is not None
HAS_OV = importlib.util.find_spec("openvino") is not None
HAS_TRT = importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()
# Every backend runs the same split and smoothing tests; TensorRT where it is installed.
SPLIT_BACKENDS = ["torch",
                  pytest.param("onnxruntime", marks=pytest.mark.skipif(not HAS_ORT, reason="needs onnxruntime")),
                  pytest.param("openvino", marks=pytest.mark.skipif(not HAS_OV, reason="needs openvino")),
                  pytest.param("tensorrt", marks=[pytest.mark.tensorrt,
                                                  pytest.mark.skipif(not HAS_TRT, reason="needs TensorRT and CUDA")])]


@pytest.fixture(scope="session")
def make_backend(lively_model):
    """name -> a backend on a copy of ``lively_model``, ready for encode/decode: FP32 on the CPU
    (TensorRT: its CUDA engine). Made once per session: the graph backends export their frame,
    encoder and decoder graphs once."""
    import copy

    from stylecam.backends import create
    made = {}

    def make(name):
        if name not in made:
            device, precision = ("auto", "auto") if name == "tensorrt" else ("cpu", "fp32")
            made[name] = create(name, copy.deepcopy(lively_model), device, precision, split=True).backend
        return made[name]
    return make
