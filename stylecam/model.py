"""AdaIN style-transfer network: frozen VGG-19 encoder, AdaIN, mirrored decoder.

Everything takes and returns RGB in [0, 1], NCHW.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import adain as A

STYLE_DIM = 512           # channels at relu4_1
SIZE_MULTIPLE = 8         # three 2× poolings
MIN_SIDE = 16             # reflection padding at relu4_1 (1/8 scale) needs ≥ 2 pixels


@dataclass(frozen=True)
class ModelConfig:
    size_multiple: int = SIZE_MULTIPLE
    style_size: int = 512        # style images are scaled so their longer side is at most this


# VGG-19 up to relu4_1: (name, in, out) per conv, "pool" for a 2× max-pool.
VGG_LAYERS = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64), "pool",
    ("conv2_1", 64, 128), ("conv2_2", 128, 128), "pool",
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256), "pool",
    ("conv4_1", 256, 512),
)
VGG_CONVS = tuple(layer for layer in VGG_LAYERS if layer != "pool")
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1")   # relu1_1 … relu4_1


def conv3x3(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3))


class Encoder(nn.Module):
    """VGG-19 conv1_1 … relu4_1, reflection padded, frozen.

    Built empty; ``stylecam.vgg.load_encoder`` fills in the offline weights,
    folds the pre-processing into conv1_1 and applies the normalization.
    ``version`` names the weights so caches can be keyed by it.
    """

    def __init__(self):
        super().__init__()
        self.version = "uninitialized"
        self.convs = nn.ModuleDict({name: conv3x3(c_in, c_out) for name, c_in, c_out in VGG_CONVS})
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor, all_layers: bool = False):
        """x: (N, 3, H, W) RGB [0, 1] -> relu4_1 (N, 512, H/8, W/8), or the four style layers."""
        feats = []
        for layer in VGG_LAYERS:
            if layer == "pool":
                x = F.max_pool2d(x, 2, 2)
                continue
            name = layer[0]
            x = F.relu(self.convs[name](x))
            if all_layers and name in STYLE_LAYERS:
                feats.append(x)
        return feats if all_layers else x

    def train(self, mode: bool = True):
        return super().train(False)   # frozen: never leaves eval mode


class Decoder(nn.Module):
    """Mirror of the encoder (docs/design.md §2): 9 convs, nearest 2× up-sampling, no norm, linear output,
    and the photo end of the strength dial.

    One decoder cannot both paint strongly and give the photo back: trained for both, it
    compromises on each (docs/model-card.md). So every conv's output is modulated by the
    strength α (FiLM, Perez et al. 2018; per-layer γ, β as conditional instance norm):
    h · (1 + (1 − α)·γ) + (1 − α)·β. At α = 1 this is exactly the plain AdaIN decoder; at
    α = 0, where AdaIN is the identity, it is the decoder that learned to give the photo
    back; in between it moves along with the features. γ and β start at 0, so a decoder
    file written before them loads unchanged and behaves as it did at every α."""

    def __init__(self):
        super().__init__()
        up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
        relu = lambda: nn.ReLU(inplace=True)                      # noqa: E731
        self.net = nn.Sequential(
            conv3x3(512, 256), relu(), up(),
            conv3x3(256, 256), relu(), conv3x3(256, 256), relu(), conv3x3(256, 256), relu(),
            conv3x3(256, 128), relu(), up(),
            conv3x3(128, 128), relu(), conv3x3(128, 64), relu(), up(),
            conv3x3(64, 64), relu(), conv3x3(64, 3),
        )
        widths = [layer[1].out_channels for layer in self.net if isinstance(layer, nn.Sequential)]
        self.photo_gain = nn.ParameterList(nn.Parameter(torch.zeros(c)) for c in widths)   # γ per conv
        self.photo_bias = nn.ParameterList(nn.Parameter(torch.zeros(c)) for c in widths)   # β per conv

    def forward(self, t: torch.Tensor, alpha: torch.Tensor | float = 1.0) -> torch.Tensor:
        """t: (N, 512, h, w); alpha: scalar or (N,) -> (N, 3, 8h, 8w) RGB, roughly [0, 1], not clamped."""
        w = 1 - torch.as_tensor(alpha, dtype=t.dtype, device=t.device).reshape(-1, 1, 1, 1)   # (N or 1, 1, 1, 1)
        one_alpha = w.shape[0] == 1      # every frame the runtime and its graphs decode: fold into the weights
        convs = 0
        for layer in self.net:
            if not isinstance(layer, nn.Sequential):
                t = layer(t)
                continue
            pad, conv = layer
            gain = 1 + w.reshape(-1, 1) * self.photo_gain[convs].to(t.dtype)   # (N or 1, C_out)
            bias = w.reshape(-1, 1) * self.photo_bias[convs].to(t.dtype)       # (N or 1, C_out)
            if one_alpha:
                # conv(x; W)·g + b = conv(x; W·g) with bias·g + b: a pass over the weights instead of
                # two over the activations (at α = 1, g = 1 and b = 0 exactly: the plain decoder's result)
                t = F.conv2d(pad(t), conv.weight * gain[0][:, None, None, None].to(conv.weight.dtype),
                             conv.bias * gain[0].to(conv.bias.dtype) + bias[0].to(conv.bias.dtype))
            else:                        # one α per sample (training): modulate the activations
                t = conv(pad(t)) * gain[:, :, None, None] + bias[:, :, None, None]
            convs += 1
        return t


def from_bgr_uint8(frames: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(…, H, W, 3) uint8 BGR, as OpenCV and PyAV hand frames over -> (…, 3, H, W) RGB in [0, 1].

    The cast comes first: in an exported graph only a Cast may touch the uint8 tensor
    (TensorRT takes UINT8 as a network input consumed by a Cast, nothing else)."""
    return frames.to(dtype).flip(-1).movedim(-1, -3) / 255


def to_bgr_uint8(images: torch.Tensor) -> torch.Tensor:
    """(…, 3, H, W) RGB in [0, 1] -> (…, H, W, 3) uint8 BGR (rounded, computed in float32).

    The cast comes last, for the same reason as in ``from_bgr_uint8``."""
    return images.float().mul(255).round().movedim(-3, -1).flip(-1).to(torch.uint8)


def pad_to_multiple(x: torch.Tensor, multiple: int = SIZE_MULTIPLE) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad H and W up to a multiple; returns the padded tensor and the original (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect")
    return x, (h, w)


class StyleNetwork(nn.Module):
    """The model API every network implements; backends, graphs, styles and smoothing see only this.

    A network sets
      ``kind``           its name in the registry (``stylecam.networks``), written into its files and graphs;
      ``config``         a frozen dataclass with at least ``size_multiple`` (what its frames' sides must
                         be a multiple of); saved in its file, so it must build the network;
      ``style_encoder``  the VGG the style statistics come from: the full model's for every network, so the
                         style cache, the bank and blends work unchanged;
      ``frozen``         the state-dict prefixes its file leaves out (that VGG, which every install has);
    and implements
      ``encode(x)``      (N, 3, H, W) RGB [0, 1], sides multiples of ``size_multiple`` -> features (N, C, h, w);
      ``decode(feat, content_mean, content_std, style_mean, style_std, alpha)`` -> (N, 3, H, W) RGB, not
                         clamped; content_mean/std: (N, C) float32, normally ``calc_mean_std(feat)`` (temporal
                         smoothing hands smoothed ones); style_mean/std: (N, 512) or (512,); alpha: scalar or (N,).
    ``forward`` (any frame size) and ``style_stats`` are written here, once, from those."""

    kind = ""
    frozen: tuple[str, ...] = ("style_encoder.",)

    def forward(self, content: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
                alpha: torch.Tensor | float = 1.0) -> torch.Tensor:
        """content: (N, 3, H, W) RGB [0, 1], any H, W the network takes (the full model: ≥ 16);
        style_mean/std: (N, 512) or (512,); alpha: scalar or (N,) -> (N, 3, H, W) RGB, clamped to [0, 1]."""
        x, (h, w) = pad_to_multiple(content, self.config.size_multiple)
        feat = self.encode(x)
        content_mean, content_std = A.calc_mean_std(feat)
        out = self.decode(feat, content_mean, content_std, style_mean, style_std, alpha)
        return out[..., :h, :w].clamp(0, 1)

    @torch.no_grad()
    def style_stats(self, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """style: (N, 3, H, W) RGB [0, 1] -> mean, std: (N, 512) float32 at relu4_1 of the VGG (padded to
        the VGG's multiple of 8, whatever the network's own)."""
        x, _ = pad_to_multiple(style, SIZE_MULTIPLE)
        return A.calc_mean_std(self.style_encoder(x))


class StyleTransfer(StyleNetwork):
    """encoder + AdaIN + decoder (docs/design.md §2): the full network."""

    kind = "full"
    frozen = ("encoder.",)             # the VGG is its content encoder too

    def __init__(self, encoder: Encoder, decoder: Decoder, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.decoder = decoder

    @property
    def style_encoder(self) -> Encoder:
        """The VGG encoder the style statistics come from (here also the content encoder)."""
        return self.encoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, H, W) RGB [0, 1], H and W multiples of 8 -> features (N, 512, H/8, W/8)."""
        return self.encoder(x)

    def decode(self, feat: torch.Tensor, content_mean: torch.Tensor, content_std: torch.Tensor,
               style_mean: torch.Tensor, style_std: torch.Tensor,
               alpha: torch.Tensor | float = 1.0) -> torch.Tensor:
        """AdaIN of ``feat`` normalized by (content_mean, content_std), then the decoder.

        feat: (N, 512, h, w); content_mean/std: (N, 512) float32, normally ``calc_mean_std(feat)``;
        style_mean/std: (N, 512) or (512,); alpha: scalar or (N,) -> (N, 3, 8h, 8w) RGB, not clamped."""
        t = A.adain_with_strength(feat, style_mean, style_std, alpha, content_mean, content_std)  # float32
        return self.decoder(t.to(feat.dtype), alpha)
