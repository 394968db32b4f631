"""Exploration-bonus DQN: DQN whose replayed rewards get a count-based bonus beta / sqrt(N(s, a)).

The bonus follows the count-based line of work (Strehl & Littman 2008; Bellemare et al. 2016; Tang
et al. 2017) that MAX compares against. N(s, a) is counted when a transition is collected, and the
bonus is computed from the *current* counts each time a batch is sampled, so an old transition's bonus
shrinks as its pair keeps being visited (it is not frozen at collection time).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import GymEnv, ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

from agents.counts import COUNT_METHODS, StateActionCounter
from agents.dqn import DQN, reject_replay_buffer_kwargs


class CountBonusReplayBuffer(ReplayBuffer):
    """Counts every added (obs, action) in ``counter`` and adds ``beta / sqrt(N(s, a))`` to sampled rewards.

    Each stored transition keeps its state's key (``state_keys``), so a sampled batch's counts are looked
    up without hashing its pictures again. Single environment only. ``bonus_sum`` and ``bonus_n``
    accumulate the bonuses handed out, for logging.
    """

    def __init__(self, *args: Any, counter: StateActionCounter, beta: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.n_envs != 1:
            raise ValueError(f"CountBonusReplayBuffer supports one environment, got n_envs={self.n_envs}")
        self.counter = counter
        self.beta = beta
        self.bonus_sum = 0.0
        self.bonus_n = 0
        self.state_keys = np.zeros(self.buffer_size, dtype=np.int64)  # (buffer_size,) key of each stored obs

    def add(self, obs, next_obs, action, reward, done, infos) -> None:
        keys = self.counter.keys(np.asarray(obs))  # (1,)
        self.counter.add_keys(keys, np.asarray(action))
        self.state_keys[self.pos] = keys[0]
        super().add(obs, next_obs, action, reward, done, infos)

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> ReplayBufferSamples:
        samples = super()._get_samples(batch_inds, env)
        counts = self.counter.key_counts(self.state_keys[batch_inds], self.actions[batch_inds, 0])  # (B,)
        bonus = self.beta / np.sqrt(np.maximum(counts, 1))  # (B,)
        self.bonus_sum += float(bonus.sum())
        self.bonus_n += len(bonus)
        return samples._replace(rewards=samples.rewards + self.to_torch(bonus.reshape(-1, 1).astype(np.float32)))


class BonusDQN(DQN):
    """DQN with a count-based exploration bonus added to replayed rewards (SB3's DQN signature).

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or a policy class.
    :param env: the environment or its id (one environment).
    :param bonus: ``"count"`` (exact counts; Discrete states or exact observations) or ``"simhash"``
        (hashed counts for pixels, Tang et al. 2017).
    :param beta: bonus scale; the bonus is ``beta / sqrt(N(s, a))`` (>= 0; 1.0 scored best on the chain).
    :param hash_bits: SimHash code length.
    :param kwargs: every other argument of ``stable_baselines3.DQN``, by keyword.
    """

    def __init__(
        self,
        policy: Any,
        env: GymEnv | str | None,
        *,
        bonus: str = "count",
        beta: float = 1.0,
        hash_bits: int = 32,
        **kwargs: Any,
    ) -> None:
        if bonus not in COUNT_METHODS:
            raise ValueError(f"bonus must be one of {COUNT_METHODS}, got {bonus!r}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        reject_replay_buffer_kwargs(kwargs, "BonusDQN", "count-bonus replay")
        self.bonus = bonus
        self.beta = beta
        self.hash_bits = hash_bits
        super().__init__(policy, env, **kwargs)
        self._remember_init(policy, {**kwargs, "bonus": bonus, "beta": beta, "hash_bits": hash_bits})

    def _setup_model(self) -> None:
        self.counter = StateActionCounter(
            self.observation_space, self.bonus, hash_bits=self.hash_bits, seed=self.seed or 0
        )
        self.replay_buffer_class = CountBonusReplayBuffer
        self.replay_buffer_kwargs = {"counter": self.counter, "beta": self.beta}
        super()._setup_model()

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        buffer = self.replay_buffer
        assert isinstance(buffer, CountBonusReplayBuffer)
        buffer.bonus_sum, buffer.bonus_n = 0.0, 0
        super().train(gradient_steps, batch_size)
        if buffer.bonus_n:
            self.logger.record("train/bonus_mean", buffer.bonus_sum / buffer.bonus_n)

    def _extra_state(self) -> dict[str, Any]:
        return {"counts": self.counter.state_dict(), "exploration_rate": self.exploration_rate}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.counter.load_state_dict(state["counts"])
        self.exploration_rate = state["exploration_rate"]
