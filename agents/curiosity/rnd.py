"""Random Network Distillation (Burda, Edwards, Storkey & Klimov, "Exploration by Random Network
Distillation", ICLR 2019).

A fixed, randomly initialised target network f maps an observation to an embedding; a predictor f_hat of the
same input is trained to match it. The intrinsic reward of a transition is the predictor's squared error on
the observation it led to, ||f_hat(o') - f(o')||^2 (mean over the embedding): small where the predictor has
been trained (visited states), large elsewhere. Both networks see observations whitened by a running mean
and standard deviation and clipped to [-5, 5] (section 2.4). The learner is :class:`CuriosityPPO` (two value
heads, a non-episodic intrinsic return divided by its running std, advantages 1 : 2).
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.type_aliases import GymEnv
from torch import nn

from agents.curiosity.networks import check_curiosity_space, input_dim, observation_body, observation_tensor
from agents.curiosity.ppo import CuriosityPPO
from world_models.normalizer import RunningNormalizer

OBSERVATION_CLIP = 5.0  # RND clips whitened observations to [-5, 5]


class RNDModule(nn.Module):
    """Target and predictor networks of RND with the observation whitening; statistics save with ``state_dict``.

    :param observation_space: the (SB3-preprocessed) observation space: Discrete, a 1-D Box or (C, H, W) pictures.
    :param embedding_dim: size of the target's embedding.
    :param hidden_size: width of the MLP layers (vectors and one-hot states).
    :param norm: normalisation of the picture CNNs (:class:`~agents.encoders.SmallCNN`); ``None`` (default)
        keeps RND's plain convolutions.
    """

    def __init__(
        self, observation_space: spaces.Space, *, embedding_dim: int = 64, hidden_size: int = 128,
        norm: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        check_curiosity_space(observation_space, "RND")
        if embedding_dim < 1 or hidden_size < 1:
            raise ValueError(f"embedding_dim and hidden_size must be positive, got {embedding_dim}, {hidden_size}")
        self.observation_space = observation_space
        self.target = observation_body(observation_space, embedding_dim, hidden_size=hidden_size, norm=norm)
        self.target.requires_grad_(False)
        # the predictor is the target's shape with two more layers (RND's predictor is deeper than its target)
        self.predictor = nn.Sequential(
            observation_body(observation_space, embedding_dim, hidden_size=hidden_size, norm=norm), nn.ReLU(),
            nn.Linear(embedding_dim, embedding_dim), nn.ReLU(), nn.Linear(embedding_dim, embedding_dim),
        )  # fmt: skip
        self.observations = RunningNormalizer(input_dim(observation_space))

    def whiten(self, observations: torch.Tensor) -> torch.Tensor:
        """Preprocessed observations (B, ...) whitened by the running statistics and clipped to [-5, 5]."""
        x = observation_tensor(observations, self.observation_space)  # (B, ...) floats
        z = self.observations.normalize(x.flatten(1)).clamp(-OBSERVATION_CLIP, OBSERVATION_CLIP)  # (B, d)
        return z.reshape(x.shape)

    def observe(self, next_observations: torch.Tensor) -> None:
        """Merge a batch of observations into the whitening statistics."""
        self.observations.update(observation_tensor(next_observations, self.observation_space).flatten(1))

    def errors(self, observations: torch.Tensor) -> torch.Tensor:
        """(B,) the predictor's mean squared error against the target on ``observations``."""
        z = self.whiten(observations)
        return ((self.predictor(z) - self.target(z)) ** 2).mean(-1)  # (B,)

    def reward(
        self, observations: torch.Tensor, actions: torch.Tensor, next_observations: torch.Tensor
    ) -> torch.Tensor:  # noqa: ARG002
        """(B,) intrinsic rewards: the prediction error on the observation each transition led to."""
        return self.errors(next_observations)

    def loss(self, observations: torch.Tensor, actions: torch.Tensor, next_observations: torch.Tensor) -> torch.Tensor:  # noqa: ARG002
        """The predictor's training loss: the mean of :meth:`reward` over the batch."""
        return self.errors(next_observations).mean()


@torch.no_grad()
def rnd_errors_reference(module: RNDModule, observations: torch.Tensor) -> torch.Tensor:
    """Slow reference of :meth:`RNDModule.errors`: one observation at a time, whitening written out."""
    out = []
    for obs in observations:
        x = observation_tensor(obs[None], module.observation_space)  # (1, ...)
        mean, std = module.observations.mean.float(), module.observations.std.float()
        z = ((x.flatten() - mean) / std).clamp(-OBSERVATION_CLIP, OBSERVATION_CLIP).reshape(x.shape)
        diff = module.predictor(z)[0] - module.target(z)[0]  # (embedding_dim,)
        out.append(sum(float(d) ** 2 for d in diff) / len(diff))
    return torch.tensor(out)


class RND(CuriosityPPO):
    """Random Network Distillation: PPO (:class:`CuriosityPPO`) driven by RND's prediction error.

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or a :class:`~agents.curiosity.ppo.TwoValuePolicy` subclass.
    :param env: the environment or its id; any action space PPO takes.
    :param embedding_dim: size of the target network's embedding.
    :param hidden_size: width of the target's and predictor's MLP layers.
    :param norm: normalisation of their picture CNNs (``None``: RND's plain convolutions).
    :param kwargs: :class:`CuriosityPPO`'s and ``stable_baselines3.PPO``'s arguments, by keyword.
    """

    def __init__(
        self, policy: Any, env: GymEnv | str | None, *, embedding_dim: int = 64, hidden_size: int = 128,
        norm: str | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        self.embedding_dim, self.hidden_size, self.norm = embedding_dim, hidden_size, norm
        super().__init__(policy, env, **kwargs)

    def _curiosity_args(self) -> dict[str, Any]:
        return {"embedding_dim": self.embedding_dim, "hidden_size": self.hidden_size, "norm": self.norm}

    def _make_curiosity(self) -> RNDModule:
        return RNDModule(self.observation_space, embedding_dim=self.embedding_dim, hidden_size=self.hidden_size,
                         norm=self.norm)  # fmt: skip
