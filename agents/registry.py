"""Every agent of the benchmark by short name, with hyper-parameters for small discrete worlds.

The DQN family's constructors already default to the values tuned for small worlds
(:data:`agents.dqn.SMALL_WORLD_DEFAULTS`); ``CHAIN_HYPER_PARAMETERS`` holds what each agent's row of
the grid in ``scripts/benchmark.py tune`` chose beyond them (documented in docs/BENCHMARKS.md). Pass
keyword arguments to :func:`make_agent` to override any of them.
"""

from __future__ import annotations

from typing import Any

from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.type_aliases import GymEnv

from agents.bonus_dqn import BonusDQN
from agents.bootstrapped_dqn import BootstrappedDQN
from agents.curiosity import ICM, RND
from agents.curiosity.networks import check_curiosity_space
from agents.dqn import DQN
from agents.encoders import SmallCNN
from agents.max import MAX
from agents.max.base import planner_class
from agents.reference_explorers import PerfectMemoryExplorer, RandomExplorer
from agents.tabular_explorer import check_discrete_spaces

AGENTS: dict[str, type] = {
    "max": MAX,
    "bootdqn": BootstrappedDQN,
    "bootdqn-prior": BootstrappedDQN,
    "bonusdqn": BonusDQN,
    "dqn": DQN,
    "rnd": RND,
    "icm": ICM,
    "random": RandomExplorer,
    "perfect": PerfectMemoryExplorer,
}
SB3_AGENTS = ("bootdqn", "bootdqn-prior", "bonusdqn", "dqn", "rnd", "icm")
DISCRETE_ACTION_AGENTS = ("bootdqn", "bootdqn-prior", "bonusdqn", "dqn", "icm")  # RND takes any action space

CHAIN_HYPER_PARAMETERS: dict[str, dict[str, Any]] = {
    "max": {},
    "bootdqn": {},
    "bootdqn-prior": {"prior_scale": 1.0},  # the grid's choice; the paper's 3 scored within one pair of it
    "bonusdqn": {},
    "dqn": {"learning_rate": 3e-4, "exploration_fraction": 0.5},
    "rnd": {"learning_rate": 1e-3, "ent_coef": 0.01},  # the grid's choice (PPO defaults: 3e-4, 0.001)
    "icm": {},  # the grid's choice: the defaults (3e-4; ent_coef 0.001 and 0.01 tied)
    "random": {},
    "perfect": {},
}


PIXEL_POLICY_KWARGS: dict[str, Any] = {
    "features_extractor_class": SmallCNN,
    "features_extractor_kwargs": {"features_dim": 256, "norm": "group"},
    "net_arch": [],
}


def check_spaces(algo: str, env: GymEnv) -> None:
    """Raise ``TypeError`` naming the agent and the spaces when ``env``'s spaces do not fit ``algo``.

    MAX needs Discrete observations and actions, a 1-D Box of observations and Box actions, or uint8
    (H, W, C) pictures and Discrete actions; the
    reference explorers need Discrete observations and actions; the DQN family and ICM need Discrete actions
    (any observation SB3's policies take; ICM and RND: Discrete, 1-D Box or pictures).
    """
    if algo == "max":
        planner_class(env)
    elif algo in SB3_AGENTS:
        if algo in ("rnd", "icm"):
            check_curiosity_space(env.observation_space, AGENTS[algo].__name__)
        if algo in DISCRETE_ACTION_AGENTS and not isinstance(env.action_space, spaces.Discrete):
            raise TypeError(
                f"{algo} ({AGENTS[algo].__name__}) needs a Discrete action space; got action_space={env.action_space}"
            )
    else:
        check_discrete_spaces(env, AGENTS[algo].__name__)


def make_agent(
    algo: str,
    env: GymEnv,
    *,
    seed: int | None = None,
    device: str = "auto",
    tensorboard_log: str | None = None,
    **overrides: Any,
):
    """Build agent ``algo`` (a key of ``AGENTS``) on ``env`` with the chain hyper-parameters.

    :param algo: short name: ``max``, ``bootdqn``, ``bootdqn-prior`` (with randomized prior functions),
        ``bonusdqn``, ``dqn``, ``rnd`` (Random Network Distillation), ``icm`` (Intrinsic Curiosity Module),
        ``random`` or ``perfect``.
    :param env: the environment.
    :param seed: seed of the agent (and the env).
    :param device: torch device.
    :param tensorboard_log: TensorBoard folder, or ``None``.
    :param overrides: hyper-parameters replacing the chain defaults.

    SB3 agents get ``"MlpPolicy"`` on vector or Discrete observations and ``"CnnPolicy"`` with
    :class:`~agents.encoders.SmallCNN` (GroupNorm) on image observations.
    """
    cls, args, kwargs = agent_spec(algo, env, **overrides)
    return cls(*args, env, **kwargs, seed=seed, device=device, tensorboard_log=tensorboard_log)


def agent_spec(algo: str, env: GymEnv, **overrides: Any) -> tuple[type, tuple[str, ...], dict[str, Any]]:
    """What :func:`make_agent` builds, without building it: ``(class, policy, hyper-parameters)``.

    The class is the one that fits ``env`` (MAX's planner for its spaces); ``policy`` is ``("MlpPolicy",)``
    or ``("CnnPolicy",)`` for SB3 agents and ``()`` otherwise; the hyper-parameters are the chain defaults
    replaced by ``overrides``. ``ValueError`` for an unknown ``algo``, ``TypeError`` for spaces that do not fit.
    """
    if algo not in AGENTS:
        raise ValueError(f"algo must be one of {sorted(AGENTS)}, got {algo!r}")
    check_spaces(algo, env)
    kwargs = {**CHAIN_HYPER_PARAMETERS[algo], **overrides}
    if algo in SB3_AGENTS:
        if is_image_space(env.observation_space):
            # pixels: the small-image CNN with GroupNorm, straight into the Q-head(s)
            kwargs["policy_kwargs"] = {**PIXEL_POLICY_KWARGS, **overrides.get("policy_kwargs", {})}
            return AGENTS[algo], ("CnnPolicy",), kwargs
        return AGENTS[algo], ("MlpPolicy",), kwargs
    return (planner_class(env) if algo == "max" else AGENTS[algo]), (), kwargs


def load_agent(algo: str, path: str, env: GymEnv, **kwargs: Any):
    """Load a checkpoint of agent ``algo`` written by its ``save``."""
    if algo not in AGENTS:
        raise ValueError(f"algo must be one of {sorted(AGENTS)}, got {algo!r}")
    return AGENTS[algo].load(path, env=env, **kwargs)
