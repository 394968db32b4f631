"""Train an exploration agent and report how much of the environment it tried.

--algo picks the agent: max, bootdqn, bootdqn-prior, bonusdqn, dqn, rnd (Random Network Distillation),
icm (the Intrinsic Curiosity Module), random or perfect (the perfect-memory explorer); --env any
Gymnasium id whose spaces fit it. With no arguments: MAX on the 50-state semi-random chain until every
transition has been tried or 60 episodes pass, TensorBoard logs under runs/, and one closing line:

    explored 100% of 100 transitions in N episodes (T s)

Where states cannot be counted (a Box observation), the closing line reports episodes, steps and the
mean return instead, after the cells of the world's state grid visited where one is defined
(``envs.STATE_GRIDS``: CartPole-v1, Acrobot-v1, LunarLander-v3).

Run it as ``maxplore-train`` (installed with the package) or ``python scripts/train.py``. Examples:
    python scripts/train.py --env-kwargs length=100 layout_seed=3 --seed 1
    python scripts/train.py --env FrozenLake-v1 --env-kwargs map_name=8x8
    python scripts/train.py --algo dqn --env CartPole-v1 --episodes 200
    python scripts/train.py --algo bootdqn --episodes 200
    python scripts/train.py --algo rnd --env Acrobot-v1 --timesteps 3000
    python scripts/train.py --agent-kwargs sparse=True states=all bootstrap=poisson
    python scripts/train.py --algo bootdqn --env maxplore/Maze-v0 --env-kwargs obs_mode=rgb
    python scripts/train.py --env Pendulum-v1 --episodes 5       # MAX on continuous states (--config paper)
    python scripts/train.py --env CartPole-v1 --episodes 50      # MAX on vector states, discrete actions
    python scripts/train.py --timesteps 2000 --save runs/max_chain.pt
    python scripts/train.py --resume runs/max_chain.pt --episodes 60
    tensorboard --logdir runs

Ctrl-C stops at the end of the current episode and saves the model (a second Ctrl-C stops at once, and
saves too); the same command with --resume CHECKPOINT then ends where the uninterrupted run would
have: --episodes and --timesteps count the whole run, resumed steps included.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import torch

import envs  # noqa: F401  (registers maxplore/ ids)
from agents.callbacks import CoverageCallback, ProgressBar, StopOnInterrupt
from agents.max.continuous import continuous_config
from agents.registry import AGENTS, load_agent, make_agent
from agents.tabular_explorer import step_budget
from benchmarks.commands.config_cli import parse_config, parse_kwargs
from envs import STATE_GRIDS, StateGridCoverage, TransitionCoverage, countable

ALGOS = tuple(AGENTS)
INTERRUPTED_EXIT_CODE = 130  # the shell's code for a run stopped by SIGINT


@dataclass
class TrainConfig:
    algo: str = field(default="max", metadata={"help": "agent to train", "choices": ALGOS})
    env: str = field(default="maxplore/Chain-v0", metadata={"help": "Gymnasium id"})
    env_kwargs: list[str] = field(
        default_factory=list,
        metadata={"help": "key=value pairs passed to gym.make (the chain's defaults: length=50 layout_seed=0)"},
    )
    agent_kwargs: list[str] = field(
        default_factory=list, metadata={"help": "key=value hyper-parameters of the agent, e.g. sparse=True"}
    )
    config: str = field(
        default="reduced",
        metadata={"help": "MAX on continuous states: the official configuration (paper) or one for two CPU cores "
                          "(reduced); --agent-kwargs override either", "choices": ["reduced", "paper"]},
    )  # fmt: skip
    episodes: int = field(default=60, metadata={"help": "stop after this many episodes of the whole run"})
    timesteps: int = field(default=0, metadata={"help": "step budget of the whole run instead of --episodes when > 0"})
    stop_at_full: bool = field(default=True, metadata={"help": "stop once every transition has been tried"})
    seed: int = field(default=0, metadata={"help": "seed of the agent and the env"})
    logdir: str = field(default="runs", metadata={"help": "TensorBoard folder ('' disables TensorBoard)"})
    device: str = field(default="auto", metadata={"help": "torch device: cpu, cuda or auto"})
    threads: int = field(
        default=1,
        metadata={"help": "torch intra-op threads (1: fastest for the small models here, above all on a busy "
                          "machine; 0: torch's default)"},
    )  # fmt: skip
    resume: str = field(default="", metadata={"help": "checkpoint to continue from"})
    save: str = field(default="", metadata={"help": "where to save the model (default: <logdir>/<run>.pt)"})
    progress_bar: bool = field(default=True, metadata={"help": "show a progress bar"})


def run_name(cfg: TrainConfig, env_kwargs: dict) -> str:
    kw = "_".join(f"{k}{v}" for k, v in sorted(env_kwargs.items()))
    return f"{cfg.algo}__{cfg.env.split('/')[-1]}{'_' + kw if kw else ''}__s{cfg.seed}__{int(time.time())}"


def build(cfg: TrainConfig):
    """Check the config and build (env, model, run name); every user error becomes a one-line SystemExit."""
    if cfg.episodes < 1:
        raise SystemExit(f"error: --episodes must be at least 1, got {cfg.episodes}")
    if cfg.timesteps < 0:
        raise SystemExit(f"error: --timesteps must be >= 0 (0: use --episodes), got {cfg.timesteps}")
    if cfg.threads < 0:
        raise SystemExit(f"error: --threads must be >= 0 (0: torch's default), got {cfg.threads}")
    try:
        env_kwargs = parse_kwargs(cfg.env_kwargs)
        agent_kwargs = parse_kwargs(cfg.agent_kwargs)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    try:
        env = gym.make(cfg.env, **env_kwargs)
        if countable(env):  # transition coverage where states can be counted
            env = TransitionCoverage(env)
        elif env.spec is not None and env.spec.id in STATE_GRIDS:  # cells of a grid over the state variables
            env = StateGridCoverage(env)
    except gym.error.Error as err:
        raise SystemExit(f"error: --env {cfg.env!r}: {err}") from None
    except TypeError as err:
        raise SystemExit(f"error: --env-kwargs {' '.join(cfg.env_kwargs)} do not fit {cfg.env}: {err}") from None
    tensorboard_log = cfg.logdir or None
    try:
        if cfg.resume:
            model = load_agent(cfg.algo, cfg.resume, env, device=cfg.device, tensorboard_log=tensorboard_log)
            name = Path(cfg.resume).stem  # TensorBoard continues the checkpoint's run
        else:
            if cfg.algo == "max":
                agent_kwargs = {**continuous_config(env, cfg.config), **agent_kwargs}
            model = make_agent(
                cfg.algo, env, seed=cfg.seed, device=cfg.device, tensorboard_log=tensorboard_log, **agent_kwargs
            )
            name = run_name(cfg, env_kwargs)
    except (TypeError, ValueError, FileNotFoundError) as err:
        raise SystemExit(f"error: {cfg.algo}: {err}") from None
    return env, model, name


def main(cfg: TrainConfig) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    env, model, name = build(cfg)
    episodes_before, steps_before = model._episode_num, model.num_timesteps
    if cfg.resume:
        if hasattr(model, "visits") and isinstance(env, TransitionCoverage):
            env.mark_tried(model.visits > 0)  # tabular explorers remember what they tried: count the whole run
        print(f"resumed {cfg.resume}: {steps_before} steps, {episodes_before} episodes")

    coverage = CoverageCallback(max_episodes=max(cfg.episodes - episodes_before, 1), stop_at_full=cfg.stop_at_full)
    interrupt = StopOnInterrupt()
    callbacks = [coverage, interrupt]
    progress = ProgressBar(desc=cfg.algo) if cfg.progress_bar else None
    if progress is not None:
        callbacks.append(progress)
    episodes_left = cfg.episodes - episodes_before
    budget = cfg.timesteps - steps_before if cfg.timesteps > 0 else step_budget(env, episodes_left)
    start = time.perf_counter()
    stopped_mid_episode = False
    if budget > 0 and episodes_before < cfg.episodes:
        try:
            model.learn(budget, callback=callbacks, tb_log_name=name, reset_num_timesteps=not cfg.resume)
        except KeyboardInterrupt:  # a second Ctrl-C: stop now, keep what was learned
            stopped_mid_episode = True
            interrupt.restore()
            if progress is not None:
                progress.close()
    seconds = time.perf_counter() - start

    save_path = Path(cfg.save) if cfg.save else Path(cfg.logdir or ".") / f"{name}.pt"
    model.save(save_path)
    episodes_run = coverage.episodes_to_full_coverage or len(coverage.coverage_per_episode) or coverage.episodes
    episodes = episodes_before + episodes_run
    interrupted = interrupt.interrupted or stopped_mid_episode
    print(f"model saved to {save_path}")
    if cfg.logdir:
        print(f"TensorBoard: tensorboard --logdir {cfg.logdir}")
    if interrupted:
        where = (
            "mid-episode (a resumed run starts a new episode)" if stopped_mid_episode else "at the end of an episode"
        )
        print(f"interrupted {where} after {model.num_timesteps} steps; continue with: "
              f"python scripts/train.py {' '.join(sys.argv[1:])} --resume {save_path}")  # fmt: skip
    if "cell_coverage" in coverage.visits:
        print(f"visited {coverage.visits['cell_coverage']:.0%} of the free cells")
    if "maze_coverage" in coverage.visits:
        print(f"visited {coverage.visits['maze_coverage']:.0%} of the maze's blocks and "
              f"{coverage.visits['grid_coverage']:.0%} of its finer grid cells")  # fmt: skip
    if isinstance(env, StateGridCoverage):
        print(f"visited {len(env.visited)} of the {env.n_cells} cells of {cfg.env}'s state grid ({env.coverage:.1%})")
    if isinstance(env, TransitionCoverage):
        print(f"explored {env.coverage:.0%} of {env.n_pairs} transitions in {episodes} episodes ({seconds:.1f} s)")
    else:
        returns = [info["r"] for info in model.ep_info_buffer]
        mean_return = f"mean return {sum(returns) / len(returns):.2f} over the last {len(returns)}" if returns else ""
        print(f"ran {coverage.episodes} episodes, {model.num_timesteps - steps_before} steps, {mean_return} "
              f"({seconds:.1f} s)")  # fmt: skip
    return {
        "coverage": env.coverage if isinstance(env, TransitionCoverage) else None,
        "episodes": episodes,
        "episodes_to_full_coverage": None if coverage.episodes_to_full_coverage is None else episodes,
        "seconds": seconds,
        "save_path": str(save_path),
        "torch_threads": torch.get_num_threads(),
        "interrupted": interrupted,
    }


def cli(argv: list[str] | None = None) -> None:
    """The ``maxplore-train`` command (and ``python scripts/train.py``): parse, train, exit 130 when interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = main(parse_config(TrainConfig, __doc__.splitlines()[0], argv))
    sys.exit(INTERRUPTED_EXIT_CODE if result["interrupted"] else 0)


if __name__ == "__main__":
    cli()
