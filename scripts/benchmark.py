"""Benchmarks of maxplore, one suite per claim: ``maxplore-benchmark``.

The command lives in :mod:`benchmarks.commands.benchmark` (its docstring lists the suites) so that it also
works from an installed wheel; ``python scripts/benchmark.py --help`` lists its options.
"""

from benchmarks.commands.benchmark import cli

if __name__ == "__main__":
    cli()
