"""Exploration agents with Stable-Baselines3's interface.

``MAX`` (Shyam et al. 2019) and the baselines it is compared with: ``BootstrappedDQN`` (Osband et al.
2016), ``BonusDQN`` (count-based bonus), plain ``DQN``, the curiosity baselines ``RND`` (Burda et al. 2019)
and ``ICM`` (Pathak et al. 2017), and the ``RandomExplorer`` and ``PerfectMemoryExplorer`` reference rows.
"""

from agents.bonus_dqn import BonusDQN
from agents.bootstrapped_dqn import BootstrappedDQN
from agents.curiosity import ICM, RND
from agents.dqn import DQN
from agents.max import MAX
from agents.reference_explorers import PerfectMemoryExplorer, RandomExplorer

__all__ = ["ICM", "MAX", "RND", "BonusDQN", "BootstrappedDQN", "DQN", "PerfectMemoryExplorer", "RandomExplorer"]
