"""A grid world seen in three ways: a cell index, a textured top-down picture, and a semantic map.

The picture (``obs_mode="rgb"``) and the semantic map (``"semantic"``) are two renderings of the same
state, the pair that image translation and saliency studies need: every cell class has its own colour,
and the picture adds per-pixel texture noise and per-cell shading drawn from ``np_random`` at every
reset (or once, from ``layout_seed``, with ``texture="fixed"``). The semantic map therefore does not
determine the picture's detail. Rendering is vectorised numpy: a class grid is expanded to pixels by
index arrays, never by a Python loop over pixels.

Layouts: ``"maze"`` (a perfect maze carved by randomised depth-first search from ``layout_seed``) or
``"rooms"`` (four rooms joined by doorways). The agent starts in the top-left free cell; actions are
0 up, 1 right, 2 down, 3 left, and moving into a wall stays put. The world is reward-free unless
``goal=True``: then reaching the bottom-right free cell gives reward 1 and ends the episode.
``info`` carries the integer ``state`` (cell index ``row * size + col``), ``cells_visited`` and
``cell_coverage`` (free cells visited since the env was built, over all free cells).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

OBS_MODES = ("rgb", "semantic", "index")
LAYOUTS = ("maze", "rooms")
TEXTURES = ("random", "fixed")
FLOOR, WALL, AGENT, GOAL = 0, 1, 2, 3
CLASS_NAMES = ("floor", "wall", "agent", "goal")
# base colour of each class in the textured picture
BASE_COLOURS = np.array([[200, 190, 160], [70, 80, 110], [220, 50, 50], [60, 180, 80]], dtype=np.float32)
# fixed palette to display semantic maps (flat colours, one per class)
SEMANTIC_PALETTE = np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 200, 0]], dtype=np.uint8)
# mid-tone palette for semantic maps as images to translate into: pure black and white sit where a
# generator's tanh saturates, which leaves it no room for low-amplitude detail (hidden or not)
MID_TONE_PALETTE = np.array([[190, 190, 190], [60, 60, 60], [190, 60, 60], [60, 170, 60]], dtype=np.uint8)
MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])  # up, right, down, left as (d_row, d_col)


def carve_maze(size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size) bool walls of a perfect maze on the odd cells (randomised depth-first search)."""
    walls = np.ones((size, size), dtype=bool)
    start = (1, 1)
    walls[start] = False
    stack = [start]
    while stack:
        r, c = stack[-1]
        options = [
            (r + 2 * dr, c + 2 * dc, dr, dc)
            for dr, dc in MOVES
            if 0 < r + 2 * dr < size - 1 and 0 < c + 2 * dc < size - 1 and walls[r + 2 * dr, c + 2 * dc]
        ]
        if not options:
            stack.pop()
            continue
        nr, nc, dr, dc = options[rng.integers(len(options))]
        walls[r + dr, c + dc] = False
        walls[nr, nc] = False
        stack.append((nr, nc))
    return walls


def four_rooms(size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size) bool walls: an outer wall, a cross of inner walls, one doorway in each arm."""
    walls = np.zeros((size, size), dtype=bool)
    walls[[0, -1], :] = walls[:, [0, -1]] = True
    mid = size // 2
    walls[mid, :] = walls[:, mid] = True
    doors = [
        (mid, rng.integers(1, mid)),  # left arm
        (mid, rng.integers(mid + 1, size - 1)),  # right arm
        (rng.integers(1, mid), mid),  # upper arm
        (rng.integers(mid + 1, size - 1), mid),  # lower arm
    ]
    for r, c in doors:
        walls[r, c] = False
    return walls


class MazeEnv(gym.Env):
    """Grid world with index, textured-picture and semantic-map observations.

    :param size: cells per side (at least 5; the maze layout needs an odd size and rounds up).
    :param layout_seed: seed of the layout (walls, doorways) and of the fixed texture.
    :param layout: ``"maze"`` or ``"rooms"``.
    :param obs_mode: ``"rgb"`` (uint8 HxWx3), ``"semantic"`` (uint8 HxW class ids) or ``"index"``
        (``Discrete(size * size)``, the cell).
    :param image_size: H = W of the picture and the semantic map, in pixels (at least ``size``).
    :param texture: ``"random"`` (texture and shading redrawn from ``np_random`` at every reset) or
        ``"fixed"`` (drawn once from ``layout_seed``).
    :param noise: amplitude of the per-pixel texture noise, in colour units.
    :param goal: put a goal in the bottom-right free cell (reward 1, ends the episode).
    :param horizon: steps before truncation.
    :param render_mode: ``None`` or ``"rgb_array"`` (the current textured picture).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    OBS_MODES = OBS_MODES

    def __init__(
        self,
        size: int = 9,
        layout_seed: int | None = 0,
        *,
        layout: str = "maze",
        obs_mode: str = "rgb",
        image_size: int = 64,
        texture: str = "random",
        noise: float = 24.0,
        goal: bool = False,
        horizon: int = 200,
        render_mode: str | None = None,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 5:
            raise ValueError(f"size must be an int >= 5, got {size!r}")
        for name, value, allowed in (("layout", layout, LAYOUTS), ("obs_mode", obs_mode, OBS_MODES),
                                     ("texture", texture, TEXTURES)):  # fmt: skip
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if image_size < size:
            raise ValueError(f"image_size must be at least size ({size}), got {image_size}")
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if layout == "maze" and size % 2 == 0:
            size += 1
        self.size = int(size)
        self.layout_seed = layout_seed
        self.layout = layout
        self.obs_mode = obs_mode
        self.image_size = int(image_size)
        self.texture = texture
        self.noise = float(noise)
        self.goal = goal
        self.horizon = int(horizon)
        self.render_mode = render_mode

        layout_rng = np.random.default_rng(layout_seed)
        self.walls = (carve_maze if layout == "maze" else four_rooms)(self.size, layout_rng)  # (size, size)
        free = np.argwhere(~self.walls)
        self.start = (int(free[0][0]), int(free[0][1]))
        self.goal_cell = (int(free[-1][0]), int(free[-1][1])) if goal else None
        self.n_free = len(free)
        # which cell each pixel row / column shows: (H,), (W,)
        self._pixel_cell = (np.arange(self.image_size) * self.size) // self.image_size
        self._fixed_rng_seed = layout_rng.integers(2**32)

        H = W = self.image_size
        self.action_space = spaces.Discrete(4)
        if obs_mode == "rgb":
            self.observation_space = spaces.Box(0, 255, shape=(H, W, 3), dtype=np.uint8)
        elif obs_mode == "semantic":
            self.observation_space = spaces.Box(0, len(CLASS_NAMES) - 1, shape=(H, W), dtype=np.uint8)
        else:
            self.observation_space = spaces.Discrete(self.size * self.size)
        self.visited = np.zeros((self.size, self.size), dtype=bool)  # over the env's life
        self._pos = self.start
        self._t = 0
        self._texture = np.zeros((H, W, 3), dtype=np.float32)
        self._shading = np.ones((self.size, self.size), dtype=np.float32)
        self._draw_texture(np.random.default_rng(self._fixed_rng_seed))

    # ------------------------------------------------------------------ rendering
    @property
    def n_states(self) -> int:
        """Cells, walls included: states are cell indices ``row * size + col``."""
        return self.size * self.size

    @property
    def state_mask(self) -> np.ndarray:
        """(n_states,) True for the free cells, the states the agent can be in."""
        return ~self.walls.reshape(-1)

    def _draw_texture(self, rng: np.random.Generator) -> None:
        self._texture = rng.normal(0.0, self.noise, size=self._texture.shape).astype(np.float32)  # (H, W, 3)
        self._shading = rng.uniform(0.75, 1.15, size=(self.size, self.size)).astype(np.float32)  # (size, size)

    def class_grid(self) -> np.ndarray:
        """(size, size) uint8 class of every cell in the current state."""
        grid = self.walls.astype(np.uint8)  # FLOOR 0, WALL 1
        if self.goal_cell is not None:
            grid[self.goal_cell] = GOAL
        grid[self._pos] = AGENT
        return grid

    def semantic_map(self) -> np.ndarray:
        """(H, W) uint8 class id of every pixel."""
        return self.class_grid()[np.ix_(self._pixel_cell, self._pixel_cell)]

    def rgb_frame(self) -> np.ndarray:
        """(H, W, 3) uint8 textured, shaded picture of the current state."""
        rows = cols = self._pixel_cell
        classes = self.class_grid()[np.ix_(rows, cols)]  # (H, W)
        shade = self._shading[np.ix_(rows, cols)][..., None]  # (H, W, 1)
        picture = BASE_COLOURS[classes] * shade + self._texture  # (H, W, 3)
        return np.clip(picture, 0, 255).astype(np.uint8)

    @staticmethod
    def colourise(semantic: np.ndarray) -> np.ndarray:
        """Display colours (..., 3) uint8 for a semantic map of class ids, with the fixed palette."""
        return SEMANTIC_PALETTE[semantic]

    def _obs(self):
        if self.obs_mode == "rgb":
            return self.rgb_frame()
        if self.obs_mode == "semantic":
            return self.semantic_map()
        return int(self._pos[0] * self.size + self._pos[1])

    def _info(self) -> dict[str, Any]:
        cells = int(self.visited.sum())
        return {"state": int(self._pos[0] * self.size + self._pos[1]), "cells_visited": cells,
                "cell_coverage": cells / self.n_free}  # fmt: skip

    # ------------------------------------------------------------------ dynamics
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if self.texture == "random":
            self._draw_texture(self.np_random)
        self._pos = self.start
        self._t = 0
        self.visited[self._pos] = True
        return self._obs(), self._info()

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in 0..3, got {action!r}")
        r, c = self._pos[0] + MOVES[int(action)][0], self._pos[1] + MOVES[int(action)][1]
        if not self.walls[r, c]:
            self._pos = (int(r), int(c))
        self._t += 1
        self.visited[self._pos] = True
        reached = self.goal_cell is not None and self._pos == self.goal_cell
        return self._obs(), float(reached), reached, self._t >= self.horizon, self._info()

    def render(self):
        if self.render_mode == "rgb_array":
            return self.rgb_frame()
        return None


def sample_renderings(
    n: int,
    *,
    seed: int = 0,
    n_layouts: int = 16,
    size: int = 9,
    image_size: int = 64,
    layout: str = "maze",
    noise: float = 24.0,
    goal: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Paired renderings of ``n`` random states: textured pictures and semantic maps of the same state.

    Each sample draws one of ``n_layouts`` layouts (layout seeds ``seed * n_layouts + k``), a free cell for
    the agent, and a fresh texture and shading. Two calls with different seeds give unpaired sets for
    translation training; one call gives the true pairs that evaluation needs.

    :param n: samples.
    :param seed: seed of the layouts, states and textures.
    :param n_layouts: distinct layouts to draw from.
    :param size: cells per side (see :class:`MazeEnv`).
    :param image_size: pixels per side.
    :param layout: ``"maze"`` or ``"rooms"``.
    :param noise: texture noise amplitude in colour units.
    :param goal: draw the goal cell (a fourth class) in the bottom-right free cell.
    :returns: ``rgb`` (n, H, W, 3) uint8 and ``semantic`` (n, H, W) uint8 class ids.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(n_layouts, bool) or not isinstance(n_layouts, int) or n_layouts < 1:
        raise ValueError(f"n_layouts must be a positive int, got {n_layouts!r}")
    rng = np.random.default_rng(seed)
    envs = [MazeEnv(size, seed * n_layouts + k, layout=layout, image_size=image_size, noise=noise, goal=goal)
            for k in range(n_layouts)]  # fmt: skip
    rgb = np.empty((n, image_size, image_size, 3), dtype=np.uint8)
    semantic = np.empty((n, image_size, image_size), dtype=np.uint8)
    for i in range(n):
        env = envs[rng.integers(n_layouts)]
        free = np.argwhere(~env.walls)  # (n_free, 2)
        env._pos = tuple(int(v) for v in free[rng.integers(len(free))])
        env._draw_texture(rng)
        rgb[i], semantic[i] = env.rgb_frame(), env.semantic_map()
    return rgb, semantic
