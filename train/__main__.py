"""python -m train: train the AdaIN decoder (see train/config.py for the options)."""
from __future__ import annotations

import sys


def log(*args) -> None:
    print(*args, flush=True)


def main(argv: list[str] | None = None) -> int:
    from stylecam.errors import UserError
    from .config import build_parser, config_from_args
    args = build_parser().parse_args(argv)
    info = None
    try:
        from . import distributed
        from .loop import Trainer
        cfg = config_from_args(args)
        trainer = Trainer(cfg, log)
        info = trainer.info
        result = trainer.run()
        if info.main:
            log(f"done: {result['iterations']} iterations, {result['image_steps']} image-steps, "
                f"{result['images_per_s']} img/s; decoder in {cfg.out / 'decoder.pt'}")
        return 0
    except UserError as e:
        print(f"train: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("train: interrupted", file=sys.stderr)
        return 130
    finally:
        if info is not None:
            distributed.teardown(info)


if __name__ == "__main__":
    sys.exit(main())
