"""The MAX paper's U-shaped Ant maze, rebuilt on Gymnasium's MuJoCo Ant-v5 (the ``mujoco`` extra).

Shyam, Jaskowski & Gomez, ICML 2019, section 5.2 and the official ``envs/ant.py`` and
``envs/assets/ant_maze.xml``: Gymnasium's ant in a maze of 2 x 2 blocks whose free blocks form a U,
with the ant starting in the first; episodes of 300 steps; no reward. Exploration is judged by how much
of the maze was visited: the paper counts the 7 blocks; :data:`GRID_CELL` cells give a finer measure.

Gymnasium-robotics has ``AntMaze_UMaze-v5``, but its cells are 4 units wide and its package pulls
PettingZoo; this rebuild adds the paper's wall blocks to Gymnasium's own ``ant.xml`` (same body, RK4,
timestep 0.01, frame skip 5) so the maze, the start and the episode length are the paper's.

The observation (31 values) is the official one: [torso x and y velocity averaged over the step,
qpos (15: x, y, z, orientation quaternion, 8 joint angles), qvel (14)]; x and y are indices 2 and 3.
The official ``get_state_block`` reads x and y transposed against its own XML (it names the block at
x = 0, y = 2, a wall there, and misses x = 2, y = 0); the blocks here follow the XML, where the ant walks.
"""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

BLOCK_SIZE = 2.0  # side of a maze block
# centres of the free blocks, in the order the U is walked from the start (0, 0)
FREE_BLOCKS = np.array([(0, 0), (2, 0), (4, 0), (4, 2), (4, 4), (2, 4), (0, 4)], dtype=float)
GRID_CELL = 0.5  # side of the finer coverage cells: 16 per block, 112 in the maze
X_INDEX, Y_INDEX = 2, 3  # the torso's position in the observation
_GRID = np.arange(-2.0, 7.0, BLOCK_SIZE)  # block centres of the 5 x 5 square the maze sits in


def wall_blocks() -> np.ndarray:
    """(18, 2) centres of the wall blocks: every block of the 5 x 5 square that is not free."""
    square = np.array([(x, y) for y in _GRID for x in _GRID])
    free = (square[:, None, :] == FREE_BLOCKS[None]).all(-1).any(1)
    return square[~free]


def maze_block(xy: np.ndarray) -> np.ndarray:
    """(...,) index into :data:`FREE_BLOCKS` of the block each (..., 2) position lies in, -1 outside."""
    xy = np.asarray(xy, dtype=float)
    inside = (np.abs(xy[..., None, :] - FREE_BLOCKS) <= BLOCK_SIZE / 2).all(-1)  # (..., 7)
    return np.where(inside.any(-1), inside.argmax(-1), -1)


def grid_cells() -> np.ndarray:
    """(112, 2) centres of the finer coverage cells, block by block in :data:`FREE_BLOCKS` order."""
    offsets = np.arange(-BLOCK_SIZE / 2 + GRID_CELL / 2, BLOCK_SIZE / 2, GRID_CELL)  # (4,)
    local = np.array([(dx, dy) for dy in offsets for dx in offsets])  # (16, 2)
    return (FREE_BLOCKS[:, None, :] + local[None]).reshape(-1, 2)


def grid_cell(xy: np.ndarray) -> np.ndarray:
    """(...,) index into :func:`grid_cells` of the cell each (..., 2) position lies in, -1 outside the maze."""
    xy = np.asarray(xy, dtype=float)
    block = maze_block(xy)  # (...,)
    local = xy - FREE_BLOCKS[np.maximum(block, 0)] + BLOCK_SIZE / 2  # (..., 2) in [0, 2]
    per_side = int(BLOCK_SIZE / GRID_CELL)
    ij = np.clip(np.floor(local / GRID_CELL).astype(int), 0, per_side - 1)  # (..., 2) column, row
    return np.where(block >= 0, block * per_side**2 + ij[..., 1] * per_side + ij[..., 0], -1)


def maze_xml() -> str:
    """Gymnasium's ``ant.xml`` with the paper's wall blocks added to its world body."""
    source = Path(gym.__file__).parent / "envs" / "mujoco" / "assets" / "ant.xml"
    tree = ET.parse(source)
    world = tree.getroot().find("worldbody")
    half = BLOCK_SIZE / 2
    for i, (x, y) in enumerate(wall_blocks()):
        ET.SubElement(world, "geom", {
            "name": f"block_{i}", "type": "box", "pos": f"{x} {y} {half}", "size": f"{half} {half} {half}",
            "conaffinity": "1", "contype": "1", "rgba": "0.4 0.4 0.4 1",
        })  # fmt: skip
    return ET.tostring(tree.getroot(), encoding="unicode")


class MAXAntMaze(gym.Wrapper):
    """The paper's Ant maze: reward-free, with the visited blocks and cells in ``info``.

    ``info`` after every step and reset: ``block`` (the block the torso is in, -1 outside), ``blocks_visited``
    and ``cells_visited`` (distinct blocks and :data:`GRID_CELL` cells entered since the env was made,
    across episodes), ``maze_coverage`` (blocks visited / 7) and ``grid_coverage`` (cells visited / 112).

    :param kwargs: passed to Gymnasium's ``Ant-v5`` (e.g. ``render_mode``, ``reset_noise_scale``).
    """

    def __init__(self, **kwargs: Any) -> None:
        try:
            import mujoco  # noqa: F401
        except ImportError as error:
            raise ImportError("maxplore/AntMaze-v0 needs MuJoCo: pip install 'maxplore[mujoco]'") from error
        options = {"terminate_when_unhealthy": False, "exclude_current_positions_from_observation": False,
                   "include_cfrc_ext_in_observation": False, **kwargs}  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:  # MuJoCo reads the model when the env is made
            path = Path(folder) / "ant_maze.xml"
            path.write_text(maze_xml())
            env = gym.make("Ant-v5", xml_file=str(path), **options)
        super().__init__(env)
        self.observation_space = spaces.Box(-np.inf, np.inf, (31,), dtype=np.float64)
        self.blocks = np.zeros(len(FREE_BLOCKS), dtype=bool)  # (7,) visited
        self.cells = np.zeros(len(grid_cells()), dtype=bool)  # (112,) visited
        self._xy_before = np.zeros(2)

    def _xy(self) -> np.ndarray:
        return np.array(self.env.unwrapped.get_body_com("torso")[:2], dtype=float)

    def _observation(self, velocity: np.ndarray) -> np.ndarray:
        data = self.env.unwrapped.data
        return np.concatenate([velocity, data.qpos.flat, data.qvel.flat])

    def _visit(self, info: dict) -> dict:
        xy = self._xy()
        block, cell = int(maze_block(xy)), int(grid_cell(xy))
        if block >= 0:
            self.blocks[block] = True
            self.cells[cell] = True
        info.update(block=block, blocks_visited=int(self.blocks.sum()), cells_visited=int(self.cells.sum()),
                    maze_coverage=float(self.blocks.mean()), grid_coverage=float(self.cells.mean()))  # fmt: skip
        return info

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        _, info = self.env.reset(**kwargs)
        self._xy_before = self._xy()
        return self._observation(np.zeros(2)), self._visit(info)

    def step(self, action: np.ndarray):
        _, _, terminated, truncated, info = self.env.step(action)
        xy = self._xy()
        observation = self._observation((xy - self._xy_before) / self.env.unwrapped.dt)
        self._xy_before = xy
        return observation, 0.0, terminated, truncated, self._visit(info)
