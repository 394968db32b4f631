"""Test-wide settings.

One torch thread: the suite's models are tiny, and on 2 busy cores torch's default of two intra-op
threads made them up to 7x slower (docs/BENCHMARKS.md, "Threads"). Tests that need another count set it
themselves.
"""

import torch

torch.set_num_threads(1)
