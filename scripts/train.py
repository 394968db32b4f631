"""Train an exploration agent and report how much of the environment it tried: ``maxplore-train``.

The command lives in :mod:`benchmarks.commands.train` so that it also works from an installed wheel;
``python scripts/train.py --help`` lists its options.
"""

from benchmarks.commands.train import cli

if __name__ == "__main__":
    cli()
