"""The network registry: a third network is one class and one registration, and then runs through
`stylecam image` on two backends; every file written says its kind and version; --model PATH reads the
kind from the file, old files included (the shipped assets/lite.pt predates the envelope)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn

from conftest import HAS_ORT
from stylecam import networks
from stylecam.cli import main
from stylecam.lite import style_code
from stylecam.model import StyleNetwork, from_bgr_uint8, to_bgr_uint8
from stylecam.styles import StyleLibrary

ROOT = Path(__file__).resolve().parent.parent


# -- a third network: one class, one registration ----------------------------------------------------

@dataclass(frozen=True)
class ToyConfig:
    width: int = 4
    size_multiple: int = 2


class ToyNetwork(StyleNetwork):
    """A stride-2 conv, a 1×1 conv back to RGB after nearest up-sampling, and a colour shift taken
    from the style code: tiny, but the style changes the pixels."""

    kind = "toy"

    def __init__(self, style_encoder, config: ToyConfig = ToyConfig()):
        super().__init__()
        self.config, self.style_encoder = config, style_encoder
        self.encoder = nn.Conv2d(3, config.width, 2, stride=2)
        self.decoder = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(config.width, 3, 1))
        self.colour = nn.Linear(1024, 3)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, feat, content_mean, content_std, style_mean, style_std, alpha=1.0):
        alpha = torch.as_tensor(alpha, dtype=torch.float32).reshape(-1, 1, 1, 1)
        shift = torch.tanh(self.colour(style_code(style_mean, style_std)))[..., None, None]   # (N or 1, 3, 1, 1)
        return self.decoder(feat) + alpha * shift


@pytest.fixture
def toy(tmp_path):
    networks.register(networks.NetworkKind(
        name="toy", model=ToyNetwork, config=ToyConfig, build=lambda config, vgg: ToyNetwork(vgg, config),
        asset="toy.pt", noun="toy network", hint="save one with stylecam.networks.save"))
    try:
        from stylecam.vgg import load_encoder
        torch.manual_seed(3)
        net = networks.random_network(networks.get("toy"), load_encoder())
        with torch.no_grad():                   # an output around mid-grey, off the clamp
            net.decoder[1].weight.mul_(0.2)
            net.decoder[1].bias.fill_(0.5)
            net.colour.weight.mul_(0.05)
        yield net, networks.save(net, tmp_path / "toy.pt", {"note": "a test network"}, half=False)
    finally:
        networks.unregister("toy")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("backend", ["torch", pytest.param("onnxruntime", marks=pytest.mark.skipif(
    not HAS_ORT, reason="needs onnxruntime"))])
def test_a_registered_toy_network_runs_through_image(capsys, toy, photo, style_image, tmp_path, backend):
    net, path = toy
    raw = torch.load(path, weights_only=True)
    assert (raw["format"], raw["kind"], raw["version"]) == (networks.FORMAT, "toy", 1)
    assert not any(k.startswith("style_encoder.") for k in raw["weights"])    # the VGG is not saved
    out = tmp_path / "toy.png"
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", out, "--model", path, "--backend", backend,
                       "--size", "0")
    assert code == 0, err
    assert f"model: toy (--model {path} holds the toy network)\nbackend: {backend}" in err
    got = cv2.imread(str(out))
    bgr = cv2.imread(str(photo))
    style = StyleLibrary(net.style_encoder).from_image(style_image)      # as every command takes a style
    mean, std = style.mean, style.std
    with torch.no_grad():
        want = to_bgr_uint8(net(from_bgr_uint8(torch.from_numpy(bgr)[None]), mean, std, 1.0))[0].numpy()
    assert got.shape == bgr.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 2          # the toy's own pixels, either backend
    assert np.abs(got.astype(int) - bgr.astype(int)).mean() > 5           # not the photo


def test_model_path_reads_the_kind_from_the_file_old_formats_too(capsys, random_decoder, photo, style_image,
                                                                  tmp_path):
    shipped = torch.load(ROOT / "assets" / "lite.pt", weights_only=True)
    first_lite = tmp_path / "first_lite.pt"                   # the first lite format: its own marker, no kind
    torch.save({"format": "stylecam-lite", **{k: shipped[k] for k in ("version", "config", "weights")}}, first_lite)
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", tmp_path / "a.png", "--model", first_lite,
                       "--backend", "torch", "--size", "32")
    assert code == 0 and f"model: lite (--model {first_lite} holds the lite network)" in err, err
    bare = tmp_path / "bare.pt"                               # a decoder written before the envelope
    torch.save(networks.load(networks.get("full"), random_decoder).decoder.state_dict(), bare)
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", tmp_path / "b.png", "--model", bare,
                       "--backend", "torch", "--size", "32")
    assert code == 0 and f"model: full (--model {bare} holds the full network)" in err, err
    assert torch.load(random_decoder, weights_only=True)["kind"] == "full"     # written now: says its kind


@pytest.mark.parametrize("content, message", [
    ({"format": networks.FORMAT, "kind": "huge", "version": 1, "config": {}, "weights": {}},
     "holds a 'huge' network, which this stylecam does not know (it runs full, lite)"),
    ({"something": "else"}, "is not a stylecam network file (stylecam reads a decoder of the full model (full), "
                            "a stylecam-lite model (lite))"),
    (None, "--model {path}: no such file"),
])
def test_model_path_that_is_no_network_is_one_line(capsys, photo, style_image, tmp_path, content, message):
    path = tmp_path / "weights.pt"
    if content is not None:
        torch.save(content, path)
    out = tmp_path / "never.png"
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", out, "--model", path)
    assert code == 2 and err.count("\n") == 1 and message.format(path=path) in err, err
    assert not out.exists()


def test_model_path_and_its_alias_for_the_same_network_is_refused(capsys, random_decoder, photo, style_image,
                                                                   tmp_path):
    code, _, err = run(capsys, "image", photo, "-s", style_image, "-o", tmp_path / "a.png",
                       "--model", random_decoder, "--decoder", random_decoder)
    assert code == 2 and "both name the full network's file: give one" in err, err
