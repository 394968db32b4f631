"""The curiosity baselines: RND (Burda et al., ICLR 2019) and ICM (Pathak et al., ICML 2017), each a curiosity
module driving PPO with intrinsic and extrinsic value heads (:class:`~agents.curiosity.ppo.CuriosityPPO`)."""

from agents.curiosity.icm import ICM, ICMModule
from agents.curiosity.ppo import CuriosityPPO
from agents.curiosity.rnd import RND, RNDModule

__all__ = ["ICM", "RND", "CuriosityPPO", "ICMModule", "RNDModule"]
