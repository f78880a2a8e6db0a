"""The decoder's trainer: one Trainer owns the networks, the optimizer and the data; the loop,
clock, checkpoints and JSON are the skeleton's (``train.skeleton``)."""
from __future__ import annotations

import torch

from stylecam.images import write_image
from stylecam.loading import decoder_meta, save_decoder
from stylecam.model import StyleTransfer
from stylecam.safeio import make_folder
from stylecam.sheet import contact_sheet
from stylecam.vgg import load_encoder

from . import distributed
from .batches import CachedBatches, LiveBatches
from .checkpoint import FORMAT, decoder_weights, init_decoder, load_checkpoint, restore_decoder
from .config import TrainConfig, check_out
from .data import load_pool, read_named
from .evaluate import model_network, paintings, prepare, reconstruct, score_pairs, set_names, summarize
from .losses import LAYERS, TERMS, decoder_loss, identity_count
from .progress import fmt
from .skeleton import Run, autocast_dtype, device_name

# options added after the first checkpoints were written (a resumed older run starts them at this run's values)
NEW_OPTIONS = ("identity_share", "identity_pixel_weight", "identity_feature_weight", "stability_weight",
               "stability_warp", "modulation_lr_scale", "colour_weight", "relu1_1_weight", "train_last")


def trained_parameters(decoder: torch.nn.Module, last: int = 0) -> list[tuple[str, torch.nn.Parameter]]:
    """The (name, parameter) pairs a run trains: every one, or those of the last ``last`` convs
    (weights, biases, γ and β); the others are frozen (requires_grad off)."""
    convs = [i for i, layer in enumerate(decoder.net) if isinstance(layer, torch.nn.Sequential)]
    first = len(convs) - last if last else 0
    layers = tuple(f"net.{i}." for i in convs[first:])
    modulation = {f"photo_{kind}.{j}" for kind in ("gain", "bias") for j in range(first, len(convs))}
    chosen = []
    for name, p in decoder.named_parameters():
        train = name.startswith(layers) or name in modulation
        p.requires_grad_(train)
        if train:
            chosen.append((name, p))
    return chosen


class Trainer(Run):
    network, out_file = "decoder", "decoder.pt"
    checkpoint_format, checkpoint_key = FORMAT, "decoder"
    recipe_keys = ("batch", "crop", "short_side", "scale_jitter", "lr", "lr_decay", "style_weight",
                   "identity_share", "identity_pixel_weight", "identity_feature_weight", "stability_weight",
                   "stability_warp", "modulation_lr_scale", "colour_weight", "relu1_1_weight", "train_last", "precision",
                   "cache_features", "cache_pool", "seed")

    def __init__(self, cfg: TrainConfig, log=print):
        self.cfg, self.log = cfg, log
        self.info, self.device = distributed.setup(cfg.device)
        check_out(cfg, self.out_file)         # OUT is created only once every input has loaded (end of __init__)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True      # fixed crop size: autotune once
        self.weights = cfg.loss_weights()
        self.amp_dtype = autocast_dtype(cfg.precision, self.device)
        # off unless asked: on an H100 bf16 + channels_last trained slower than fp32 (273 vs 295 img/s),
        # reflection padding being slow in NHWC (docs/training.md)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format

        torch.manual_seed(cfg.seed)                     # decoder initialization
        self.encoder = load_encoder(cfg.weights).to(self.device, memory_format=self.memory_format)
        self.decoder = init_decoder(cfg.init_from).to(self.device, memory_format=self.memory_format)
        # fused Adam: one kernel for all parameters instead of a few per tensor on the GPU
        # the strength modulation starts at 0 and Adam moves a parameter about lr per step: at the
        # convs' lr it would take ~10^4 steps to reach 1, hence its own scale
        trained = trained_parameters(self.decoder, cfg.train_last)
        modulation = [p for name, p in trained if name.startswith("photo_")]
        convs = [p for name, p in trained if not name.startswith("photo_")]
        self.optimizer = torch.optim.Adam([{"params": convs, "lr_scale": 1.0},
                                           {"params": modulation, "lr_scale": cfg.modulation_lr_scale}],
                                          lr=cfg.lr, fused=True if self.device.type == "cuda" else None)
        self.generator = torch.Generator(self.device)
        self.generator.manual_seed(cfg.seed + 1000 * self.info.rank)
        self.iteration, self.image_steps, self.prior_seconds = 0, 0, 0.0
        self.resumed: dict | None = None       # where a resumed run stood, for decoder.json
        if cfg.resume:
            state = load_checkpoint(cfg.resume)
            self.iteration, self.image_steps, self.prior_seconds = restore_decoder(
                state, self.decoder, self.optimizer, self.generator, log)
            saved = state.get("config") or {}
            self._note_new_options(saved)
            self.resumed = {"from": str(cfg.resume), "at_iteration": self.iteration,
                            "init_from": saved.get("init_from"), "recipe_before": saved}
            if self.info.rank:         # each process keeps its own stream of crops
                self.generator.manual_seed(cfg.seed + 1000 * self.info.rank + self.iteration)

        self.content = load_pool(cfg.content, "--content", cfg.short_side, cfg.crop, self.device, log)
        self.style = load_pool(cfg.style, "--style", cfg.short_side, cfg.crop, self.device, log)
        if cfg.cache_features:
            # its own generator: a resumed run rebuilds exactly the same pool
            cache_rng = torch.Generator(self.device)
            cache_rng.manual_seed(cfg.seed + 7919 + self.info.rank)
            self.batches = CachedBatches(self.encoder, self.content, self.style, cfg.crop, cfg.scale_jitter,
                                         cache_rng, cfg.cache_pool, log)
            self.batches.generator = self.generator
        else:
            self.batches = LiveBatches(self.encoder, self.content, self.style, cfg.crop, cfg.scale_jitter,
                                       self.generator, self.memory_format)
        model = distributed.wrap(self.decoder, self.info, self.device)
        self.step_decoder = torch.compile(model) if cfg.compile else model
        self.step_encoder = torch.compile(self.encoder) if cfg.compile else self.encoder
        self.val = self._load_val() if self.info.main else None
        self.last_loss: dict = {}
        self.last_val: dict = {}
        if self.info.main:
            make_folder(cfg.out)

    # --- setup helpers -------------------------------------------------------
    def _note_new_options(self, saved: dict) -> None:
        """A checkpoint written before the identity and stability terms: say they start now."""
        new = [k for k in NEW_OPTIONS if k not in saved]
        if new and self.info.main:
            self.log(f"checkpoint predates {', '.join('--' + k.replace('_', '-') for k in new)}: "
                     f"these start now at {', '.join(f'{getattr(self.cfg, k):g}' for k in new)}")

    def _load_val(self):
        cfg = self.cfg
        if not cfg.val_content:
            return None
        sets, photo_names, photos = [], [], []
        for name, folder in zip(set_names(list(cfg.val_content)), cfg.val_content):
            names, images = read_named(folder, "--val-content", self.log)
            sets += [name] * len(images)
            photo_names += names
            photos += images
        style_names, styles = read_named(cfg.val_style, "--val-style", self.log)
        n = min(cfg.val_pairs, max(len(photos), len(styles)))
        pairs = [(i * len(photos) // n, i % len(styles)) for i in range(n)]    # photos spread over every set
        return {"photos": prepare(photos, cfg.val_size), "styles": prepare(styles, cfg.val_style_size),
                "names": (photo_names, style_names), "sets": sets, "pairs": pairs}

    # --- the skeleton's hooks -----------------------------------------------------------------------
    def loss(self):
        batch = self.batches.next(self.cfg.batch, identity_count(self.cfg.batch, self.cfg.identity_share,
                                                                 self.generator))
        terms = decoder_loss(self.step_encoder, self.step_decoder, batch, self.weights, self.generator,
                             self.memory_format)
        return terms.total, terms.parts, terms.present

    def term_weights(self) -> list[float]:
        return self.weights.vector()

    def terms(self, means: list[float | None]) -> tuple[dict, str]:
        t = dict(zip(TERMS, means))
        style = [t[f"style_{layer}"] for layer in LAYERS]
        text = (f"content {fmt(t['content'])}  style {fmt(sum(style) if None not in style else None)} "
                f"[{' '.join(fmt(v) for v in style)}]  identity px {fmt(t['identity_pixel'])} "
                f"feat {fmt(t['identity_feature'])}")
        for name in ("stability", "colour"):
            if t[name] is not None:
                text += f"  {name} {fmt(t[name], 5)}"
        return {"content": t["content"], "style": dict(zip(LAYERS, style)),
                **{k: t[k] for k in ("identity_pixel", "identity_feature", "stability", "colour")}}, text

    def has_val(self) -> bool:
        return self.val is not None

    def run(self) -> dict:
        cfg = self.cfg
        if self.info.main:
            self.log(f"training on {device_name(self.device)} ({self.device}), {self.info.world} process(es), "
                     f"precision {self.amp_dtype or 'fp32'}, "
                     f"{'channels_last' if self.memory_format is torch.channels_last else 'NCHW'}, "
                     f"batch {cfg.batch}, crop {cfg.crop} from shorter side {cfg.short_side}, "
                     f"{len(self.content)} content / {len(self.style)} style images, "
                     f"{'feature cache' if cfg.cache_features else 'live encoding'}; from iteration {self.iteration}")
        return super().run()

    # --- outputs -------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict:
        v = self.val
        self.decoder.eval()
        network = model_network(StyleTransfer(self.encoder, self.decoder))
        styles = paintings(self.encoder, v["styles"], self.device)
        rows, outputs = score_pairs(self.encoder, network, v["photos"], styles, v["pairs"], self.device)
        shown = sorted({i for i, _ in v["pairs"]})
        ssim0, alpha0 = reconstruct(network, [v["photos"][i] for i in shown], styles[0], self.device)
        self.decoder.train()
        self.last_val = {**summarize(rows, ssim0), "pairs": len(rows), "iteration": self.iteration, "sets": {
            name: summarize([r for r in rows if v["sets"][r["content"]] == name],
                            [s for i, s in zip(shown, ssim0) if v["sets"][i] == name])
            for name in dict.fromkeys(v["sets"][i] for i in shown)}}
        m = self.last_val
        self.log(f"val @ {self.iteration}: content {m['content_loss']:.4f}  style {m['style_loss']:.4f}  "
                 f"(photo {m['style_loss_photo']:.4f}, ratio {m['style_ratio']:.3f})  relu1_1 ratio {m['relu1_1_ratio']:.3f}  "
                 f"colour ratio {m['colour_ratio']:.3f}  SSIM "
                 + "  ".join(f"{name} a0 {f['ssim_alpha0']:.3f} a1 {f['ssim_alpha1']:.3f}"
                             for name, f in m["sets"].items()))
        photo_names, style_names = v["names"]
        at = dict(zip(shown, alpha0))
        grid_rows = [[v["photos"][i], at[i], v["styles"][j], outputs[(i, j)]] for i, j in v["pairs"]]
        labels = [f"{photo_names[i]} x {style_names[j]}" for i, j in v["pairs"]]
        write_image(self.cfg.out / "val_samples.png",
                    contact_sheet(grid_rows, ["photo", "alpha 0", "style", f"output @ {self.iteration}"], labels,
                                  self.cfg.sheet_cell))
        return self.last_val

    def checkpoint_weights(self) -> dict:
        return decoder_weights(self.decoder)

    def meta_extra(self) -> dict:
        cfg = self.cfg
        return {
            "processes": self.info.world,
            "channels_last": self.memory_format is torch.channels_last,
            "data": {"content": str(cfg.content), "style": str(cfg.style),
                     "content_images": len(self.content), "style_images": len(self.style),
                     "val_content": [str(f) for f in cfg.val_content],
                     "val_photos": len(self.val["photos"]) if self.val else 0,
                     "val_styles": len(self.val["styles"]) if self.val else 0,
                     "val_style": str(cfg.val_style) if cfg.val_style else None},
            "init_from": self._init_meta(),
            "resumed": self._resumed_meta(),
            "encoder": self.encoder.version,
        }

    def _resumed_meta(self) -> dict | None:
        """A resumed run: the checkpoint, its iteration and the recipe it had until then (options may change)."""
        if not self.resumed:
            return None
        keys = self.recipe_keys
        return {**{k: self.resumed[k] for k in ("from", "at_iteration")},
                "recipe_before": {k: self.resumed["recipe_before"].get(k) for k in keys}}

    def _init_meta(self) -> dict | None:
        """Where a warm start came from (a resumed run: the warm start of the run it continues),
        with that decoder's own training figures."""
        init_from = self.cfg.init_from or (self.resumed or {}).get("init_from")
        if not init_from:
            return None
        prior = decoder_meta(init_from)
        return {"path": str(init_from),
                **{k: prior.get(k) for k in ("iterations", "image_steps", "trained_on", "date")}}

    def write(self, meta: dict) -> None:
        save_decoder(self.decoder, self.cfg.out / self.out_file, meta)
