"""The timing suites: steps per second of the chain beside FrozenLake (``env-speed``), one imagined SAC
step of MAX's lean SAC beside Stable-Baselines3's (``sac-speed``), and the batched ensemble beside a loop
over members (``speed``). They time this machine, in this process."""

from __future__ import annotations

import itertools
import logging
import time

import numpy as np

from benchmarks.config import BenchmarkConfig
from benchmarks.suites.common import Emit

logger = logging.getLogger(__name__)


def env_speed(cfg: BenchmarkConfig, emit: Emit = logger.info) -> dict:
    """Steps per second of maxplore/Chain-v0 and FrozenLake-v1, both through gym.make's wrappers."""
    import gymnasium as gym

    import envs  # noqa: F401

    n_steps = 20_000 if cfg.quick else 200_000
    actions = np.random.default_rng(0).integers(0, 2, size=n_steps).tolist()
    rows = {}
    for name, make in [
        ("maxplore/Chain-v0 (L=50)", lambda: gym.make("maxplore/Chain-v0", length=50, layout_seed=3)),
        ("FrozenLake-v1 (4x4)", lambda: gym.make("FrozenLake-v1")),
        ("maxplore/Chain-v0 unwrapped", lambda: gym.make("maxplore/Chain-v0", length=50).unwrapped),
    ]:
        best = float("inf")
        for _ in range(3):
            env = make()
            env.reset(seed=0)
            step, reset = env.step, env.reset
            start = time.perf_counter()
            for a in actions:
                _, _, terminated, truncated, _ = step(a)
                if terminated or truncated:
                    reset()
            best = min(best, time.perf_counter() - start)
        rows[name] = {"steps_per_s": n_steps / best, "us_per_step": 1e6 * best / n_steps}
    chain, lake = rows["maxplore/Chain-v0 (L=50)"], rows["FrozenLake-v1 (4x4)"]
    emit("| env | steps/s | us/step |\n| --- | ---: | ---: |")
    for name, row in rows.items():
        emit(f"| {name} | {row['steps_per_s']:,.0f} | {row['us_per_step']:.2f} |")
    emit(f"\nChain / FrozenLake speed ratio: {chain['steps_per_s'] / lake['steps_per_s']:.2f}")
    return rows


def sac_speed(cfg: BenchmarkConfig, emit: Emit = logger.info) -> dict:
    """Cost of one step of MAX's policy training in imagination (128 actors, 2 x 128 networks, batch 256)
    with the lean SAC of agents.max.sac against Stable-Baselines3's SAC fed through its numpy buffer."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import SAC as SB3SAC

    from agents.max.sac import SAC

    d, a, n, batch = 17, 6, 128, 256  # HalfCheetah's state and action sizes, MAX's 128 actors
    repeats = 20 if cfg.quick else 200
    device = torch.device(cfg.device)
    states = torch.randn(n, d, device=device)
    lean = SAC(d, a, hidden_size=128).to(device)
    buffer = [torch.randn(4096, d), torch.rand(4096, a) * 2 - 1, torch.randn(4096), torch.randn(4096, d),
              torch.zeros(4096)]  # fmt: skip
    buffer = [column.to(device) for column in buffer]

    def lean_step() -> None:
        actions = lean.actor(states)[0].detach()  # (N, a) stays a tensor
        index = torch.randint(4096, (batch,), device=device)
        lean.update(*(column[index] for column in buffer))
        del actions

    space = gym.spaces.Box(-1.0, 1.0, (d,), dtype="float32")
    dummy = gym.make("Pendulum-v1")  # SB3 needs an env for its spaces only
    dummy.observation_space, dummy.action_space = space, gym.spaces.Box(-1.0, 1.0, (a,), dtype="float32")
    sb3 = SB3SAC("MlpPolicy", dummy, policy_kwargs={"net_arch": [128, 128]}, batch_size=batch, ent_coef=0.02,
                 buffer_size=10_000, device=device, learning_starts=0)  # fmt: skip
    from stable_baselines3.common.logger import configure

    sb3.set_logger(configure(None, []))  # train() records its losses
    observations = np.random.randn(n, d).astype(np.float32)
    for _ in range(40):  # fill the buffer
        sb3.replay_buffer.add(observations[:1], observations[:1], np.zeros((1, a), np.float32), np.zeros(1),
                              np.zeros(1), [{}])  # fmt: skip

    def sb3_step() -> None:
        actions, _ = sb3.predict(observations)  # torch -> numpy
        for i in range(n):  # an imagined step's 128 transitions into SB3's numpy buffer
            sb3.replay_buffer.add(observations[i : i + 1], observations[i : i + 1], actions[i : i + 1], np.zeros(1),
                                  np.zeros(1), [{}])  # fmt: skip
        sb3.train(gradient_steps=1, batch_size=batch)

    timings = {}
    for name, fn in (("lean torch SAC (agents.max.sac)", lean_step), ("Stable-Baselines3 SAC", sb3_step)):
        for _ in range(3):
            fn()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        timings[name] = 1e3 * (time.perf_counter() - start) / repeats
    emit(f"\none imagined step (act for {n} actors, store, one update at batch {batch}), mean of {repeats}, "
          f"{torch.get_num_threads()} thread(s), device {device}\n")  # fmt: skip
    emit("| SAC | ms per imagined step |\n| --- | ---: |")
    for name, ms in timings.items():
        emit(f"| {name} | {ms:.2f} |")
    return timings


def ensemble_speed(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """Forward+backward of the batched ensemble vs a Python loop over E separate member modules."""
    import torch
    from torch import nn

    from world_models.ensemble import EnsembleMLP

    device = torch.device(cfg.device)
    shapes = {
        # MAX's continuous default member: 4 hidden layers of 512, swish; HalfCheetah-sized input/output
        "4x512 (MAX continuous)": {"in": 23, "hidden": 512, "layers": 4, "out": 34},
        # the chain model: one-hot (s, a) over 100 pairs -> 50 next states, one hidden layer of 64
        "1x64 (MAX chain, L=50)": {"in": 100, "hidden": 64, "layers": 1, "out": 50},
    }
    repeats = 5 if cfg.quick else 30
    rows = []
    for (label, sh), batch, E in itertools.product(shapes.items(), (32, 128, 256), (5, 32)):
        batched = EnsembleMLP(
            E, sh["in"], out_features=sh["out"], hidden_size=sh["hidden"], n_hidden_layers=sh["layers"]
        ).to(device)
        widths = [sh["in"]] + [sh["hidden"]] * sh["layers"] + [sh["out"]]
        members = nn.ModuleList(
            nn.Sequential(
                *[m for a, b in zip(widths[:-1], widths[1:], strict=True) for m in (nn.Linear(a, b), nn.SiLU())][:-1]
            )
            for _ in range(E)
        ).to(device)
        x = torch.randn(E, batch, sh["in"], device=device)

        def step_batched(model=batched, x=x):
            model(x).square().mean().backward()

        def step_loop(models=members, x=x):
            sum(m(x[e]).square().mean() for e, m in enumerate(models)).backward()

        timings = {}
        for name, fn in (("batched", step_batched), ("loop", step_loop)):
            for _ in range(3):
                fn()
            best = float("inf")
            for _ in range(repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - start)
            timings[name] = best * 1e3
        rows.append(
            {"shape": label, "batch": batch, "E": E, "batched_ms": timings["batched"], "loop_ms": timings["loop"]}
        )
    emit(f"\nforward+backward, best of {repeats}, device {device}, {torch.get_num_threads()} threads\n")
    emit("| member | batch | E | batched ms | loop ms | speed-up |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        ratio = r["loop_ms"] / r["batched_ms"]
        emit(f"| {r['shape']} | {r['batch']} | {r['E']} | {r['batched_ms']:.2f} | {r['loop_ms']:.2f} | {ratio:.1f}x |")
    return rows
