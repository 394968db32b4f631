"""Exploration-bonus DQN: DQN whose replayed rewards get a count-based bonus beta / sqrt(N(s, a)).

The bonus follows the count-based line of work (Strehl & Littman 2008; Bellemare et al. 2016; Tang
et al. 2017) that MAX compares against. N(s, a) is counted when a transition is collected, and the
bonus is computed from the *current* counts each time a batch is sampled, so an old transition's bonus
shrinks as its pair keeps being visited (it is not frozen at collection time).

What a state is, by ``bonus``: its index or exact observation (``"count"``), a SimHash code of its raw
observation (``"simhash"``, Tang et al. 2017), or, for pictures, a cell of a cover of features learned by
inverse dynamics (``"features"``, :class:`FeatureCover`): the features keep what the actions change (where
the agent stands) and drop what they do not (a texture redrawn at every reset), so the count is of places,
not of pictures. Tang et al. learn their hash too (an autoencoder's binary code); inverse dynamics is the
suite's choice because an autoencoder must reproduce the texture, and a cover rather than SimHash because
SimHash codes of these features still split a cell (docs/BENCHMARKS.md, "What bonus DQN counts").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import GymEnv, ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

from agents.counts import COUNT_METHODS, StateActionCounter
from agents.dqn import DQN, reject_replay_buffer_kwargs
from agents.encoders import InverseDynamicsEncoder, encode_pictures, train_inverse_dynamics
from agents.max.latent_planning import cover

BONUSES = (*COUNT_METHODS, "features")
EXACT = "donot_use_mm_for_euclid_dist"  # torch.cdist without the matrix-product shortcut: the same distance
# for a picture whatever else is in its batch, so a picture at the radius gets the same key every time


class FeatureCover:
    """State keys of pictures: the cells of a greedy cover of their inverse-dynamics features.

    After each :meth:`fit` the stored pictures' features are covered (:func:`~agents.max.latent_planning.cover`,
    the nodes of MAX from pixels' planner) at ``spacing`` times the median length of the real steps that
    moved them. A picture's key is the first node, in the order the nodes were made, within that radius of
    its features; a picture farther than that from every node becomes a node of its own (before the first
    fit, every distinct picture does: exact counts). First rather than nearest, so that a node added later
    never changes the key of a picture keyed before it: keying stored pictures again gives their stored keys
    (with the nearest node, a later node nearer to them took them over and their counts split).

    :param observation_space: channel-first (C, H, W) pictures in [0, 255].
    :param n_actions: discrete actions the encoder's inverse head tells apart.
    :param spacing: the cover's radius, in median real-step lengths of feature space.
    :param features_dim: size of the features.
    :param learning_rate: Adam's learning rate for the encoder.
    :param device: where the encoder runs.
    """

    def __init__(
        self, observation_space: spaces.Box, n_actions: int, *, spacing: float = 0.5, features_dim: int = 32,
        learning_rate: float = 1e-3, device: torch.device | str = "cpu",
    ) -> None:  # fmt: skip
        if not spacing > 0:
            raise ValueError(f"spacing must be > 0, got {spacing!r}")
        self.device, self.spacing = device, spacing
        self.encoder = InverseDynamicsEncoder(observation_space, n_actions, features_dim=features_dim).to(device)
        self.optimizer = torch.optim.Adam(self.encoder.parameters(), lr=learning_rate)
        self.nodes = torch.zeros(0, features_dim, device=device)  # (n, f) the cover's nodes
        self.radius = 0.0  # a picture within this of a node may share its key

    @torch.no_grad()
    def keys(self, pictures: np.ndarray) -> np.ndarray:
        """(B, C, H, W) pictures -> (B,) int64 keys: the first node within the radius of each, a new node
        where none is."""
        features = encode_pictures(self.encoder, np.asarray(pictures), self.device)  # (B, f)
        keys = np.full(len(features), -1, dtype=np.int64)
        if len(self.nodes):
            within = torch.cdist(features, self.nodes, compute_mode=EXACT) <= self.radius  # (B, n)
            near = within.any(dim=1).cpu().numpy()  # (B,)
            keys[near] = within.to(torch.uint8).argmax(dim=1).cpu().numpy()[near]  # argmax: the first True
        first_new = len(self.nodes)
        for i in np.flatnonzero(keys < 0):  # in order: a new node may be near a later picture of the batch
            near_new = torch.cdist(features[i : i + 1], self.nodes[first_new:], compute_mode=EXACT)[0] <= self.radius
            if bool(near_new.any()):  # (nodes made in this call,)
                keys[i] = first_new + int(near_new.to(torch.uint8).argmax())
            else:
                keys[i] = len(self.nodes)
                self.nodes = torch.cat([self.nodes, features[i : i + 1]])  # (n + 1, f)
        return keys

    @torch.no_grad()
    def keys_reference(self, pictures: np.ndarray) -> np.ndarray:
        """:meth:`keys` with a Python loop over pictures and nodes (the slow, obvious form)."""
        features = encode_pictures(self.encoder, np.asarray(pictures), self.device)  # (B, f)
        keys = []
        for z in features:
            within = [j for j, node in enumerate(self.nodes) if float((node - z).norm()) <= self.radius]
            if within:
                keys.append(within[0])
            else:
                keys.append(len(self.nodes))
                self.nodes = torch.cat([self.nodes, z[None]])  # (n + 1, f)
        return np.array(keys, dtype=np.int64)

    def fit(self, observations: np.ndarray, actions: np.ndarray, next_observations: np.ndarray, *, steps: int,
            batch_size: int, noise: float, rng: np.random.Generator) -> float:  # fmt: skip
        """Train the encoder on (N, C, H, W) transitions (:func:`~agents.encoders.train_inverse_dynamics`),
        then cover the features of ``observations`` anew; returns the last inverse-dynamics loss."""
        loss = train_inverse_dynamics(self.encoder, self.optimizer, observations, actions, next_observations,
                                      steps=steps, batch_size=batch_size, noise=noise, rng=rng,
                                      device=self.device)  # fmt: skip
        with torch.no_grad():
            z, z_next = (encode_pictures(self.encoder, x, self.device) for x in (observations, next_observations))
            lengths = (z_next - z).norm(dim=1)  # (N,) feature length of each real step
            moved = lengths[lengths > 1e-6 * max(float(lengths.max()), 1e-12)]
            self.radius = self.spacing * float(moved.median()) if len(moved) else 0.0
            rows, _ = cover(z, self.radius, len(z), first=len(z) - 1)
            self.nodes = z[rows]  # (n, f)
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"encoder": self.encoder.state_dict(), "optimizer": self.optimizer.state_dict(), "nodes": self.nodes,
                "radius": self.radius}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.nodes, self.radius = state["nodes"].to(self.device), state["radius"]


class CountBonusReplayBuffer(ReplayBuffer):
    """Counts every added (obs, action) in ``counter`` and adds ``beta / sqrt(N(s, a))`` to sampled rewards.

    Each stored transition keeps its state's key (``state_keys``), so a sampled batch's counts are looked
    up without hashing its pictures again. ``state_key`` maps (1, *obs_shape) observations to their (1,)
    keys (default: ``counter.keys``). Single environment only. ``bonus_sum`` and ``bonus_n`` accumulate the
    bonuses handed out, for logging.
    """

    def __init__(
        self, *args: Any, counter: StateActionCounter, beta: float,
        state_key: Callable[[np.ndarray], np.ndarray] | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        if self.n_envs != 1:
            raise ValueError(f"CountBonusReplayBuffer supports one environment, got n_envs={self.n_envs}")
        self.counter = counter
        self.state_key = state_key or counter.keys
        self.beta = beta
        self.bonus_sum = 0.0
        self.bonus_n = 0
        self.state_keys = np.zeros(self.buffer_size, dtype=np.int64)  # (buffer_size,) key of each stored obs

    def add(self, obs, next_obs, action, reward, done, infos) -> None:
        keys = self.state_key(np.asarray(obs))  # (1,)
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

    def stored(self) -> slice:
        """The rows of the stored transitions (all of them until the buffer wraps)."""
        return slice(0, self.size())

    def recount(self) -> None:
        """Key every stored transition again with ``state_key`` and rebuild the counts from them: after the
        keys changed meaning (a retrained encoder), N(s, a) counts the stored visits under today's keys."""
        rows = self.stored()
        observations = self.observations[rows, 0]  # (N, *obs_shape)
        self.state_keys[rows] = np.concatenate(
            [self.state_key(observations[i : i + 512]) for i in range(0, len(observations), 512)]
        )  # fmt: skip
        self.counter.table = {}
        self.counter.add_keys(self.state_keys[rows], self.actions[rows, 0])


class BonusDQN(DQN):
    """DQN with a count-based exploration bonus added to replayed rewards (SB3's DQN signature).

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or a policy class.
    :param env: the environment or its id (one environment).
    :param bonus: ``"count"`` (exact counts; Discrete states or exact observations), ``"simhash"``
        (hashed raw observations, Tang et al. 2017) or ``"features"`` (pictures only: cells of a cover of
        inverse-dynamics features, :class:`FeatureCover`; the encoder is trained after ``encoder_every``
        steps and every ``encoder_every`` steps after, then every stored transition is keyed and counted
        again; a checkpoint keeps the encoder, the nodes and the counts but, as in SB3, not the replay
        buffer, so after a load the next recount counts only the transitions stored since).
    :param beta: bonus scale; the bonus is ``beta / sqrt(N(s, a))`` (>= 0; 1.0 scored best on the chain).
    :param hash_bits: SimHash code length (``"simhash"``).
    :param spacing: the feature cover's radius in median real-step lengths (``"features"``; 0.5: one key per
        visited cell on tuning layouts 0-2, where 1.0 began to merge cells; ``benchmark.py bonus-census``).
    :param encoder_every: real steps between encoder trainings (``"features"``; MAX from pixels' schedule
        before its tuning chose 250).
    :param encoder_steps: inverse-dynamics steps per training (``"features"``).
    :param augment_noise: std of the pixel noise on the pictures the encoder trains on (``"features"``).
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
        encoder_every: int = 500,
        encoder_steps: int = 300,
        augment_noise: float = 24.0,
        spacing: float = 0.5,
        **kwargs: Any,
    ) -> None:
        if bonus not in BONUSES:
            raise ValueError(f"bonus must be one of {BONUSES}, got {bonus!r}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        for name, value in (("encoder_every", encoder_every), ("encoder_steps", encoder_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not augment_noise >= 0:
            raise ValueError(f"augment_noise must be >= 0, got {augment_noise!r}")
        if not spacing > 0:
            raise ValueError(f"spacing must be > 0, got {spacing!r}")
        reject_replay_buffer_kwargs(kwargs, "BonusDQN", "count-bonus replay")
        self.bonus = bonus
        self.beta = beta
        self.hash_bits = hash_bits
        self.encoder_every, self.encoder_steps, self.augment_noise = encoder_every, encoder_steps, augment_noise
        self.spacing = spacing
        super().__init__(policy, env, **kwargs)
        self._remember_init(policy, {**kwargs, "bonus": bonus, "beta": beta, "hash_bits": hash_bits,
                                     "encoder_every": encoder_every, "encoder_steps": encoder_steps,
                                     "augment_noise": augment_noise, "spacing": spacing})  # fmt: skip

    def _setup_model(self) -> None:
        self.feature_cover: FeatureCover | None = None
        if self.bonus == "features":
            self.set_random_seed(self.seed)  # the encoder's initial weights follow the seed (SB3 seeds later)
            space = self.observation_space
            if not (isinstance(space, spaces.Box) and len(space.shape) == 3):
                raise TypeError(f"bonus='features' counts pictures: needs (C, H, W) observations, got {space}")
            if not isinstance(self.action_space, spaces.Discrete):
                raise TypeError(f"bonus='features' needs Discrete actions, got {self.action_space}")
            self.feature_cover = FeatureCover(space, int(self.action_space.n), spacing=self.spacing,
                                             device=self.device)  # fmt: skip
            self.counter = StateActionCounter(spaces.Discrete(1), "count")  # counts (node, action) pairs
        else:
            self.counter = StateActionCounter(self.observation_space, self.bonus, hash_bits=self.hash_bits,
                                              seed=self.seed or 0)  # fmt: skip
        self.encoder_rng = np.random.default_rng(self.seed)
        self.encoder_trainings = 0
        self.replay_buffer_class = CountBonusReplayBuffer
        self.replay_buffer_kwargs = {"counter": self.counter, "beta": self.beta,
                                     "state_key": self.feature_cover.keys if self.feature_cover else None}  # fmt: skip
        super()._setup_model()

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        buffer = self.replay_buffer
        assert isinstance(buffer, CountBonusReplayBuffer)
        if self.feature_cover is not None and self.num_timesteps // self.encoder_every > self.encoder_trainings:
            self._refit_features(buffer)
        buffer.bonus_sum, buffer.bonus_n = 0.0, 0
        super().train(gradient_steps, batch_size)
        if buffer.bonus_n:
            self.logger.record("train/bonus_mean", buffer.bonus_sum / buffer.bonus_n)

    def _refit_features(self, buffer: CountBonusReplayBuffer) -> None:
        """Train the feature cover's encoder on the stored transitions, then key and count them again."""
        rows = buffer.stored()
        loss = self.feature_cover.fit(
            buffer.observations[rows, 0], buffer.actions[rows, 0].reshape(-1), buffer.next_observations[rows, 0],
            steps=self.encoder_steps, batch_size=64, noise=self.augment_noise, rng=self.encoder_rng,
        )  # fmt: skip
        buffer.recount()
        self.encoder_trainings = self.num_timesteps // self.encoder_every
        self.logger.record("train/inverse_loss", loss)
        self.logger.record("explore/distinct_states", len({key for key, _ in self.counter.table}))

    def _extra_state(self) -> dict[str, Any]:
        state = {"counts": self.counter.state_dict(), "exploration_rate": self.exploration_rate}
        if self.feature_cover is not None:
            state |= {"feature_cover": self.feature_cover.state_dict(), "encoder_trainings": self.encoder_trainings,
                      "encoder_rng": self.encoder_rng.bit_generator.state}  # fmt: skip
        return state

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.counter.load_state_dict(state["counts"])
        self.exploration_rate = state["exploration_rate"]
        if self.feature_cover is not None:
            self.feature_cover.load_state_dict(state["feature_cover"])
            self.encoder_trainings = state["encoder_trainings"]
            self.encoder_rng.bit_generator.state = state["encoder_rng"]
