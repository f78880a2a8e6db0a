"""PyTorch backend: CPU, or CUDA with fp16/bf16 and channels_last."""
from __future__ import annotations

import numpy as np
import torch

from ..model import StyleTransfer
from .base import Backend


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, model: StyleTransfer, device: torch.device, dtype: torch.dtype = torch.float32):
        self.model = model.to(device).eval()
        self.torch_device = device
        self.dtype = dtype
        if device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
            if dtype != torch.float32:
                # AdaIN statistics stay float32 inside model.forward (adain.calc_mean_std casts)
                self.model.encoder.to(dtype)
                self.model.decoder.to(dtype)

    @property
    def device(self) -> str:
        if self.torch_device.type == "cuda":
            name = torch.cuda.get_device_name(self.torch_device)
            return f"{self.torch_device} ({name}) {str(self.dtype).removeprefix('torch.')}"
        return f"cpu ({torch.get_num_threads()} threads)"

    @torch.inference_mode()
    def stylize(self, frames, style_mean, style_std, alpha=1.0):
        single = frames.ndim == 3
        batch = frames[None] if single else frames
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.torch_device, non_blocking=True)
        x = x.flip(-1).permute(0, 3, 1, 2).to(self.dtype).div_(255)           # (N, 3, H, W) RGB
        if self.torch_device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        mean = style_mean.to(self.torch_device, torch.float32)
        std = style_std.to(self.torch_device, torch.float32)
        y = self.model(x, mean, std, alpha)                                   # (N, 3, H, W) [0, 1]
        out = y.mul(255).round_().to(torch.uint8).permute(0, 2, 3, 1).flip(-1)  # (N, H, W, 3) BGR
        out = out.cpu().numpy()
        return out[0] if single else out
