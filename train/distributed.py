"""Multi-process training with torchrun (DistributedDataParallel).

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them training is a
single process. NCCL on CUDA, gloo on the CPU (the test runs two CPU processes).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from stylecam.loading import pick_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup(device_name: str) -> tuple[DistInfo, torch.device]:
    """Join the process group if torchrun started us -> (info, this process's device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(device_name)
    if device.type == "cuda" and device.index is None:   # one explicit device for tensors and generators
        device = torch.device("cuda", torch.cuda.current_device())
    if world <= 1:
        return DistInfo(), device
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return info, device


def wrap(decoder: torch.nn.Module, info: DistInfo, device: torch.device) -> torch.nn.Module:
    """The module the training step calls: DDP averages gradients across processes."""
    if not info.active:
        return decoder
    from torch.nn.parallel import DistributedDataParallel
    return DistributedDataParallel(decoder, device_ids=[device.index] if device.type == "cuda" else None)


def any_true(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every process if it is true on any: all stop at the same iteration."""
    if not info.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def teardown(info: DistInfo) -> None:
    if info.active and dist.is_initialized():
        # rank 0 still exports and validates after the loop: a rank that tore gloo down first
        # made its peer abort at exit (SIGABRT, seen once in ~18 runs of the DDP test)
        dist.barrier()
        dist.destroy_process_group()
