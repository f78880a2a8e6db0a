"""python -m train.lite: distil stylecam-lite from the full model (see train/lite_config.py for the options)."""
from __future__ import annotations

import sys

from stylecam.entry import entry_point
from stylecam.safeio import new_folder


def log(*args) -> None:
    print(*args, flush=True)


@entry_point("train.lite")
def main(argv: list[str] | None = None) -> int:
    from .lite_config import build_parser, config_from_args
    cfg = config_from_args(build_parser().parse_args(argv))
    from .lite_loop import LiteTrainer
    with new_folder(cfg.out):                      # a run refused (bad data, ...) leaves no empty folder
        result = LiteTrainer(cfg, log).run()
    log(f"done: {result['iterations']} iterations, {result['image_steps']} image-steps, "
        f"{result['images_per_s']} img/s; student in {cfg.out / 'lite.pt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
