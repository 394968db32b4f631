"""MAX's exploration MDP for continuous states: a batched imagined environment over torch tensors.

Shyam et al. 2019, section 3.4 and the official ``imagination.py``: N actors start at the current real
state; at each imagined step every actor's next state is sampled from one member drawn at random, and
the reward is the utility of the (state, action) it was in, computed from all members. An episode
ends after ``horizon`` steps. Everything stays in torch on the model's device: no numpy round trip.
With a task reward in place of the utility the same MDP trains exploitation policies inside the model
(the paper's downstream evaluation).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from world_models.continuous import GaussianDynamicsEnsemble
from world_models.utilities import jensen_renyi, trajectory_variance

IMAGINED_UTILITIES = ("jensen_renyi", "trajectory_variance")
# a task reward r(s, a, s'): (N, d) states, (N, a) actions in [-1, 1], (N, d) next states -> (N,)
TaskReward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class ImaginedExploration:
    """N imagined actors in the model's world, rewarded by the members' disagreement (or a task reward).

    :param model: the fitted forward ensemble.
    :param n_actors: actors N stepped together (official: 128).
    :param horizon: steps per imagined episode (official: 50).
    :param utility: ``"jensen_renyi"`` (MAX), ``"trajectory_variance"`` (the TVAX baseline), or a task
        reward ``r(s, a, s')`` of batched tensors (policies for a task trained inside the model).
    :param decay: the Jensen-Renyi variance rescaling (official: 0.1; see
        :func:`~world_models.utilities.jensen_renyi`).
    :param generator: torch generator of the member draws and the Gaussian noise (on the model's device).
    """

    def __init__(
        self,
        model: GaussianDynamicsEnsemble,
        *,
        n_actors: int = 128,
        horizon: int = 50,
        utility: str | TaskReward = "jensen_renyi",
        decay: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        if not callable(utility) and utility not in IMAGINED_UTILITIES:
            raise ValueError(
                f"utility must be one of {IMAGINED_UTILITIES} in imagination, got {utility!r} "
                "(prediction_error needs real outcomes: imagination=False)"
            )
        if n_actors < 2 or horizon < 1:
            raise ValueError(f"n_actors must be >= 2 and horizon >= 1, got {n_actors} and {horizon}")
        self.model = model
        self.n_actors = n_actors
        self.horizon = horizon
        self.utility = utility
        self.decay = decay
        self.generator = generator
        self.states: torch.Tensor | None = None  # (N, d)
        self.steps = 0

    def reset(self, start: torch.Tensor) -> torch.Tensor:
        """Put every actor at ``start`` ((d,) one real state, or (N, d)); return the (N, d) states."""
        start = start.to(next(self.model.parameters()).device, torch.float32)
        self.states = start.expand(self.n_actors, -1).clone() if start.dim() == 1 else start.clone()
        self.steps = 0
        return self.states

    @torch.no_grad()
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Advance every actor by ``actions`` (N, a); return the (N, d) next states, (N,) utilities and
        whether the episode is over."""
        if self.states is None:
            raise RuntimeError("call reset before step")
        states = self.states
        next_states, mean, var = self.model.sample_next(states, actions, self.generator)  # (N, d), (E, N, d) x2
        if callable(self.utility):
            reward = self.utility(states, actions, next_states)  # (N,)
        elif self.utility == "jensen_renyi":
            max_var = float(torch.tensor(self.model.net.max_log_var).exp())
            reward = jensen_renyi(mean, var, decay=self.decay, max_var=max_var)  # (N,)
        else:
            reward = trajectory_variance(self.model.delta_norm.normalize(next_states - states))  # (N,)
        self.states = next_states
        self.steps += 1
        return next_states, reward, self.steps >= self.horizon
