"""python -m train.lite: distil stylecam-lite from the full model (see train/lite_config.py for the options)."""
from __future__ import annotations

import sys


def log(*args) -> None:
    print(*args, flush=True)


def main(argv: list[str] | None = None) -> int:
    from stylecam.errors import UserError
    from .lite_config import build_parser, config_from_args
    args = build_parser().parse_args(argv)
    try:
        from .lite_loop import LiteTrainer
        cfg = config_from_args(args)
        result = LiteTrainer(cfg, log).run()
        log(f"done: {result['iterations']} iterations, {result['image_steps']} image-steps, "
            f"{result['images_per_s']} img/s; student in {cfg.out / 'lite.pt'}")
        return 0
    except UserError as e:
        print(f"train.lite: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("train.lite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
