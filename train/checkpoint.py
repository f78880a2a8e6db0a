"""Training checkpoints: everything needed to continue a run exactly.

A checkpoint holds only tensors, numbers, strings and plain containers, so it
loads with ``torch.load(..., weights_only=True)``; the random state is the
``torch.Generator`` state tensor. With Adam's moments it is about 42 MB:
too big to ship, so the shipped artefact is the fp16 decoder alone
(``stylecam.loading.save_decoder``) and a new run can start from it with
``--init-from``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from stylecam.errors import UserError
from stylecam.loading import load_decoder
from stylecam.networks.full import decoder_state
from stylecam.model import Decoder
from stylecam.safeio import make_folder, save_torch

FORMAT = "stylecam-train-checkpoint-1"


def save_checkpoint(path: Path, fmt: str, weights_key: str, weights: dict, optimizer: torch.optim.Optimizer,
                    iteration: int, image_steps: int, train_seconds: float, generator: torch.Generator,
                    config: dict) -> None:
    """Either trainer's checkpoint: its format, its network's weights under ``weights_key``, Adam,
    the counters, the clock, the random state and the run's options."""
    state = {
        "format": fmt,
        weights_key: weights,
        "optimizer": optimizer.state_dict(),
        "iteration": iteration,
        "image_steps": image_steps,
        "train_seconds": train_seconds,
        "rng": generator.get_state(),
        "rng_device": str(generator.device),
        "config": config,
    }
    make_folder(path.parent)
    save_torch(state, path)


def decoder_weights(decoder: Decoder) -> dict:
    return {k: v.detach().float().cpu() for k, v in decoder.state_dict().items()}


def read_checkpoint(path: Path, fmt: str, what: str, weights_key: str | tuple[str, ...],
                    weights_hint: str) -> dict:
    """The checkpoint of format ``fmt`` at ``path`` (``what``: its name in messages), or a UserError
    naming what is wrong with the file; a weights file (it holds ``weights_key``) gets ``weights_hint``."""
    if not path.is_file():
        raise UserError(f"--resume {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, pickle of foreign classes, not a torch file
        raise UserError(f"--resume {path}: not a loadable checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        keys = (weights_key,) if isinstance(weights_key, str) else weights_key
        hint = f" ({weights_hint})" if isinstance(state, dict) and any(k in state for k in keys) else ""
        raise UserError(f"--resume {path}: not {what}{hint}")
    return state


def load_checkpoint(path: Path) -> dict:
    """A decoder training checkpoint, or a UserError naming what is wrong with the file."""
    state = read_checkpoint(path, FORMAT, "a stylecam training checkpoint", ("weights", "net.0.1.weight"),
                            "a decoder file: use --init-from")
    try:
        Decoder().load_state_dict(decoder_state(state["decoder"]))
    except (RuntimeError, AttributeError, TypeError):
        raise UserError(f"--resume {path}: its decoder is from another architecture "
                        "(tensor names or shapes differ)") from None
    return state


def restore(state: dict, optimizer: torch.optim.Optimizer, generator: torch.Generator, mismatch: str,
            log=print) -> tuple[int, int, float]:
    """Adam and the random state of a checkpoint into live objects (the weights are the trainer's:
    already loaded) -> (iteration, image_steps, train_seconds). mismatch: the message where Adam's
    state does not fit."""
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError):
        raise UserError(mismatch) from None
    if state.get("rng_device") == str(generator.device):
        generator.set_state(state["rng"])
    else:   # a CPU checkpoint resumed on CUDA (or back): the streams differ anyway
        log(f"checkpoint RNG was on {state.get('rng_device')}, training on {generator.device}: reseeding")
        generator.manual_seed(int(state["iteration"]) + 1)
    return int(state["iteration"]), int(state["image_steps"]), float(state.get("train_seconds", 0.0))


def restore_decoder(state: dict, decoder: Decoder, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator, log=print) -> tuple[int, int, float]:
    decoder.load_state_dict(decoder_state(state["decoder"]))
    if not any(k.startswith("photo_gain.") for k in state["decoder"]):
        mismatch = ("the checkpoint predates the decoder's strength modulation, so its optimizer state "
                    "does not fit: start a new run from its weights with --init-from CHECKPOINT")
    else:
        mismatch = "the checkpoint's optimizer state does not match this decoder"
    return restore(state, optimizer, generator, mismatch, log)


def init_decoder(path: Path | None) -> Decoder:
    """A fresh decoder, or one warm-started from a decoder file (fp16 or fp32, or a checkpoint)."""
    if path is None:
        return Decoder()
    decoder = load_decoder(path)          # UserError for missing, foreign or mismatched files
    return decoder.requires_grad_(True).train()
