"""The semi-random chain of Osband et al. (2016) as used by MAX (Shyam, Jaskowski & Gomez, ICML 2019).

``length`` states in a row and two actions. In every state one action moves right and the other moves
left; which is which is drawn per state from ``layout_seed`` when the env is built (the "semi-random"
chain of MAX, section 4.1), or is action 1 everywhere with ``randomize_actions=False`` (Osband's
original chain). Moving left in the first state or right in the last stays put. The agent starts in
the second state (index 1). Reward is 0.001 for arriving in the first state and 1 for arriving in the
last; the episode is truncated after ``horizon`` steps (default ``length + 9``) and never terminates.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

ENCODINGS = ("index", "onehot", "thermometer")
SMALL_REWARD = 0.001
LARGE_REWARD = 1.0
START_STATE = 1


class ChainEnv(gym.Env):
    """Semi-random chain: a deterministic, reward-sparse exploration benchmark.

    :param length: number of states L (at least 2).
    :param layout_seed: seed of the per-state action layout (which action moves right); the layout is
        fixed when the env is built and does not change on ``reset``.
    :param randomize_actions: draw the right-moving action per state from ``layout_seed``; with
        ``False`` action 1 moves right in every state (Osband et al. 2016).
    :param horizon: steps before the episode is truncated; ``None`` gives ``length + 9``.
    :param encoding: ``"index"`` (``Discrete(L)``, the state itself), ``"onehot"`` or ``"thermometer"``
        (``Box(0, 1, (L,), float32)``; thermometer sets entries ``0..s`` to 1).
    :param render_mode: ``None``, ``"ansi"`` (one text line) or ``"rgb_array"`` (a strip of cells).

    ``info["state"]`` holds the integer state after every ``reset`` and ``step``.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 8}

    def __init__(
        self,
        length: int = 50,
        layout_seed: int | None = 0,
        *,
        randomize_actions: bool = True,
        horizon: int | None = None,
        encoding: str = "index",
        render_mode: str | None = None,
    ) -> None:
        if isinstance(length, bool) or not isinstance(length, int | np.integer):
            raise TypeError(f"length must be an int, got {type(length).__name__}")
        if length < 2:
            raise ValueError(f"length must be at least 2, got {length}")
        if horizon is None:
            horizon = int(length) + 9
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
            raise TypeError(f"horizon must be an int or None, got {type(horizon).__name__}")
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")

        self.length = int(length)
        self.horizon = int(horizon)
        self.encoding = encoding
        self.render_mode = render_mode
        self.layout_seed = layout_seed
        self.randomize_actions = randomize_actions
        if randomize_actions:
            layout = np.random.default_rng(layout_seed).integers(0, 2, size=self.length)
        else:
            layout = np.ones(self.length, dtype=np.int64)
        # right_action[s] is the action that moves right in state s; the other moves left.
        self.right_action: np.ndarray = layout.astype(np.int64)
        self.right_action.flags.writeable = False
        # next_state[s, a]: the whole deterministic transition table, shape (L, 2).
        states = np.arange(self.length)
        right = np.minimum(states + 1, self.length - 1)
        left = np.maximum(states - 1, 0)
        self.next_state: np.ndarray = np.where(
            np.arange(2)[None, :] == self.right_action[:, None], right[:, None], left[:, None]
        )
        self.next_state.flags.writeable = False
        self._next = self.next_state.tolist()  # plain lists: the fastest lookup from Python

        self.action_space = spaces.Discrete(2)
        if encoding == "index":
            self.observation_space = spaces.Discrete(self.length)
            self._table = None
        else:
            self.observation_space = spaces.Box(0.0, 1.0, shape=(self.length,), dtype=np.float32)
            eye = np.eye(self.length, dtype=np.float32)
            # row s of the thermometer table has ones in entries 0..s
            self._table = eye if encoding == "onehot" else np.tril(np.ones_like(eye))
        self._state = START_STATE
        self._t = 0

    @property
    def n_states(self) -> int:
        """Number of states, for wrappers that need the size of the state space."""
        return self.length

    @property
    def state(self) -> int:
        """The current integer state."""
        return self._state

    def _obs(self) -> int | np.ndarray:
        if self._table is None:
            return self._state
        return self._table[self._state].copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._state = START_STATE
        self._t = 0
        return self._obs(), {"state": self._state}

    def step(self, action):
        if action != 0 and action != 1:  # cheaper than Discrete.contains on this hot path
            raise ValueError(f"action must be 0 or 1, got {action!r}")
        s = self._next[self._state][int(action)]
        self._state = s
        self._t += 1
        if s == self.length - 1:
            reward = LARGE_REWARD
        elif s == 0:
            reward = SMALL_REWARD
        else:
            reward = 0.0
        return self._obs(), reward, False, self._t >= self.horizon, {"state": s}

    def render(self):
        if self.render_mode == "ansi":
            cells = ["o"] + ["."] * (self.length - 2) + ["G"]
            cells[self._state] = "@"
            return f"[{''.join(cells)}] t={self._t}/{self.horizon}"
        if self.render_mode == "rgb_array":
            return self._render_rgb()
        return None

    def _render_rgb(self, cell: int = 8) -> np.ndarray:
        """A (cell, L*cell, 3) uint8 strip: grey cells, gold/green ends, the agent in red."""
        colours = np.full((self.length, 3), 200, dtype=np.uint8)  # (L, 3)
        colours[0] = (230, 190, 60)
        colours[-1] = (60, 180, 75)
        colours[self._state] = (220, 40, 40)
        strip = np.repeat(colours, cell, axis=0)  # (L*cell, 3)
        image = np.broadcast_to(strip, (cell, self.length * cell, 3)).copy()  # (cell, L*cell, 3)
        image[:, ::cell] = 90  # a dark line between cells
        return image
