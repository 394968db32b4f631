"""Train an exploration agent and report how much of the environment it tried.

--algo picks the agent: max, bootdqn, bonusdqn, dqn, random or perfect (the perfect-memory
explorer). With no arguments: MAX on the 50-state semi-random chain until every transition has been tried or 60
episodes pass, TensorBoard logs under runs/, and one closing line:

    explored 100% of 100 transitions in N episodes (T s)

Examples:
    python scripts/train.py --env-kwargs length=100 layout_seed=3 --seed 1
    python scripts/train.py --algo bootdqn --episodes 200
    python scripts/train.py --agent-kwargs sparse=True bootstrap=poisson
    python scripts/train.py --algo bootdqn --env maxplore/Maze-v0 --env-kwargs obs_mode=rgb
    python scripts/train.py --timesteps 2000 --save runs/max_chain.pt
    python scripts/train.py --resume runs/max_chain.pt --episodes 10
    tensorboard --logdir runs
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402
from config_cli import parse_config, parse_kwargs  # noqa: E402

import envs  # noqa: E402,F401  (registers maxplore/ ids)
from agents.callbacks import CoverageCallback  # noqa: E402
from agents.registry import AGENTS, load_agent, make_agent  # noqa: E402
from agents.tabular_explorer import episode_limit  # noqa: E402
from envs import TransitionCoverage  # noqa: E402

ALGOS = tuple(AGENTS)


@dataclass
class TrainConfig:
    algo: str = field(default="max", metadata={"help": "agent to train", "choices": ALGOS})
    env: str = field(default="maxplore/Chain-v0", metadata={"help": "Gymnasium id"})
    env_kwargs: list[str] = field(
        default_factory=lambda: ["length=50", "layout_seed=0"],
        metadata={"help": "key=value pairs passed to gym.make"},
    )
    agent_kwargs: list[str] = field(
        default_factory=list, metadata={"help": "key=value hyper-parameters of the agent, e.g. sparse=True"}
    )
    episodes: int = field(default=60, metadata={"help": "stop after this many episodes"})
    timesteps: int = field(default=0, metadata={"help": "step budget instead of --episodes when > 0"})
    stop_at_full: bool = field(default=True, metadata={"help": "stop once every transition has been tried"})
    seed: int = field(default=0, metadata={"help": "seed of the agent and the env"})
    logdir: str = field(default="runs", metadata={"help": "TensorBoard folder ('' disables TensorBoard)"})
    device: str = field(default="auto", metadata={"help": "torch device: cpu, cuda or auto"})
    resume: str = field(default="", metadata={"help": "checkpoint to continue from"})
    save: str = field(default="", metadata={"help": "where to save the model (default: <logdir>/<run>.pt)"})
    progress_bar: bool = field(default=True, metadata={"help": "show a progress bar"})


def run_name(cfg: TrainConfig, env_kwargs: dict) -> str:
    kw = "_".join(f"{k}{v}" for k, v in sorted(env_kwargs.items()))
    return f"{cfg.algo}__{cfg.env.split('/')[-1]}{'_' + kw if kw else ''}__s{cfg.seed}__{int(time.time())}"


def main(cfg: TrainConfig) -> dict:
    if cfg.episodes < 1:
        raise SystemExit("--episodes must be at least 1")
    env_kwargs = parse_kwargs(cfg.env_kwargs)
    env = TransitionCoverage(gym.make(cfg.env, **env_kwargs))
    name = run_name(cfg, env_kwargs)
    tensorboard_log = cfg.logdir or None
    if cfg.resume:
        model = load_agent(cfg.algo, cfg.resume, env, device=cfg.device, tensorboard_log=tensorboard_log)
        if hasattr(model, "visits"):  # tabular explorers remember what they tried: count the whole run
            env.mark_tried(model.visits > 0)
        print(f"resumed {cfg.resume}: {model.num_timesteps} steps")
    else:
        model = make_agent(
            cfg.algo, env, seed=cfg.seed, device=cfg.device, tensorboard_log=tensorboard_log,
            **parse_kwargs(cfg.agent_kwargs),
        )  # fmt: skip

    callback = CoverageCallback(max_episodes=cfg.episodes, stop_at_full=cfg.stop_at_full)
    budget = cfg.timesteps if cfg.timesteps > 0 else cfg.episodes * (episode_limit(env) or 1000)
    start = time.perf_counter()
    model.learn(
        budget,
        callback=callback,
        tb_log_name=name,
        reset_num_timesteps=not cfg.resume,
        progress_bar=cfg.progress_bar,
    )
    seconds = time.perf_counter() - start

    save_path = Path(cfg.save) if cfg.save else Path(cfg.logdir or ".") / f"{name}.pt"
    model.save(save_path)
    total = env.n_pairs
    episodes = callback.episodes_to_full_coverage or len(callback.coverage_per_episode)
    print(f"model saved to {save_path}")
    if tensorboard_log:
        print(f"TensorBoard: tensorboard --logdir {cfg.logdir}")
    if callback.cell_coverage is not None:
        print(f"visited {callback.cell_coverage:.0%} of the free cells")
    print(f"explored {env.coverage:.0%} of {total} transitions in {episodes} episodes ({seconds:.1f} s)")
    return {
        "coverage": env.coverage,
        "episodes": episodes,
        "episodes_to_full_coverage": callback.episodes_to_full_coverage,
        "seconds": seconds,
        "save_path": str(save_path),
        "torch_threads": torch.get_num_threads(),
    }


if __name__ == "__main__":
    main(parse_config(TrainConfig, __doc__.splitlines()[0]))
