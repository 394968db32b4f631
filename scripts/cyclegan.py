"""Does a CycleGAN hide the maze's texture inside its semantic maps, and do the self-defences stop it?

Domain A: textured pictures of `maxplore/Maze-v0` states; domain B: their semantic maps, drawn in the
fixed palette. A -> B forgets the texture and shading, so reconstructing A from a true semantic map
cannot recover them; a CycleGAN that reconstructs them anyway has hidden them in its translation
(Chu et al. 2017). Four variants train on the same unpaired data (Bashkirova, Usman & Saenko, NeurIPS
2019): `baseline`, `noise` (noise 0.1 on translations before reconstruction), `guess` (guess
discriminator, weight 2) and `both`. A supervised B -> A predictor trained on true pairs gives the
honest floor. Measured on held-out paired states of unseen layouts: the honesty gap, the noise
sensitivity curve, and the per-class IoU of the A -> B translation.

    python scripts/cyclegan.py            # 4 variants, 3000 steps each (about 40 min on 2 cores)
    python scripts/cyclegan.py --quick    # 1000 steps each (under 15 min)
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmarks.commands.config_cli import parse_config
from benchmarks.reports import save_figure

VARIANTS = ("baseline", "noise", "guess", "both")


@dataclass
class CycleGANConfig:
    variants: list[str] = field(default_factory=lambda: list(VARIANTS), metadata={"help": "variants to train"})
    steps: int = field(default=3000, metadata={"help": "training steps per variant"})
    supervised_steps: int = field(default=2000, metadata={"help": "training steps of the supervised predictor"})
    batch_size: int = field(default=4, metadata={"help": "images per domain per step"})
    n_train: int = field(default=2000, metadata={"help": "unpaired training images per domain"})
    n_eval: int = field(default=200, metadata={"help": "paired evaluation states (unseen layouts)"})
    maze_size: int = field(default=9, metadata={"help": "maze cells per side"})
    image_size: int = field(default=64, metadata={"help": "pixels per side"})
    texture_noise: float = field(
        default=8.0, metadata={"help": "per-pixel texture noise of the pictures (the env's default is 24)"}
    )
    gen_channels: int = field(default=16, metadata={"help": "generator channels after the stem"})
    n_blocks: int = field(default=3, metadata={"help": "generator residual blocks"})
    disc_channels: int = field(default=16, metadata={"help": "discriminator first-layer channels"})
    noise_std: float = field(default=0.1, metadata={"help": "defence 1: noise std on translations (noise, both)"})
    guess_weight: float = field(default=2.0, metadata={"help": "defence 2: guess loss weight (guess, both)"})
    stds: list[float] = field(default_factory=lambda: [0.0, 0.01, 0.02, 0.05, 0.1, 0.2],
                              metadata={"help": "noise stds of the sensitivity curve"})  # fmt: skip
    seed: int = field(default=0, metadata={"help": "seed of the weights and batches (data seeds are fixed)"})
    device: str = field(default="cpu", metadata={"help": "torch device"})
    quick: bool = field(default=False, metadata={"help": "1000 steps per variant"})
    workers: int = field(default=os.cpu_count() or 1, metadata={"help": "variants trained in parallel"})
    threads: int | None = field(default=None, metadata={
        "help": "torch threads per training (default: the cores shared out among the workers)"})  # fmt: skip
    logdir: str = field(default="runs/cyclegan", metadata={"help": "TensorBoard runs and the JSON results"})
    figures: str = field(default="docs/img", metadata={"help": "folder for the figures"})


def datasets(cfg: CycleGANConfig) -> dict:
    """Unpaired training sets (different states and layouts per domain), the true semantic maps of the
    A set (for the supervised predictor only) and paired evaluation states of unseen layouts."""
    from envs.maze import MID_TONE_PALETTE as PALETTE
    from envs.maze import sample_renderings
    from vision_tools.cyclegan import to_tensor

    kwargs = {"size": cfg.maze_size, "image_size": cfg.image_size, "noise": cfg.texture_noise}
    train_a, train_a_classes = sample_renderings(cfg.n_train, seed=1, **kwargs)
    _, train_b = sample_renderings(cfg.n_train, seed=2, **kwargs)
    eval_a, eval_classes = sample_renderings(cfg.n_eval, seed=3, **kwargs)
    return {
        "train_a": to_tensor(train_a), "train_b": to_tensor(PALETTE[train_b]),
        "train_a_pairs": to_tensor(PALETTE[train_a_classes]),  # for the supervised predictor only
        "eval_a": to_tensor(eval_a), "eval_b": to_tensor(PALETTE[eval_classes]),
        "eval_classes": eval_classes,
    }  # fmt: skip


def variant_kwargs(variant: str, cfg: CycleGANConfig) -> dict:
    return {
        "noise_std": cfg.noise_std if variant in ("noise", "both") else 0.0,
        "guess_weight": cfg.guess_weight if variant in ("guess", "both") else 0.0,
    }


def run_job(job: dict) -> dict:
    """Train one variant (or the supervised predictor) and measure it on the evaluation pairs."""
    import torch
    from torch.utils.tensorboard import SummaryWriter

    from envs.maze import CLASS_NAMES
    from envs.maze import MID_TONE_PALETTE as PALETTE
    from vision_tools.cyclegan import (
        CycleGAN,
        ResnetGenerator,
        fit,
        fit_supervised,
        noise_sensitivity,
        paired_errors,
        palette_classes,
        per_class_iou,
        to_uint8,
    )  # fmt: skip

    torch.set_num_threads(job["threads"])
    cfg = CycleGANConfig(**job["config"])
    data = datasets(cfg)
    start = time.perf_counter()
    writer = SummaryWriter(str(Path(cfg.logdir) / f"{job['variant']}_{cfg.steps}steps_seed{cfg.seed}"))
    if job["variant"] == "supervised":
        torch.manual_seed(cfg.seed)
        predictor = ResnetGenerator(3, 3, channels=cfg.gen_channels, n_blocks=cfg.n_blocks).to(cfg.device)
        # trained on true pairs: train_a's pictures and the semantic maps of the same states
        losses = fit_supervised(predictor, data["train_a_pairs"], data["train_a"], cfg.supervised_steps,
                                batch_size=cfg.batch_size, seed=cfg.seed)  # fmt: skip
        for step in range(0, len(losses), 25):
            writer.add_scalar("supervised/l1", losses[step], step)
        writer.close()
        with torch.no_grad():
            error = float(paired_errors(predictor, data["eval_b"].to(cfg.device), data["eval_a"]).mean())
            sample = to_uint8(predictor(data["eval_b"][:4].to(cfg.device)))
        return {"variant": "supervised", "supervised_error": error, "sample": sample,
                "seconds": time.perf_counter() - start}  # fmt: skip

    model = CycleGAN(gen_channels=cfg.gen_channels, n_blocks=cfg.n_blocks, disc_channels=cfg.disc_channels,
                     seed=cfg.seed, device=cfg.device, **variant_kwargs(job["variant"], cfg))  # fmt: skip
    history = fit(model, data["train_a"], data["train_b"], cfg.steps, batch_size=cfg.batch_size, seed=cfg.seed,
                  writer=writer)  # fmt: skip
    writer.close()
    model.eval()
    eval_a = data["eval_a"]
    curve = noise_sensitivity(model.translate_ab, model.translate_ba, eval_a, cfg.stds, seed=cfg.seed)
    with torch.no_grad():
        translation = model.translate_ab(eval_a)  # (N, 3, H, W)
        predicted = palette_classes(translation, PALETTE).cpu().numpy()  # (N, H, W)
        shown = eval_a[:4]
        fake_b = model.translate_ab(shown)
        noise = 0.1 * torch.randn(fake_b.shape, generator=torch.Generator().manual_seed(cfg.seed))
        sample = {
            "input": to_uint8(shown),
            "translation": to_uint8(fake_b),
            # |translation - true semantic map| x5: the hidden code, if any, made visible
            "difference": to_uint8((5 * (fake_b.cpu() - data["eval_b"][:4]).abs()).clamp(0, 2) - 1),
            "reconstruction": to_uint8(model.translate_ba(fake_b)),
            "noisy_reconstruction": to_uint8(model.translate_ba(fake_b + noise.to(fake_b.device))),
        }
    iou = per_class_iou(predicted, data["eval_classes"], len(CLASS_NAMES))
    last = history[-100:]
    return {
        "variant": job["variant"], "curve": curve.tolist(), "reconstruction": float(curve[0]),
        "iou": dict(zip(CLASS_NAMES, iou.tolist(), strict=True)), "mean_iou": float(np.nanmean(iou)),
        "final_cycle_a": float(np.mean([h["g/cycle_a"] for h in last])) / model.cycle_weight_a,
        "sample": sample, "seconds": time.perf_counter() - start,
    }  # fmt: skip


def plot_curves(rows: dict[str, dict], supervised: float, cfg: CycleGANConfig, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for variant in cfg.variants:
        ax.plot(cfg.stds, rows[variant]["curve"], marker="o", label=variant)
    ax.axhline(supervised, color="k", linestyle="--", label="supervised B->A (honest floor)")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(0, 1.1 * max(cfg.stds))
    ax.set_xticks(cfg.stds, [f"{s:g}" for s in cfg.stds])
    ax.set_xlabel("std of noise added to the A->B translation")
    ax.set_ylabel("reconstruction error of A (mean |x - x'|)")
    ax.set_title(f"noise sensitivity, {cfg.steps} steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_grid(rows: dict[str, dict], supervised_sample: np.ndarray, cfg: CycleGANConfig, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = ("input", "translation", "difference", "reconstruction", "noisy_reconstruction")
    titles = ("input A", "A->B", "|A->B - true B| x5", "reconstruction", "rec. after noise 0.1", "supervised B->A")
    fig, axes = plt.subplots(len(cfg.variants), len(titles), figsize=(1.9 * len(titles), 1.9 * len(cfg.variants)),
                             squeeze=False)  # fmt: skip
    for r, variant in enumerate(cfg.variants):
        images = [rows[variant]["sample"][c][0] for c in columns] + [supervised_sample[0]]
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(variant, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def main(cfg: CycleGANConfig) -> dict:
    if cfg.quick:
        cfg.steps = 1000
    for variant in cfg.variants:
        if variant not in VARIANTS:
            raise SystemExit(f"--variants takes {list(VARIANTS)}, got {variant!r}")
    jobs = [{"variant": v, "config": asdict(cfg)} for v in ["supervised", *cfg.variants]]
    if cfg.threads is not None and cfg.threads < 1:
        raise SystemExit(f"--threads must be >= 1, got {cfg.threads}")
    threads = cfg.threads or max(1, (os.cpu_count() or 1) // max(1, cfg.workers))
    for job in jobs:
        job["threads"] = threads
    start = time.perf_counter()
    if cfg.workers <= 1:
        results = [run_job(job) for job in tqdm(jobs, desc="trainings")]
    else:
        with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
            futures = [pool.submit(run_job, job) for job in jobs]
            results = [f.result() for f in tqdm(as_completed(futures), total=len(futures), desc="trainings")]
    rows = {r["variant"]: r for r in results}
    supervised = rows["supervised"]["supervised_error"]
    index = {s: i for i, s in enumerate(cfg.stds)}
    shown = [s for s in (0.02, 0.05, 0.1) if s in index]
    print(f"\n{cfg.steps} steps per variant, batch {cfg.batch_size}, {cfg.n_eval} held-out states of unseen layouts; "
          f"errors: mean |x - x'| in [-1, 1] units; supervised B->A predictor: {supervised:.4f}\n")  # fmt: skip
    print("| variant | rec. error | honesty gap | " + " | ".join(f"error at noise {s}" for s in shown)
          + " | mean IoU | IoU floor/wall/agent/goal | minutes |")  # fmt: skip
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in shown) + " | ---: | --- | ---: |")
    for variant in cfg.variants:
        row = rows[variant]
        row["honesty_gap"] = row["reconstruction"] - supervised
        ious = "/".join(f"{v:.2f}" for v in row["iou"].values())
        noisy = " | ".join(f"{row['curve'][index[s]]:.4f}" for s in shown)
        print(f"| {variant} | {row['reconstruction']:.4f} | {row['honesty_gap']:+.4f} | {noisy} | "
              f"{row['mean_iou']:.3f} | {ious} | {row['seconds'] / 60:.1f} |")  # fmt: skip
    figures = Path(cfg.figures)
    figures.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if cfg.quick else ""
    plot_curves(rows, supervised, cfg, figures / f"cyclegan_sensitivity{suffix}.png")
    plot_grid(rows, rows["supervised"]["sample"], cfg, figures / f"cyclegan_grid{suffix}.png")
    out = Path(cfg.logdir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"config": asdict(cfg), "supervised_error": supervised,
               "variants": {v: {k: x for k, x in rows[v].items() if k != "sample"} for v in cfg.variants}}  # fmt: skip
    (out / f"results{suffix}.json").write_text(json.dumps(summary, indent=1))
    print(f"\nfigures: {figures}/cyclegan_*{suffix}.png; results: {out}/results{suffix}.json; "
          f"TensorBoard: tensorboard --logdir {out}; {(time.perf_counter() - start) / 60:.1f} min")  # fmt: skip
    return summary


if __name__ == "__main__":
    main(parse_config(CycleGANConfig, __doc__.splitlines()[0]))
