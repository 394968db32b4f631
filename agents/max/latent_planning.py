"""Planning in the imagined exploration MDP of a learned latent space, for discrete actions.

MAX (Shyam, Jaskowski & Gomez, ICML 2019, section 3) solves the exploration MDP whose transitions come
from the ensemble and whose reward is the members' disagreement. Where states are pictures, the MDP's
states are features and cannot be counted; two planners over it, both fed by ``step``, a function that
gives every action's utility and the ensemble's mean next features for a batch of features:

- :func:`graph_values`: the MDP restricted to a set of nodes, features of real observations (a graph
  whose nodes are real states, each imagined next state snapped to its nearest node, as planning on the
  replay buffer does, Eysenbach, Salakhutdinov & Levine, NeurIPS 2019), solved exactly by finite-horizon
  value iteration for every number of steps left. An action whose imagined outcome snaps back to its own
  node (a wall bump) pays its utility once on each arrival there, not at every step the plan could
  repeat it. The nodes are a greedy cover of the observations (:func:`cover`), so a place seen once is a
  node as surely as one seen a thousand times. Reaches frontiers many steps away through the part of the
  world already seen.
- :func:`search_values`: every action sequence of a short depth imagined from the current features.

Each has a slow, obvious reference beside it (``*_reference``) that the tests compare it with.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch

# features (B, f) -> every action's utility (B, A) and the ensemble's mean next features (B, A, f)
Step = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def nearest_nodes(points: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """(M,) index of the node (of (N, f)) nearest each point (of (M, f)), in Euclidean distance (computed
    directly, not by the matrix-product expansion, whose rounding can move a point off its own node)."""
    return torch.cdist(points, nodes, compute_mode="donot_use_mm_for_euclid_dist").argmin(-1)  # (M,)


def cover(points: torch.Tensor, spacing: float, max_nodes: int, first: int) -> tuple[torch.Tensor, float]:
    """A greedy farthest-point cover of ``points`` (N, f): start at row ``first``, then add the point
    farthest from every one chosen so far while it is farther than ``spacing`` and fewer than ``max_nodes``
    are chosen (Gonzalez 1985). Returns the chosen rows (n,) in the order chosen and the cover's radius: the
    largest distance of any point to its nearest chosen one (<= ``spacing`` unless ``max_nodes`` stopped it).
    A point far from all others (a place seen once) is chosen before any near-copy of a chosen one."""
    chosen = [first]
    distance = (points - points[first]).norm(dim=1)  # (N,) to the nearest chosen point
    while len(chosen) < max_nodes:
        far = int(distance.argmax())
        if float(distance[far]) <= spacing:
            break
        chosen.append(far)
        distance = torch.minimum(distance, (points - points[far]).norm(dim=1))  # (N,)
    return torch.tensor(chosen, dtype=torch.long, device=points.device), float(distance.max())


def cover_reference(points: torch.Tensor, spacing: float, max_nodes: int, first: int) -> tuple[list[int], float]:
    """:func:`cover` with Python loops over points and chosen points."""

    def gap(i: int, chosen: list[int]) -> float:
        return min(float((points[i] - points[j]).norm()) for j in chosen)

    chosen = [first]
    while len(chosen) < max_nodes:
        gaps = [gap(i, chosen) for i in range(len(points))]
        far = max(range(len(points)), key=lambda i: (gaps[i], -i))  # the first of the farthest, as argmax
        if gaps[far] <= spacing:
            break
        chosen.append(far)
    return chosen, max(gap(i, chosen) for i in range(len(points)))


def self_loops(successors: torch.Tensor) -> torch.Tensor:
    """(N, A) bool: whether each action of each node leads back to the node itself."""
    return successors == torch.arange(successors.shape[0], device=successors.device)[:, None]  # (N, A)


def value_iteration(
    rewards: torch.Tensor, successors: torch.Tensor, steps: int, terminal: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Finite-horizon values of a deterministic MDP in which a self-loop pays once on each arrival.

    ``V_h(n)`` is the value with ``h`` steps left at node ``n``; ``W_h(n)`` the value there once its
    self-loops have paid (the plan must leave, or stay for nothing). With ``V_0 = W_0 = 0``,
    ``M_h(n) = max over actions a that leave n of r(n, a) + V_{h-1}(s(n, a))`` (``-inf`` if none),
    ``W_h(n) = max(W_{h-1}(n), M_h(n))`` and ``V_h(n) = max(M_h(n), max over loops a of r(n, a) + W_{h-1}(n))``.
    A terminal node (an episode ended on arriving there) is absorbing and worth nothing: ``V_h = W_h = 0``,
    as :class:`~agents.max.tabular.TabularMAX` treats a state whose arrival ended an episode.

    :param rewards: (N, A) reward of each node and action (>= 0).
    :param successors: (N, A) long, the node each action leads to.
    :param steps: horizon (>= 0).
    :param terminal: (N,) bool, the terminal nodes (``None``: none).
    :return: (steps + 1, N) values V and (steps + 1, N) values W, for 0..steps steps left.
    """
    loops = self_loops(successors)  # (N, A)
    V = torch.zeros(steps + 1, rewards.shape[0], dtype=rewards.dtype, device=rewards.device)  # (H+1, N)
    W = torch.zeros_like(V)  # (H+1, N)
    for h in range(1, steps + 1):
        leave = torch.where(loops, -torch.inf, rewards + V[h - 1][successors]).amax(-1)  # (N,) M_h
        stay = torch.where(loops, rewards + W[h - 1][:, None], -torch.inf).amax(-1)  # (N,)
        V[h] = torch.maximum(leave, stay)
        W[h] = torch.maximum(W[h - 1], leave)
        if terminal is not None:  # absorbing, worth nothing
            V[h].masked_fill_(terminal, 0.0)
            W[h].masked_fill_(terminal, 0.0)
    return V, W


def value_iteration_reference(
    rewards: torch.Tensor, successors: torch.Tensor, steps: int, terminal: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`value_iteration` with Python loops over steps, nodes and actions."""
    n_nodes, n_actions = rewards.shape
    V, W = [[0.0] * n_nodes], [[0.0] * n_nodes]
    for h in range(1, steps + 1):
        v, w = [], []
        for n in range(n_nodes):
            if terminal is not None and bool(terminal[n]):
                v.append(0.0)
                w.append(0.0)
                continue
            leave, stay = -float("inf"), -float("inf")
            for a in range(n_actions):
                s, r = int(successors[n, a]), float(rewards[n, a])
                if s == n:
                    stay = max(stay, r + W[h - 1][n])
                else:
                    leave = max(leave, r + V[h - 1][s])
            v.append(max(leave, stay))
            w.append(max(W[h - 1][n], leave))
        V.append(v)
        W.append(w)
    return torch.tensor(V, dtype=rewards.dtype), torch.tensor(W, dtype=rewards.dtype)


def graph_values(
    step: Step, nodes: torch.Tensor, horizon: int, reward_floor: float = 0.0, terminal: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Values of the latent graph (see the module docstring) for 0..``horizon - 1`` steps left after the
    first: (horizon, N) values V and (horizon, N) values W of :func:`value_iteration`.

    :param step: the ensemble's utilities and mean next features (:data:`Step`).
    :param nodes: (N, f) features of real observations.
    :param horizon: most steps planned from the current state; the nodes' values cover the steps after the first.
    :param reward_floor: subtracted from every utility, which is then floored at 0 (0: the utility as is).
    :param terminal: (N,) bool, nodes where an episode ended (absorbing, worth nothing; ``None``: none).
    """
    utility, next_features = step(nodes)  # (N, A), (N, A, f)
    successors = nearest_nodes(next_features.reshape(-1, nodes.shape[1]), nodes).view(utility.shape)  # (N, A)
    return value_iteration((utility - reward_floor).clamp_min(0.0), successors, horizon - 1, terminal)  # (H, N) each


def graph_action_values(
    step: Step,
    features: torch.Tensor,
    nodes: torch.Tensor,
    levels: tuple[torch.Tensor, torch.Tensor],
    steps_left: int,
    reward_floor: float = 0.0,
) -> torch.Tensor:
    """(B, A) action values of current features (B, f) with ``steps_left`` (>= 1) steps left: the utility of
    each action plus the value, with one step fewer left, of the node nearest its imagined outcome; an
    outcome at the node nearest the features themselves (a bump) continues with that node's value once
    its loops have paid.

    :param levels: (H, N) values V and W of :func:`graph_values`, ``H >= steps_left``.
    """
    V, W = levels
    utility, next_features = step(features)  # (B, A), (B, A, f)
    successors = nearest_nodes(next_features.reshape(-1, features.shape[1]), nodes).view(utility.shape)  # (B, A)
    here = nearest_nodes(features, nodes)  # (B,)
    later = torch.where(successors == here[:, None], W[steps_left - 1][here][:, None], V[steps_left - 1][successors])
    return (utility - reward_floor).clamp_min(0.0) + later  # (B, A)


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
