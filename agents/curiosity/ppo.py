"""PPO with two reward streams, the learner of the curiosity baselines (RND, ICM).

Random Network Distillation (Burda, Edwards, Storkey & Klimov, ICLR 2019, section 2.3) trains PPO on the sum
of two advantages: an extrinsic one, episodic, from the world's reward (discount ``gamma``, 0.999), and an
intrinsic one, *non-episodic*, from the curiosity reward (discount ``gamma_int``, 0.99): an episode's end does
not end the intrinsic return, so a reset is no escape from novelty. Each stream has its own value head;
advantages are combined ``int_coef * A_int + ext_coef * A_ext`` (1 : 2). Intrinsic rewards are divided by a
running standard deviation of the discounted intrinsic return (``normalize_intrinsic``), so their scale is
the same all run long.

:class:`CuriosityPPO` is ``stable_baselines3.PPO`` with these changes; SB3's ``train`` runs unchanged: the
policy's value head has two outputs and :class:`TwoStreamRolloutBuffer` keeps values and returns as
(intrinsic, extrinsic) columns, which SB3's ``train`` flattens alike, so its value loss is the mean of the two
heads' squared errors. A subclass supplies the curiosity module (:meth:`CuriosityPPO._make_curiosity`): an
``nn.Module`` with ``reward(obs, actions, next_obs) -> (B,)``, ``loss(obs, actions, next_obs) -> scalar`` and
``observe(next_obs)`` (running statistics), trained on each rollout before the policy.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

import numpy as np
import stable_baselines3
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, NatureCNN
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from agents.callbacks import ProgressBarMixin
from agents.devices import check_device
from agents.sb3_checkpoint import SafeCheckpointMixin
from world_models.normalizer import RunningNormalizer

# PPO for one environment in small exploration worlds: a rollout of 128 steps (RND's per-environment length),
# 4 epochs, clip 0.1 and entropy 0.001 (RND's Atari values); minibatches of 32 because there is one env
CURIOSITY_DEFAULTS: dict[str, Any] = {
    "n_steps": 128,
    "batch_size": 32,
    "n_epochs": 4,
    "learning_rate": 3e-4,
    "gamma": 0.999,
    "gae_lambda": 0.95,
    "clip_range": 0.1,
    "ent_coef": 0.001,
}


def gae(
    rewards: np.ndarray, values: np.ndarray, last_values: np.ndarray, episode_starts: np.ndarray,
    last_dones: np.ndarray, gamma: float, gae_lambda: float,
) -> np.ndarray:  # fmt: skip
    """Generalised advantage estimates (Schulman et al., ICLR 2016) by the backward recursion.

    :param rewards: (T, n_envs) rewards.
    :param values: (T, n_envs) value estimates of the observations the rewards followed.
    :param last_values: (n_envs,) values of the observations after the last step.
    :param episode_starts: (T, n_envs) 1 where step t began an episode (the step before it ended one); all 0
        for a non-episodic stream.
    :param last_dones: (n_envs,) 1 where the last step ended an episode.
    :param gamma: discount; ``gae_lambda``: GAE's lambda.
    :returns: (T, n_envs) advantages. :func:`gae_reference` is the slow sum it must equal.
    """
    advantages = np.zeros_like(rewards, dtype=np.float64)  # (T, n_envs)
    running = np.zeros(rewards.shape[1])  # (n_envs,)
    for t in reversed(range(len(rewards))):
        nonterminal = 1.0 - (last_dones if t == len(rewards) - 1 else episode_starts[t + 1])  # (n_envs,)
        next_values = last_values if t == len(rewards) - 1 else values[t + 1]  # (n_envs,)
        delta = rewards[t] + gamma * next_values * nonterminal - values[t]  # (n_envs,)
        running = delta + gamma * gae_lambda * nonterminal * running
        advantages[t] = running
    return advantages.astype(np.float32)


def gae_reference(
    rewards: np.ndarray, values: np.ndarray, last_values: np.ndarray, episode_starts: np.ndarray,
    last_dones: np.ndarray, gamma: float, gae_lambda: float,
) -> np.ndarray:  # fmt: skip
    """Slow reference of :func:`gae`: A_t = sum_l (gamma lambda)^l delta_(t+l), summed within an episode."""
    steps, n_envs = rewards.shape
    ends = np.vstack([episode_starts[1:], last_dones[None]])  # (T, n_envs) 1 where step t ended an episode
    next_values = np.vstack([values[1:], last_values[None]])  # (T, n_envs)
    advantages = np.zeros((steps, n_envs))
    for env in range(n_envs):
        for t in range(steps):
            for k in range(t, steps):
                delta = rewards[k, env] + gamma * next_values[k, env] * (1 - ends[k, env]) - values[k, env]
                advantages[t, env] += (gamma * gae_lambda) ** (k - t) * delta
                if ends[k, env]:
                    break
    return advantages


class ReturnScale(nn.Module):
    """Divides intrinsic rewards by a running standard deviation of their discounted return (RND's reward
    normalisation); the running returns (one per env) and their statistics save with ``state_dict``.

    :param n_envs: parallel environments.
    :param gamma: discount of the intrinsic return.
    """

    def __init__(self, n_envs: int, gamma: float) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("running_return", torch.zeros(n_envs, dtype=torch.float64))  # (n_envs,)
        self.moments = RunningNormalizer(1)

    def forward(self, rewards: np.ndarray) -> np.ndarray:
        """(T, n_envs) raw intrinsic rewards -> the same divided by the updated return std."""
        returns = np.zeros(rewards.shape)  # (T, n_envs)
        running = self.running_return.numpy(force=True)  # (n_envs,)
        for t, reward in enumerate(rewards):
            running = running * self.gamma + reward
            returns[t] = running
        self.running_return.copy_(torch.from_numpy(running))
        self.moments.update(torch.from_numpy(returns).reshape(-1, 1))
        return (rewards / float(self.moments.std[0])).astype(np.float32)


class TwoValuePolicy(ActorCriticPolicy):
    """SB3's actor-critic whose value head has two outputs, (intrinsic, extrinsic): ``predict_values``,
    ``forward`` and ``evaluate_actions`` return values of shape (B, 2)."""

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 2)
        if self.ortho_init:
            self.value_net.apply(partial(self.init_weights, gain=1))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)


class TwoValueCnnPolicy(TwoValuePolicy):
    """:class:`TwoValuePolicy` with SB3's NatureCNN features extractor by default."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN, **kwargs):
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)


class TwoStreamRolloutBuffer(RolloutBuffer):
    """A rollout buffer with an intrinsic stream beside SB3's (extrinsic) one.

    While collecting, ``values`` holds the extrinsic values; ``intrinsic_values``, ``intrinsic_rewards`` and
    ``next_observations`` (the observation each step led to, the terminal one at an episode's end) sit
    beside it. :meth:`compute_returns_and_advantage` then makes ``values`` and ``returns`` (T, n_envs, 2)
    arrays of (intrinsic, extrinsic) columns and ``advantages`` the combined advantage.

    :param gamma_int: discount of the non-episodic intrinsic stream.
    :param int_coef: weight of the intrinsic advantage; ``ext_coef``: of the extrinsic one.
    """

    def __init__(self, *args: Any, gamma_int: float, int_coef: float, ext_coef: float, **kwargs: Any) -> None:
        self.gamma_int, self.int_coef, self.ext_coef = gamma_int, int_coef, ext_coef
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        super().reset()
        self.intrinsic_values = np.zeros((self.buffer_size, self.n_envs), dtype=np.float32)  # (T, n_envs)
        self.intrinsic_rewards = np.zeros((self.buffer_size, self.n_envs), dtype=np.float32)  # (T, n_envs)
        self.next_observations = np.zeros_like(self.observations)  # (T, n_envs, *obs_shape)

    def add(self, obs, action, reward, episode_start, value, log_prob, next_obs=None) -> None:  # type: ignore[override]
        """SB3's ``add`` with ``value`` (n_envs, 2) and the step's ``next_obs`` (n_envs, *obs_shape)."""
        if next_obs is None:
            raise ValueError("TwoStreamRolloutBuffer.add needs next_obs, the observation each step led to")
        self.intrinsic_values[self.pos] = value[:, 0].numpy(force=True)
        self.next_observations[self.pos] = np.asarray(next_obs).reshape(self.next_observations.shape[1:])
        super().add(obs, action, reward, episode_start, value[:, 1], log_prob)

    def compute_returns_and_advantage(self, last_values: torch.Tensor, dones: np.ndarray) -> None:
        """Both streams' GAE from ``last_values`` (n_envs, 2); the intrinsic one ignores episode ends."""
        last = last_values.numpy(force=True).astype(np.float64)  # (n_envs, 2)
        dones = np.asarray(dones, dtype=np.float64)  # (n_envs,)
        ext = gae(self.rewards, self.values, last[:, 1], self.episode_starts, dones, self.gamma, self.gae_lambda)
        never = np.zeros_like(self.episode_starts)  # (T, n_envs): the intrinsic stream never ends
        int_ = gae(self.intrinsic_rewards, self.intrinsic_values, last[:, 0], never, never[0], self.gamma_int,
                   self.gae_lambda)  # fmt: skip
        self.returns = np.stack([int_ + self.intrinsic_values, ext + self.values], -1)  # (T, n_envs, 2)
        self.values = np.stack([self.intrinsic_values, self.values], -1)  # (T, n_envs, 2)
        self.advantages = (self.int_coef * int_ + self.ext_coef * ext).astype(np.float32)  # (T, n_envs)


class CuriosityPPO(ProgressBarMixin, SafeCheckpointMixin, stable_baselines3.PPO):
    """PPO on an extrinsic and a non-episodic intrinsic stream; the base of :class:`~agents.curiosity.RND`
    and :class:`~agents.curiosity.ICM` (see the module docstring).

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or a :class:`TwoValuePolicy` subclass.
    :param env: the environment or its id.
    :param int_coef: weight of the intrinsic advantage (RND: 1).
    :param ext_coef: weight of the extrinsic advantage (RND: 2).
    :param gamma_int: discount of the intrinsic return (RND: 0.99); ``gamma`` is the extrinsic one (0.999).
    :param normalize_intrinsic: divide intrinsic rewards by the running std of their discounted return.
    :param curiosity_learning_rate: Adam's learning rate for the curiosity module (``None``: PPO's initial one).
    :param kwargs: every other argument of ``stable_baselines3.PPO``, by keyword; those not given take
        :data:`CURIOSITY_DEFAULTS`, then SB3's.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": TwoValuePolicy,
        "CnnPolicy": TwoValueCnnPolicy,
    }

    def __init__(
        self,
        policy: Any,
        env: GymEnv | str | None,
        *,
        int_coef: float = 1.0,
        ext_coef: float = 2.0,
        gamma_int: float = 0.99,
        normalize_intrinsic: bool = True,
        curiosity_learning_rate: float | None = None,
        **kwargs: Any,
    ) -> None:
        for name, value in (("int_coef", int_coef), ("ext_coef", ext_coef)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not 0.0 <= gamma_int < 1.0:
            raise ValueError(f"gamma_int must be in [0, 1), got {gamma_int}")
        if curiosity_learning_rate is not None and curiosity_learning_rate <= 0:
            raise ValueError(f"curiosity_learning_rate must be positive, got {curiosity_learning_rate}")
        for name in ("rollout_buffer_class", "rollout_buffer_kwargs"):
            if name in kwargs:
                raise ValueError(f"{name} is set by {type(self).__name__} (two reward streams); do not pass it")
        check_device(kwargs.get("device", "auto"))
        kwargs = {**CURIOSITY_DEFAULTS, **kwargs}
        self._remember_init(policy, {**kwargs, **self._curiosity_args(), "int_coef": int_coef, "ext_coef": ext_coef,
                                     "gamma_int": gamma_int, "normalize_intrinsic": normalize_intrinsic,
                                     "curiosity_learning_rate": curiosity_learning_rate})  # fmt: skip
        self.gamma_int, self.normalize_intrinsic = gamma_int, normalize_intrinsic
        self.curiosity_learning_rate = curiosity_learning_rate
        buffer_kwargs = {"gamma_int": gamma_int, "int_coef": int_coef, "ext_coef": ext_coef}
        super().__init__(policy, env, rollout_buffer_class=TwoStreamRolloutBuffer,
                         rollout_buffer_kwargs=buffer_kwargs, **kwargs)  # fmt: skip

    def _curiosity_args(self) -> dict[str, Any]:
        """The subclass's own constructor arguments, for :meth:`save`."""
        return {}

    def _make_curiosity(self) -> nn.Module:
        """The curiosity module (``reward``, ``loss``, ``observe``) for this model's spaces."""
        raise NotImplementedError

    def _setup_model(self) -> None:
        super()._setup_model()
        self.curiosity = self._make_curiosity().to(self.device)
        lr = self.curiosity_learning_rate or self.lr_schedule(1)
        self.curiosity_optimizer = torch.optim.Adam([p for p in self.curiosity.parameters() if p.requires_grad], lr=lr)
        self.return_scale = ReturnScale(self.n_envs, self.gamma_int)

    def collect_rollouts(
        self, env: VecEnv, callback: BaseCallback, rollout_buffer: RolloutBuffer, n_rollout_steps: int
    ) -> bool:
        """SB3's rollout loop with two value heads and each step's next observation kept; a truncated
        episode's extrinsic reward is bootstrapped with the extrinsic value (the intrinsic stream never ends).
        At the end the rollout's intrinsic rewards are computed in one batch."""
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()
        for _ in range(n_rollout_steps):
            with torch.no_grad():
                actions, values, log_probs = self.policy(obs_as_tensor(self._last_obs, self.device))  # values (n, 2)
            actions = actions.cpu().numpy()
            env_actions = actions
            if isinstance(self.action_space, spaces.Box):
                env_actions = np.clip(actions, self.action_space.low, self.action_space.high)
            new_obs, rewards, dones, infos = env.step(env_actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.reshape(-1, 1)
            next_obs = np.array(new_obs)  # (n_envs, *obs_shape): the terminal observation where an episode ended
            for idx, done in enumerate(dones):
                terminal = infos[idx].get("terminal_observation")
                if done and terminal is not None:
                    next_obs[idx] = terminal
                    if infos[idx].get("TimeLimit.truncated", False):
                        with torch.no_grad():
                            terminal_value = self.policy.predict_values(self.policy.obs_to_tensor(terminal)[0])
                        rewards[idx] += self.gamma * float(terminal_value[0, 1])
            rollout_buffer.add(self._last_obs, actions, rewards, self._last_episode_starts, values, log_probs,
                               next_obs=next_obs)  # fmt: skip
            self._last_obs = new_obs
            self._last_episode_starts = dones
        with torch.no_grad():
            last_values = self.policy.predict_values(obs_as_tensor(new_obs, self.device))  # (n_envs, 2)
        self._add_intrinsic_rewards(rollout_buffer)
        rollout_buffer.compute_returns_and_advantage(last_values=last_values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _rollout_tensors(self, buffer: TwoStreamRolloutBuffer) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The rollout's observations, actions and next observations, each flattened to (T * n_envs, ...)."""
        flat = lambda a: torch.as_tensor(a.reshape(-1, *a.shape[2:]), device=self.device)  # noqa: E731
        return flat(buffer.observations), flat(buffer.actions), flat(buffer.next_observations)

    def _add_intrinsic_rewards(self, buffer: TwoStreamRolloutBuffer) -> None:
        """Fill ``buffer.intrinsic_rewards`` (T, n_envs): the curiosity module's reward of every step, after
        its statistics have seen the rollout, divided by the return scale when ``normalize_intrinsic``."""
        obs, actions, next_obs = self._rollout_tensors(buffer)
        with torch.no_grad():
            self.curiosity.observe(next_obs)
            raw = self.curiosity.reward(obs, actions, next_obs).numpy(force=True)  # (T * n_envs,)
        raw = raw.reshape(buffer.intrinsic_rewards.shape)  # (T, n_envs)
        buffer.intrinsic_rewards = self.return_scale(raw) if self.normalize_intrinsic else raw.astype(np.float32)
        self.logger.record("explore/intrinsic_reward_mean", float(raw.mean()))

    def train(self) -> None:
        """Train the curiosity module on the rollout (``n_epochs`` passes of ``batch_size`` minibatches), then
        PPO as SB3 does."""
        obs, actions, next_obs = self._rollout_tensors(self.rollout_buffer)
        losses = []
        self.curiosity.train()
        for _ in range(self.n_epochs):
            order = torch.randperm(len(obs), device=self.device)  # (T * n_envs,)
            for start in range(0, len(obs), self.batch_size):
                batch = order[start : start + self.batch_size]  # (B,)
                loss = self.curiosity.loss(obs[batch], actions[batch], next_obs[batch])
                self.curiosity_optimizer.zero_grad()
                loss.backward()
                self.curiosity_optimizer.step()
                losses.append(loss.item())
        self.logger.record("train/curiosity_loss", float(np.mean(losses)))
        super().train()

    def _extra_state(self) -> dict[str, Any]:
        return {
            "curiosity": self.curiosity.state_dict(),
            "curiosity_optimizer": self.curiosity_optimizer.state_dict(),
            "return_scale": self.return_scale.state_dict(),
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.curiosity.load_state_dict(state["curiosity"])
        self.curiosity_optimizer.load_state_dict(state["curiosity_optimizer"])
        self.return_scale.load_state_dict(state["return_scale"])
