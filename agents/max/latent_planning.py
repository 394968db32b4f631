"""Planning in the imagined exploration MDP of a learned latent space, for discrete actions.

MAX (Shyam, Jaskowski & Gomez, ICML 2019, section 3) solves the exploration MDP whose transitions come
from the ensemble and whose reward is the members' disagreement. Where states are pictures, the MDP's
states are features and cannot be counted; two planners over it, both fed by ``step``, a function that
gives every action's utility and the ensemble's mean next features for a batch of features:

- :func:`graph_values`: the MDP restricted to the features of real observations (a graph whose nodes
  are real states, each imagined next state snapped to its nearest node, as planning on the replay
  buffer does, Eysenbach, Salakhutdinov & Levine, NeurIPS 2019), solved exactly by finite-horizon value
  iteration. Reaches frontiers many steps away through the part of the world already seen.
- :func:`search_values`: every action sequence of a short depth imagined from the current features (the
  search over short action sequences the issue names as the alternative).

Each has a slow, obvious reference beside it (``*_reference``) that the tests compare it with.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# features (B, f) -> every action's utility (B, A) and the ensemble's mean next features (B, A, f)
Step = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def nearest_nodes(points: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """(M,) index of the node (of (N, f)) nearest each point (of (M, f)), in Euclidean distance."""
    return torch.cdist(points, nodes).argmin(-1)  # (M,)


def value_iteration(rewards: torch.Tensor, successors: torch.Tensor, steps: int) -> torch.Tensor:
    """(N,) values of ``steps`` steps in a deterministic MDP: V_0 = 0, V_h(n) = max_a r(n, a) + V_{h-1}(s(n, a)).

    :param rewards: (N, A) reward of each node and action.
    :param successors: (N, A) long, the node each action leads to.
    :param steps: horizon (>= 0).
    """
    values = torch.zeros(rewards.shape[0], dtype=rewards.dtype, device=rewards.device)  # (N,)
    for _ in range(steps):
        values = (rewards + values[successors]).amax(-1)  # (N,)
    return values


def value_iteration_reference(rewards: torch.Tensor, successors: torch.Tensor, steps: int) -> torch.Tensor:
    """:func:`value_iteration` with Python loops over steps, nodes and actions."""
    n_nodes, n_actions = rewards.shape
    values = [0.0] * n_nodes
    for _ in range(steps):
        values = [
            max(float(rewards[n, a]) + values[int(successors[n, a])] for a in range(n_actions)) for n in range(n_nodes)
        ]
    return torch.tensor(values, dtype=rewards.dtype)


def graph_values(step: Step, nodes: torch.Tensor, horizon: int, reward_floor: float = 0.0) -> torch.Tensor:
    """(N,) values of ``horizon - 1`` steps from each node of the latent graph (see the module docstring).

    :param step: the ensemble's utilities and mean next features (:data:`Step`).
    :param nodes: (N, f) features of real observations.
    :param horizon: steps planned from the current state; the nodes' values cover the steps after the first.
    :param reward_floor: subtracted from every utility, which is then floored at 0 (0: the utility as is).
    """
    utility, next_features = step(nodes)  # (N, A), (N, A, f)
    successors = nearest_nodes(next_features.reshape(-1, nodes.shape[1]), nodes).view(utility.shape)  # (N, A)
    return value_iteration((utility - reward_floor).clamp_min(0.0), successors, horizon - 1)  # (N,)


def graph_action_values(
    step: Step, features: torch.Tensor, nodes: torch.Tensor, node_values: torch.Tensor, reward_floor: float = 0.0
) -> torch.Tensor:
    """(B, A) action values of current features (B, f): the utility of each action plus the value of the node
    nearest its imagined outcome (``node_values`` (N,) from :func:`graph_values`)."""
    utility, next_features = step(features)  # (B, A), (B, A, f)
    successors = nearest_nodes(next_features.reshape(-1, features.shape[1]), nodes).view(utility.shape)  # (B, A)
    return (utility - reward_floor).clamp_min(0.0) + node_values[successors]  # (B, A)


def search_values(step: Step, features: torch.Tensor, depth: int, reward_floor: float = 0.0) -> torch.Tensor:
    """(B, A) action values of features (B, f) by exhaustive search: each action's utility plus the best
    sum of utilities over every sequence of ``depth - 1`` further actions, imagined with the ensemble's
    mean next features. A^depth imagined steps per row."""
    utility, next_features = step(features)  # (B, A), (B, A, f)
    rewards = (utility - reward_floor).clamp_min(0.0)  # (B, A)
    if depth <= 1:
        return rewards
    B, A, f = next_features.shape
    later = search_values(step, next_features.reshape(B * A, f), depth - 1, reward_floor)  # (B A, A)
    return rewards + later.amax(-1).view(B, A)  # (B, A)


def search_values_reference(step: Step, features: torch.Tensor, depth: int, reward_floor: float = 0.0) -> torch.Tensor:
    """:func:`search_values` by enumerating every action sequence of each row, one imagined step at a time."""
    import itertools

    n_actions = step(features[:1])[0].shape[1]
    values = torch.full((features.shape[0], n_actions), -float("inf"), dtype=features.dtype)
    for row in range(features.shape[0]):
        for sequence in itertools.product(range(n_actions), repeat=depth):
            z, total = features[row : row + 1], 0.0
            for action in sequence:
                utility, next_features = step(z)  # (1, A), (1, A, f)
                total += max(float(utility[0, action]) - reward_floor, 0.0)
                z = next_features[:, action]  # (1, f)
            values[row, sequence[0]] = max(float(values[row, sequence[0]]), total)
    return values
