"""Test-wide settings.

One torch thread: the suite's models are tiny, and on 2 busy cores torch's default of two intra-op
threads made them up to 7x slower (docs/BENCHMARKS.md, "Threads"). Tests that need another count set it
themselves.

The studies in ``scripts/`` (cyclegan, norm_study, ...) are modules of no package: their tests import
them from that folder.
"""

import sys
from pathlib import Path

import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
