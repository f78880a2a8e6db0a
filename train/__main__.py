"""python -m train: train the AdaIN decoder (see train/config.py for the options)."""
from __future__ import annotations

import sys

from stylecam.entry import entry_point


def log(*args) -> None:
    print(*args, flush=True)


@entry_point("train")
def main(argv: list[str] | None = None) -> int:
    from .config import build_parser, config_from_args
    cfg = config_from_args(build_parser().parse_args(argv))
    from . import distributed
    from .loop import Trainer
    trainer = Trainer(cfg, log)
    try:
        result = trainer.run()
    finally:
        distributed.teardown(trainer.info)
    if trainer.info.main:
        log(f"done: {result['iterations']} iterations, {result['image_steps']} image-steps, "
            f"{result['images_per_s']} img/s; decoder in {cfg.out / 'decoder.pt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
