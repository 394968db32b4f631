"""Model-Based Active Exploration (Shyam, Jaskowski & Gomez, ICML 2019).

- :class:`MAX`: the one public class; ``MAX(env)`` builds the planner that fits ``env``.
- :class:`~agents.max.tabular.TabularMAX`: counted states, exact value iteration in the exploration MDP.
- :class:`~agents.max.continuous.ContinuousMAX`: continuous states, a SAC policy trained in imagination.
- :class:`~agents.max.pixels.PixelMAX`: pictures, planning in a feature space learned by inverse dynamics.
- :class:`~agents.max.vectors.VectorMAX`: vector states with discrete actions, planning over standardised states.
"""

from agents.max.base import MAX
from agents.max.continuous import CONFIGS, ContinuousMAX
from agents.max.pixels import PixelMAX
from agents.max.tabular import TabularMAX
from agents.max.vectors import VectorMAX
from agents.tabular_explorer import DEFAULT_PLANNING_HORIZON, MAX_PLANNING_HORIZON

__all__ = [
    "CONFIGS", "DEFAULT_PLANNING_HORIZON", "MAX", "MAX_PLANNING_HORIZON", "ContinuousMAX", "PixelMAX", "TabularMAX",
    "VectorMAX",
]  # fmt: skip
