"""The benchmark's settings: one dataclass whose fields are the options of ``maxplore-benchmark``
(``scripts/benchmark.py``), and the suites' names."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from agents.max.continuous import CONFIGS
from benchmarks.backends import BACKENDS
from benchmarks.continuous_runs import ANT_MAZE, HALF_CHEETAH, METHODS
from benchmarks.pixel_runs import PIXEL_METHODS, PIXEL_WORLDS
from benchmarks.runs import COUNTED_WORLDS, LABELS
from benchmarks.tuning import SEARCHES
from benchmarks.vector_runs import VECTOR_METHODS, VECTOR_WORLDS

SUITES = (
    "env-speed", "max-chain", "ablation", "observed", "worlds", "speed", "sac-speed", "chain", "tune", "sanity",
    "continuous", "pixels", "max-cost", "vectors", "bonus-census", "continuous-ablation", "pixel-tune",
    "judge-noise", "continuous-knob", "denormals",
)  # fmt: skip
CONTINUOUS_WORLDS = {"ant-maze": ANT_MAZE, "half-cheetah": HALF_CHEETAH}
# scored runs use seeds from here on; tuning (tune, ablation, pixel trials) used seeds 0-4: never scored
SCORED_SEEDS_START = 100
GPU_SUITES = ("pixels", "continuous", "judge-noise")  # suites whose models are big enough to gain from a GPU


@dataclass
class BenchmarkConfig:
    suite: str = field(
        default="env-speed", metadata={"help": "which suite to run", "choices": SUITES, "positional": True}
    )
    out: str = field(default="runs/benchmarks", metadata={"help": "folder for the JSON results"})
    quick: bool = field(default=False, metadata={"help": "fewer seeds/steps: a smoke run, not a result"})
    seeds: int = field(default=5, metadata={"help": "seeds (layout seeds) per setting"})
    first_seed: int = field(
        default=SCORED_SEEDS_START,
        metadata={
            "help": "first scored seed (layout and agent) of the chain, max-chain, worlds, pixels and continuous "
            "suites; the tuning grids and ablations use seeds below it"
        },
    )
    lengths: list[int] = field(default_factory=lambda: [10, 20, 50, 100], metadata={"help": "chain lengths"})
    device: str = field(
        default="auto",
        metadata={"help": "torch device; auto: CUDA for the pixels and continuous suites when present, else CPU"},
    )
    bootstrap: str = field(default="bayesian", metadata={"help": "MAX's bootstrap scheme (max-chain suite)"})
    agents: list[str] = field(
        default_factory=lambda: list(LABELS), metadata={"help": "agents of the chain suite", "choices": list(LABELS)}
    )
    episodes: int = field(default=60, metadata={"help": "episode budget per run (chain, tune suites)"})
    tensorboard: bool = field(default=True, metadata={"help": "write TensorBoard runs under <out>/tb"})
    workers: int = field(
        default=os.cpu_count() or 1, metadata={"help": "parallel runs on this machine (processes, or Ray's CPUs)"}
    )
    backend: str = field(
        default="local",
        metadata={"help": "where the runs of a grid run: a local process pool, or Ray", "choices": list(BACKENDS)},
    )
    address: str | None = field(
        default=None,
        metadata={"help": "Ray only: default starts Ray here; 'auto' or ray://HOST:PORT joins a cluster"},
    )
    retries: int = field(default=2, metadata={"help": "times a run whose worker process died is started again"})
    search: str = field(
        default="grid",
        metadata={
            "help": "tune suite on Ray Tune: every setting, ASHA early stopping, or Optuna",
            "choices": list(SEARCHES),
        },
    )
    samples: int | None = field(default=None, metadata={"help": "settings Optuna tries (default: half the grid)"})
    fresh: list[str] = field(
        default_factory=list,
        metadata={
            "help": "set stored runs of the suite aside (moved to a dated file, not deleted) so they run again: "
            "'all', or field=value[,value] selections that must all hold, e.g. algo=max seed=0,1"
        },
    )
    mix_versions: bool = field(
        default=False,
        metadata={"help": "let a table mix runs made by different code (refused by default: rerun with --fresh)"},
    )
    threads: int = field(
        default=1, metadata={"help": "torch intra-op threads per run and in this process (1: fastest for small models)"}
    )
    steps: int = field(default=10_000, metadata={"help": "real steps per run (continuous suite)"})
    methods: list[str] = field(
        default_factory=lambda: list(METHODS),
        metadata={"help": "explorers of the continuous suite", "choices": list(METHODS)},
    )
    config: str = field(
        default="reduced", metadata={"help": "MAX configuration of the continuous suite", "choices": list(CONFIGS)}
    )
    judges: int = field(
        default=1,
        metadata={
            "help": "downstream judges per HalfCheetah run (continuous, judge-noise): each fits its own model "
            "and policy to the same explored data; a run's return is their mean"
        },
    )
    judge_episodes: int = field(
        default=3, metadata={"help": "real evaluation episodes per downstream judge (the paper's: 3)"}
    )
    continuous_worlds: list[str] = field(
        default_factory=lambda: list(CONTINUOUS_WORLDS),
        metadata={"help": "worlds of the continuous suite", "choices": list(CONTINUOUS_WORLDS)},
    )
    counted_worlds: list[str] = field(
        default_factory=lambda: list(COUNTED_WORLDS),
        metadata={"help": "worlds of the worlds suite (--quick: two of them)", "choices": list(COUNTED_WORLDS)},
    )
    pixel_methods: list[str] = field(
        default_factory=lambda: list(PIXEL_METHODS),
        metadata={"help": "explorers of the pixels suite", "choices": list(PIXEL_METHODS)},
    )
    max_kwargs: list[str] = field(
        default_factory=list,
        metadata={
            "help": "MAX's hyper-parameters in the pixels and vectors suites as key=value (an ablation: "
            "give it its own --out, its runs are keyed by them)"
        },
    )
    profile: bool = field(
        default=True, metadata={"help": "max-cost suite: profile a Taxi-v4 and a chain run (about 30 min) first"}
    )
    pixel_worlds: list[str] = field(
        default_factory=lambda: ["maze-9"],
        metadata={"help": "mazes of the pixels suite", "choices": list(PIXEL_WORLDS)},
    )
    vector_worlds: list[str] = field(
        default_factory=lambda: list(VECTOR_WORLDS),
        metadata={
            "help": "worlds of the vectors suite (LunarLander-v3: the box2d extra)",
            "choices": list(VECTOR_WORLDS),
        },
    )
    vector_methods: list[str] = field(
        default_factory=lambda: list(VECTOR_METHODS),
        metadata={"help": "explorers of the vectors suite", "choices": list(VECTOR_METHODS)},
    )
    vector_steps: int = field(default=3000, metadata={"help": "real steps per run (vectors suite)"})
