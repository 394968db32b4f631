"""MAX's planner for continuous states: a SAC policy trained in the imagined exploration MDP.

Shyam, Jaskowski & Gomez, ICML 2019, sections 3-4, and the official ``main.py``: after a random
warm-up, every ``policy_every`` real steps the Gaussian ensemble is refit on all real transitions (each
member with its own bootstrap weights) and a fresh exploration policy is trained: first on the real data
relabelled with the utility ("reactive" updates), then on imagined episodes of ``n_actors`` actors
started at the current real state, rewarded by the members' disagreement. The agent acts with the
policy's mean action. ``utility`` and ``imagination`` give the paper's baselines: JDRX
(``imagination=False``), PERX (``utility="prediction_error"``, reactive) and TVAX
(``utility="trajectory_variance"``); ``utility="rnd"`` (reactive) is Random Network Distillation's error on
the state a transition led to (Burda et al., ICLR 2019) driving the same reactive SAC.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.type_aliases import GymEnv

from agents.callbacks import ProgressBarMixin
from agents.checkpoint import (
    env_identity,
    load_checkpoint,
    progress_counters,
    restore_progress_counters,
    save_checkpoint,
    warn_if_other_env,
)
from agents.curiosity.rnd import RNDModule
from agents.devices import check_device
from agents.max.base import MAX
from agents.max.imagined_training import train_in_imagination, train_reactively
from agents.max.real_steps import RealStepLoop
from agents.max.sac import SAC, to_env_action
from agents.max.v_sac import VSAC
from world_models.bootstrap import BOOTSTRAP_SCHEMES, GRAD_CLIPS, bootstrap_weights
from world_models.continuous import (
    MODEL_LOSSES,
    GaussianDynamicsEnsemble,
    fit_shuffled,
    fit_transitions,
    loss_scale,
    refit_steps,
)
from world_models.ensemble import MLP_INITS
from world_models.imagination import ImaginedExploration
from world_models.normalizer import RunningNormalizer
from world_models.utilities import jensen_renyi, prediction_error, trajectory_variance

logger = logging.getLogger(__name__)

UTILITIES = ("jensen_renyi", "prediction_error", "trajectory_variance", "rnd")
NORMALIZERS = ("state_norm", "action_norm", "delta_norm")
MEMBER_DATA = ("bootstrap", "shuffle")
REFIT_CLOCKS = ("warmup", "step")
SAC_VARIANTS = {"twin_q": SAC, "v": VSAC}  # the model's statistics of s, a and s' - s
REACTIVE_UTILITIES = ("prediction_error", "rnd")  # utilities of real outcomes: no imagined counterpart

# The official code's defaults ("paper", read from its main.py) and a configuration that runs on two CPU
# cores ("reduced"; the constructor's defaults). docs/BENCHMARKS.md tabulates both.
CONFIGS: dict[str, dict[str, Any]] = {
    "paper": {
        "ensemble_size": 32, "hidden_size": 512, "n_hidden_layers": 4, "model_steps": None, "model_epochs": 50,
        "refit_from_scratch": True, "policy_every": 25, "warmup_steps": 256, "n_actors": 128, "horizon": 50,
        "imagined_episodes": 50, "warmup_episodes": 3, "reactive_updates": 100, "sac_hidden_size": 256,
        "sac_batch_size": 4096, "sac_learning_rate": 1e-3, "init": "xavier", "grad_clip": "value",
        "terminal_horizon": False, "frozen_normalizer": True, "policy_each_episode": True,
        "member_data": "shuffle", "sac_variant": "v", "refit_clock": "step", "model_loss": "mean",
    },
    "reduced": {
        "ensemble_size": 8, "hidden_size": 200, "n_hidden_layers": 2, "model_steps": 200, "model_epochs": None,
        "refit_from_scratch": False, "policy_every": 100, "warmup_steps": 256, "n_actors": 128, "horizon": 50,
        "imagined_episodes": 15, "warmup_episodes": 3, "reactive_updates": 100, "sac_hidden_size": 128,
        "sac_batch_size": 256, "sac_learning_rate": 1e-3, "init": "default", "grad_clip": "norm",
        "terminal_horizon": True, "frozen_normalizer": False, "policy_each_episode": False,
        "member_data": "bootstrap", "sac_variant": "v", "refit_clock": "warmup", "model_loss": "half_sum",
    },
}  # fmt: skip

# Where "reduced" differs from "paper", each with its reason: a compute cut, or an ablation in the Ant maze
# (continuous-ablation suite, 4,000 steps, tuning seeds 0-2; grid cells per seed, the reduced MAX's 33, 36, 34).
REDUCED_CUTS: dict[str, str] = {
    "ensemble_size": "compute: 8 members instead of 32",
    "hidden_size": "compute: width 200 instead of 512",
    "n_hidden_layers": "compute: 2 hidden layers instead of 4",
    "model_steps": "compute: 200 Adam steps per refit, a fixed cost, instead of 50 epochs that grow with the data",
    "model_epochs": "compute: the step budget replaces the epochs",
    "refit_from_scratch": "compute: the ensemble is kept between refits, so 200 steps suffice",
    "member_data": "compute: per-member shuffles need whole epochs; bootstrap weights work with the step budget",
    "policy_every": "ablation: 50 and 25 cost 2.0x and 4.3x and visited 30, 31, 38 and 32, 32, 28 cells",
    "imagined_episodes": "ablation: 50 cost 3.3x and visited 23, 26, 33 cells",
    "sac_hidden_size": "compute: SAC width 128 instead of 256",
    "sac_batch_size": "compute: SAC batch 256 instead of 4096",
    "policy_each_episode": "compute: +50% a run; 31, 47, 43 cells, not separated in 3 seeds",
    "terminal_horizon": "no compute saved; non-terminal visited 32, 35, 36 cells, not separated: earlier path kept",
    "frozen_normalizer": "no compute saved; frozen visited 31, 35, 39 cells, not separated: earlier path kept",
    "grad_clip": "no compute saved; clip by value visited 32, 32, 44 cells, not separated: earlier path kept",
    "model_loss": "no compute saved; clip by value with the mean loss visited 35, 31, 29 cells: earlier path kept",
    "init": "no compute saved; not ablated: earlier path kept",
    "refit_clock": "no compute saved; not ablated (refits on episode resets, warmup_steps=200: 37, 29, 33 cells)",
}


def continuous_config(env: GymEnv | str, config: str) -> dict[str, Any]:
    """``CONFIGS[config]`` when MAX on ``env`` is the continuous planner, else ``{}`` (the tabular planner
    has no such configurations)."""
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {sorted(CONFIGS)}, got {config!r}")
    from agents.max.base import planner_class

    try:
        continuous = planner_class(env) is ContinuousMAX
    except TypeError:
        return {}  # no MAX planner fits: the agent's own check names the spaces
    return dict(CONFIGS[config]) if continuous else {}


class ContinuousMAX(MAX, RealStepLoop, ProgressBarMixin, BaseAlgorithm):
    """Model-Based Active Exploration on 1-D ``Box`` observations and ``Box`` actions.

    :param env: the environment or its id.
    :param ensemble_size: forward models E.
    :param hidden_size: width of each member's hidden layers.
    :param n_hidden_layers: hidden layers per member.
    :param model_learning_rate: Adam learning rate of the ensemble (official: 1e-3).
    :param model_batch_size: minibatch of a model step (official: 256).
    :param model_steps: Adam steps per refit; ``None`` uses ``model_epochs`` passes over the data instead.
    :param model_epochs: passes over the data per refit when ``model_steps`` is ``None`` (official: 50).
    :param max_grad_norm: gradient clipping threshold of the model (official: 5).
    :param grad_clip: ``"norm"`` clips the gradients' global norm, ``"value"`` each entry (official).
    :param model_loss: the ensemble's training loss: ``"half_sum"``, the Gaussian NLL halved and summed over
        the state's dimensions, or ``"mean"`` (official), its mean over them
        (:func:`~world_models.continuous.loss_scale`: the same up to a factor 2 / d, which matters where
        the gradients are clipped).
    :param init: the members' initial weights: ``"default"`` (``nn.Linear``'s) or ``"xavier"`` (official:
        Xavier-uniform hidden layers, Xavier-normal output, zero biases).
    :param frozen_normalizer: the model and the policy normalise with a copy of the data's statistics
        taken at each refit (official), instead of statistics updated at every real step.
    :param refit_from_scratch: re-initialise the ensemble before each refit (official), or keep training it.
    :param bootstrap: members' data weights, see :mod:`world_models.bootstrap` (``member_data="bootstrap"``).
    :param member_data: ``"bootstrap"``: each member weights every transition by its own bootstrap weight,
        one minibatch shared by all; ``"shuffle"`` (official): every transition weighs 1 and each member
        steps through its own permutation of the data in every epoch
        (:func:`~world_models.continuous.fit_shuffled`; needs ``model_epochs``).
    :param warmup_steps: uniformly random actions first (official: 256).
    :param policy_every: refit and train a fresh policy every this many real steps.
    :param refit_clock: ``"warmup"``: at the warm-up's end and every ``policy_every`` steps after it;
        ``"step"`` (official): at the warm-up's end and at every real step divisible by ``policy_every``.
    :param policy_each_episode: also train a fresh policy (on the same model) when an episode ends, from the
        reset's state (official: the agent is dropped at every episode end).
    :param utility: ``"jensen_renyi"`` (MAX), ``"prediction_error"`` (PERX, reactive only),
        ``"trajectory_variance"`` (TVAX, imagination only) or ``"rnd"`` (reactive only): the error of an
        RND predictor (:class:`~agents.curiosity.rnd.RNDModule`, trained at each refit with the model's
        steps, batch and learning rate) on the next state, divided by the errors' standard deviation over
        the stored data (RND's reward normalisation, computed over the data each policy is trained on).
    :param imagination: train the policy in imagined episodes (MAX, TVAX); ``False`` trains it on real
        data relabelled with the utility only (JDRX, PERX, RND).
    :param decay: Jensen-Renyi variance rescaling (official: 0.1).
    :param n_actors: imagined actors (official: 128).
    :param horizon: imagined steps per episode (official: 50).
    :param imagined_episodes: imagined episodes per policy, the random ones included (official: 50).
    :param warmup_episodes: the first imagined episodes act uniformly at random and fill the policy's
        buffer without updates (official: 3).
    :param terminal_horizon: an imagined episode's last step is terminal for the critic; ``False`` (official)
        never ends one: the critic bootstraps past the horizon.
    :param reactive_updates: SAC updates on real data relabelled with the utility before imagination
        (official: 100; every utility, TVAX's included: the spread of the real changes in chunks of 1,024
        transitions, as the official ``TrajectoryStdevUtilityMeasure`` labels the buffer).
    :param sac_hidden_size: width of the policy's and critics' two hidden layers (official: 256).
    :param sac_variant: ``"twin_q"`` (:class:`~agents.max.sac.SAC`) or ``"v"`` (official:
        :class:`~agents.max.v_sac.VSAC`, the authors' V-network SAC).
    :param sac_batch_size: SAC minibatch (official: 4096).
    :param sac_learning_rate: Adam learning rate of SAC.
    :param alpha: SAC's fixed entropy weight (official: 0.02).
    :param tensorboard_log: folder for TensorBoard runs.
    :param seed: seed of every random choice.
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    :param verbose: 0 silent, 1 SB3's console logger.
    :param log_interval: dump logs every this many episodes.
    """

    HYPER_PARAMETERS: ClassVar[tuple[str, ...]] = (
        "ensemble_size", "hidden_size", "n_hidden_layers", "model_learning_rate", "model_batch_size", "model_steps",
        "model_epochs", "max_grad_norm", "refit_from_scratch", "bootstrap", "warmup_steps", "policy_every", "utility",
        "imagination", "decay", "n_actors", "horizon", "imagined_episodes", "warmup_episodes", "reactive_updates",
        "sac_hidden_size", "sac_batch_size", "sac_learning_rate", "alpha", "log_interval", "init", "grad_clip",
        "terminal_horizon", "frozen_normalizer", "policy_each_episode", "member_data", "sac_variant", "refit_clock",
        "model_loss",
    )  # fmt: skip

    def __init__(
        self,
        env: GymEnv | str,
        *,
        ensemble_size: int = 8,
        hidden_size: int = 200,
        n_hidden_layers: int = 2,
        model_learning_rate: float = 1e-3,
        model_batch_size: int = 256,
        model_steps: int | None = 200,
        model_epochs: int | None = None,
        max_grad_norm: float = 5.0,
        refit_from_scratch: bool = False,
        bootstrap: str = "bayesian",
        warmup_steps: int = 256,
        policy_every: int = 100,
        utility: str = "jensen_renyi",
        imagination: bool = True,
        decay: float = 0.1,
        n_actors: int = 128,
        horizon: int = 50,
        imagined_episodes: int = 15,
        warmup_episodes: int = 3,
        reactive_updates: int = 100,
        sac_hidden_size: int = 128,
        sac_batch_size: int = 256,
        sac_learning_rate: float = 1e-3,
        alpha: float = 0.02,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        device: torch.device | str = "auto",
        verbose: int = 0,
        log_interval: int = 1,
        init: str = "default",
        grad_clip: str = "norm",
        terminal_horizon: bool = True,
        frozen_normalizer: bool = False,
        policy_each_episode: bool = False,
        member_data: str = "bootstrap",
        sac_variant: str = "v",
        refit_clock: str = "warmup",
        model_loss: str = "half_sum",
    ) -> None:
        check_device(device)
        if utility not in UTILITIES:
            raise ValueError(f"utility must be one of {UTILITIES}, got {utility!r}")
        if utility in REACTIVE_UTILITIES and imagination:
            raise ValueError(f"utility={utility!r} needs real outcomes: pass imagination=False (PERX, RND)")
        if utility == "trajectory_variance" and not imagination:
            raise ValueError("utility='trajectory_variance' is a spread of imagined actors: needs imagination=True")
        if bootstrap not in BOOTSTRAP_SCHEMES:
            raise ValueError(f"bootstrap must be one of {BOOTSTRAP_SCHEMES}, got {bootstrap!r}")
        if (model_steps is None) == (model_epochs is None):
            raise ValueError("give exactly one of model_steps and model_epochs")
        for name, value in (("model_steps", model_steps), ("model_epochs", model_epochs)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an int >= 1 (or None), got {value!r}: a refit must train")
        if init not in MLP_INITS:
            raise ValueError(f"init must be one of {MLP_INITS}, got {init!r}")
        if grad_clip not in GRAD_CLIPS:
            raise ValueError(f"grad_clip must be one of {GRAD_CLIPS}, got {grad_clip!r}")
        if model_loss not in MODEL_LOSSES:
            raise ValueError(f"model_loss must be one of {MODEL_LOSSES}, got {model_loss!r}")
        if refit_clock not in REFIT_CLOCKS:
            raise ValueError(f"refit_clock must be one of {REFIT_CLOCKS}, got {refit_clock!r}")
        if sac_variant not in SAC_VARIANTS:
            raise ValueError(f"sac_variant must be one of {sorted(SAC_VARIANTS)}, got {sac_variant!r}")
        if member_data not in MEMBER_DATA:
            raise ValueError(f"member_data must be one of {MEMBER_DATA}, got {member_data!r}")
        if member_data == "shuffle" and model_epochs is None:
            raise ValueError("member_data='shuffle' passes over the data in epochs: give model_epochs, not model_steps")
        counts = {name: 1 for name in ("ensemble_size", "policy_every", "n_actors", "horizon", "sac_batch_size",
                                       "model_batch_size")}  # fmt: skip
        counts |= {name: 0 for name in ("imagined_episodes", "warmup_episodes", "reactive_updates")}
        for name, least in counts.items():
            value = locals()[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
        if imagination and warmup_episodes > imagined_episodes:
            raise ValueError(
                f"warmup_episodes ({warmup_episodes}) counts among imagined_episodes ({imagined_episodes})"
            )
        if ensemble_size < 2:
            raise ValueError(f"ensemble_size must be at least 2 (disagreement needs two members), got {ensemble_size}")
        super().__init__(
            policy=None,  # type: ignore[arg-type]  # the policy is retrained in imagination, see _train_policy
            env=env,
            learning_rate=model_learning_rate,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            supported_action_spaces=(spaces.Box,),
        )
        if not isinstance(self.observation_space, spaces.Box) or len(self.observation_space.shape) != 1:
            raise TypeError(f"ContinuousMAX needs a 1-D Box observation space, got {self.observation_space}")
        local = locals()
        for name in self.HYPER_PARAMETERS:
            setattr(self, name, local[name])
        self._setup_model()

    # ------------------------------------------------------------------ set-up
    def _setup_model(self) -> None:
        self.set_random_seed(self.seed)
        self.state_dim = int(self.observation_space.shape[0])
        self.action_dim = int(np.prod(self.action_space.shape))
        self.rng = np.random.default_rng(self.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(int(self.rng.integers(2**31)))
        self._build_model()
        self.data_norms = (
            torch.nn.ModuleDict({name: RunningNormalizer(getattr(self.model, name).mean.numel())
                                 for name in NORMALIZERS}).to(self.device)
            if self.frozen_normalizer else None
        )  # fmt: skip  # the data's running statistics, copied into the model at each refit
        self._build_rnd()
        self.sac = self._new_policy()
        self.has_policy = False
        self.policy_step = -1  # the real step at which the current policy was trained
        self._set_data(*self._empty_data(0))
        self.last_nll = float("nan")
        self.last_utility = float("nan")
        self.novelty_sum, self.novelty_n = 0.0, 0  # experience novelty of the real steps since the last dump

    def _build_model(self) -> None:
        self.model = GaussianDynamicsEnsemble(
            self.state_dim, self.action_dim, ensemble_size=self.ensemble_size, hidden_size=self.hidden_size,
            n_hidden_layers=self.n_hidden_layers, init=self.init,
        ).to(self.device)  # fmt: skip
        # fused: one kernel over every parameter (about 7x faster steps than foreach at the reduced sizes)
        self.optimizer = torch.optim.Adam(self.model.net.parameters(), lr=self.model_learning_rate, fused=True)

    def _build_rnd(self) -> None:
        """The RND predictor and target (``utility="rnd"`` only), its optimiser and normalisation state."""
        self.rnd: RNDModule | None = None
        self.rnd_seen = 0  # stored next states merged into the RND whitening so far
        self.rnd_scale = 1.0  # std of the RND errors over the stored data at the last refit
        if self.utility == "rnd":
            self.rnd = RNDModule(self.observation_space).to(self.device)
            self.rnd_optimizer = torch.optim.Adam(self.rnd.predictor.parameters(), lr=self.model_learning_rate)

    def _new_policy(self) -> SAC | VSAC:
        return SAC_VARIANTS[self.sac_variant](
            self.state_dim, self.action_dim, hidden_size=self.sac_hidden_size, learning_rate=self.sac_learning_rate,
            alpha=self.alpha, normalize=self.model.state_norm.normalize,
        ).to(self.device)  # fmt: skip

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return [], []

    # ------------------------------------------------------------------ actions
    def _to_env_action(self, u: np.ndarray) -> np.ndarray:
        return to_env_action(u, self.action_space)

    def _policy_action(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """(B, a) policy-unit actions; uniform random before the first policy."""
        if not self.has_policy:
            return self.rng.uniform(-1.0, 1.0, size=(len(obs), self.action_dim))
        states = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        return self.sac.act(states, deterministic).cpu().numpy()

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """The exploration policy's action for one observation or a batch: its mean with
        ``deterministic=True`` (how MAX acts in the world), else a sample from it."""
        obs = np.asarray(observation, dtype=np.float32)
        batch = obs.reshape(-1, self.state_dim)
        actions = self._to_env_action(self._policy_action(batch, deterministic))
        return (actions if obs.ndim > 1 else actions[0]), state

    # ------------------------------------------------------------------ model and policy
    def _store(self, state: np.ndarray, action: np.ndarray, next_state: np.ndarray, terminated: bool) -> None:
        """Keep one real transition. ``terminated`` is not used: imagined episodes never end at a real
        termination (:mod:`agents.max.imagined_training`), as in the official code, whose worlds have none."""
        row = [torch.as_tensor(x, dtype=torch.float32, device=self.device).view(1, -1)
               for x in (state, action, next_state)]  # fmt: skip
        if self.has_policy:  # the official "experience novelty": the fitted model's disagreement at (s, a)
            self.novelty_sum += float(self._jensen_renyi(row[0], row[1])[0])
            self.novelty_n += 1
        if self.data_norms is None:
            self.model.update_normalizers(*row)
        else:
            for name, x in zip(NORMALIZERS, (row[0], row[1], row[2] - row[0]), strict=True):
                self.data_norms[name].update(x)
        draw = torch.as_tensor(bootstrap_weights(1, self.ensemble_size, self.bootstrap, self.rng), device=self.device)
        n = self.n_real
        if n == len(self._states):  # full: double the capacity (a step costs O(1), not O(steps so far))
            states, actions, next_states, weights = self._empty_data(max(1024, 2 * n))
            states[:n], actions[:n], next_states[:n] = self.states, self.actions, self.next_states
            weights[:, :n] = self.weights
            self._states, self._actions, self._next_states, self._weights = states, actions, next_states, weights
        self._states[n], self._actions[n], self._next_states[n] = row[0][0], row[1][0], row[2][0]
        self._weights[:, n] = draw[:, 0].float()
        self.n_real = n + 1

    def _empty_data(self, capacity: int) -> tuple[torch.Tensor, ...]:
        """Room for ``capacity`` real transitions: (C, d), (C, a), (C, d) and weights (E, C)."""
        return (torch.zeros(capacity, self.state_dim, device=self.device),
                torch.zeros(capacity, self.action_dim, device=self.device),
                torch.zeros(capacity, self.state_dim, device=self.device),
                torch.zeros(self.ensemble_size, capacity, device=self.device))  # fmt: skip

    def _set_data(self, states, actions, next_states, weights) -> None:
        self._states, self._actions, self._next_states, self._weights = states, actions, next_states, weights
        self.n_real = len(states)

    # the real transitions so far: (N, d) states, (N, a) actions in [-1, 1], (N, d) next states, and each
    # member's bootstrap weight of each, (E, N)
    @property
    def states(self) -> torch.Tensor:
        return self._states[: self.n_real]

    @property
    def actions(self) -> torch.Tensor:
        return self._actions[: self.n_real]

    @property
    def next_states(self) -> torch.Tensor:
        return self._next_states[: self.n_real]

    @property
    def weights(self) -> torch.Tensor:
        return self._weights[:, : self.n_real]

    def train(self) -> float:
        """Refit the ensemble on every real transition; returns the last step's weighted NLL."""
        if self.refit_from_scratch:
            self._build_model_keeping_normalizers()
        if self.data_norms is not None:  # the copy the model and the policy see until the next refit
            for name in NORMALIZERS:
                getattr(self.model, name).load_state_dict(self.data_norms[name].state_dict())
        scale = loss_scale(self.model_loss, self.states.shape[1])
        if self.member_data == "shuffle":
            self.last_nll, steps = fit_shuffled(
                self.model, self.optimizer, self.states, self.actions, self.next_states, epochs=self.model_epochs,
                batch_size=self.model_batch_size, rng=self.rng, max_grad_norm=self.max_grad_norm,
                grad_clip=self.grad_clip, scale=scale,
            )  # fmt: skip
        else:
            steps = refit_steps(len(self.states), self.model_steps, self.model_epochs, self.model_batch_size)
            self.last_nll = fit_transitions(
                self.model, self.optimizer, self.states, self.actions, self.next_states, self.weights, steps=steps,
                batch_size=self.model_batch_size, rng=self.rng, max_grad_norm=self.max_grad_norm,
                grad_clip=self.grad_clip, scale=scale,
            )  # fmt: skip
        if self.rnd is not None:
            self._fit_rnd(steps)
        self._n_updates += steps
        return self.last_nll

    def _fit_rnd(self, steps: int) -> None:
        """Whiten with the new next states, ``steps`` minibatch steps of the RND predictor on every stored
        next state, then the errors' standard deviation over them (the utility's scale)."""
        self.rnd.observe(self.next_states[self.rnd_seen :])
        self.rnd_seen = self.n_real
        for _ in range(steps):
            index = torch.as_tensor(self.rng.integers(self.n_real, size=min(self.model_batch_size, self.n_real)),
                                    device=self.device)  # fmt: skip
            loss = self.rnd.errors(self.next_states[index]).mean()
            self.rnd_optimizer.zero_grad()
            loss.backward()
            self.rnd_optimizer.step()
        with torch.no_grad():
            self.rnd_scale = float(self.rnd.errors(self.next_states).std().clamp_min(1e-8)) if self.n_real > 1 else 1.0

    def _build_model_keeping_normalizers(self) -> None:
        norms = {k: v for k, v in self.model.state_dict().items() if "_norm." in k}
        self._build_model()
        self.model.load_state_dict({**self.model.state_dict(), **norms})

    @torch.no_grad()
    def _jensen_renyi(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """(b,) the members' Jensen-Renyi disagreement at (b, d) states and (b, a) actions."""
        mean, var = self.model.normalized_prediction(states, actions)  # (E, b, d) each
        return jensen_renyi(mean, var, decay=self.decay, max_var=math.exp(self.model.net.max_log_var))

    @torch.no_grad()
    def _real_utility(self, rows: slice) -> torch.Tensor:
        """(b,) the utility of the real transitions ``rows``, as the official code labels them for the
        reactive updates."""
        s, a, s_next = self.states[rows], self.actions[rows], self.next_states[rows]
        if self.utility == "rnd":
            return self.rnd.errors(s_next) / self.rnd_scale  # (b,)
        if self.utility == "prediction_error":  # the ensemble's mean next state against the real one, in state stds
            predicted, _ = self.model.predict_next(s, a)  # (E, b, d)
            norm = self.model.state_norm.normalize
            return prediction_error(norm(predicted), norm(s_next))  # (b,)
        if self.utility == "trajectory_variance":  # the spread of the rows' real changes (0 for a single row)
            changes = self.model.delta_norm.normalize(s_next - s)  # (b, d)
            return trajectory_variance(changes) if len(changes) > 1 else torch.zeros(len(changes), device=s.device)
        return self._jensen_renyi(s, a)  # (b,)

    def _label_real_data(self) -> torch.Tensor:
        """(N,) the utility of every real transition, in chunks of 1,024 rows as the official ``get_policy``
        labels the buffer once for each fresh policy."""
        return torch.cat([self._real_utility(slice(i, i + 1024)) for i in range(0, self.n_real, 1024)])

    def _train_policy(self, start: np.ndarray) -> None:
        """A fresh SAC: reactive updates on relabelled real data, then imagined episodes from ``start``."""
        self.sac = self._new_policy()
        self.policy_step = self.num_timesteps
        if self.reactive_updates > 0:
            labels = self._label_real_data()  # (N,)
            self.last_utility = train_reactively(
                self.sac, self.states, self.actions, self.next_states, lambda index: labels[index],
                updates=self.reactive_updates, batch_size=self.sac_batch_size, generator=self.generator,
            )  # fmt: skip
        if self.imagination:
            self._train_in_imagination(torch.as_tensor(start, dtype=torch.float32, device=self.device))
        self.has_policy = True

    def _train_in_imagination(self, start: torch.Tensor) -> None:
        imagined = ImaginedExploration(
            self.model, n_actors=self.n_actors, horizon=self.horizon, utility=self.utility, decay=self.decay,
            generator=self.generator,
        )  # fmt: skip
        self.model.eval()
        self.last_utility = train_in_imagination(
            self.sac, imagined, start, episodes=self.imagined_episodes, warmup_episodes=self.warmup_episodes,
            batch_size=self.sac_batch_size, generator=self.generator, terminal_horizon=self.terminal_horizon,
        )  # fmt: skip

    # ------------------------------------------------------------------ real steps (agents.max.real_steps)
    def _observation_batch(self, observation) -> np.ndarray:
        return np.asarray(observation, dtype=np.float32).reshape(1, -1)  # (1, d)

    def _act(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = self._policy_action(observations)  # (1, a) in [-1, 1]
        return self._to_env_action(u), u[0]

    def _refit_due(self) -> bool:
        """Whether this real step ends with a refit and a fresh policy (``refit_clock``)."""
        after_warmup = self.num_timesteps - self.warmup_steps
        if self.refit_clock == "step":  # the official clock: the warm-up's end, then multiples of policy_every
            return after_warmup == 0 or (after_warmup > 0 and self.num_timesteps % self.policy_every == 0)
        return after_warmup >= 0 and after_warmup % self.policy_every == 0

    def _after_step(self, new_observations: np.ndarray) -> None:
        if self._refit_due():
            self.train()
            self._train_policy(self._observation_batch(new_observations)[0])

    def _after_episode(self, new_observations: np.ndarray) -> None:
        if self.policy_each_episode and self.has_policy and self.policy_step != self.num_timesteps:
            self._train_policy(self._observation_batch(new_observations)[0])  # the same model, the new start

    def _record_logs(self) -> None:
        if self.novelty_n:
            self.logger.record("explore/experience_novelty", self.novelty_sum / self.novelty_n)
        self.novelty_sum, self.novelty_n = 0.0, 0

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | os.PathLike, exclude=None, include=None) -> None:  # noqa: ARG002
        """Write hyper-parameters, model, policy, data, counters and random state (pickle-free)."""
        checkpoint = {
            "kind": "ContinuousMAX",
            "hyper_parameters": {name: getattr(self, name) for name in self.HYPER_PARAMETERS},
            "seed": self.seed,
            "env": env_identity(self.env) if self.env is not None else None,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sac": self.sac.state_dict(),
            "sac_optimizers": [self.sac.actor_optimizer.state_dict(), self.sac.critic_optimizer.state_dict()],
            "has_policy": self.has_policy,
            "policy_step": self.policy_step,
            "data_norms": None if self.data_norms is None else self.data_norms.state_dict(),
            "rnd": None
            if self.rnd is None
            else {
                "module": self.rnd.state_dict(),
                "optimizer": self.rnd_optimizer.state_dict(),
                "seen": self.rnd_seen,
                "scale": self.rnd_scale,
            },
            "data": {  # copies: a view would save the whole preallocated storage
                "states": self.states.clone(),
                "actions": self.actions.clone(),
                "next_states": self.next_states.clone(),
                "weights": self.weights.clone(),
            },  # fmt: skip
            "counters": progress_counters(self),
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        save_checkpoint(checkpoint, path)

    @classmethod
    def load(cls, path: str | os.PathLike, env: GymEnv | None = None, device: torch.device | str = "auto", **kwargs):
        """Load a checkpoint written by :meth:`save` into ``env`` (needed to continue learning)."""
        checkpoint = load_checkpoint(path, kind="ContinuousMAX")
        if env is None:
            raise ValueError("ContinuousMAX.load needs the env (its spaces size the networks)")
        warn_if_other_env(checkpoint.get("env"), env, path)
        hyper = {**checkpoint["hyper_parameters"], "seed": checkpoint["seed"], **kwargs}
        model = cls(env, device=device, **hyper)
        model.model.load_state_dict(checkpoint["model"])
        model.optimizer.load_state_dict(checkpoint["optimizer"])
        model.sac.load_state_dict(checkpoint["sac"])
        model.sac.actor_optimizer.load_state_dict(checkpoint["sac_optimizers"][0])
        model.sac.critic_optimizer.load_state_dict(checkpoint["sac_optimizers"][1])
        model.has_policy = checkpoint["has_policy"]
        model.policy_step = checkpoint.get("policy_step", -1)
        if model.data_norms is not None:
            model.data_norms.load_state_dict(checkpoint["data_norms"])
        if checkpoint.get("rnd") is not None:
            model.rnd.load_state_dict(checkpoint["rnd"]["module"])
            model.rnd_optimizer.load_state_dict(checkpoint["rnd"]["optimizer"])
            model.rnd_seen, model.rnd_scale = checkpoint["rnd"]["seen"], checkpoint["rnd"]["scale"]
        data = checkpoint["data"]
        model._set_data(*(data[k].to(model.device) for k in ("states", "actions", "next_states", "weights")))
        restore_progress_counters(model, checkpoint["counters"])
        model.rng.bit_generator.state = checkpoint["rng"]
        model.generator.set_state(checkpoint["generator"])
        torch.set_rng_state(checkpoint["torch_rng"])
        return model
