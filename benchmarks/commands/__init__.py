"""The suite's command lines (``maxplore-train``, ``maxplore-benchmark``): parsing and printing only. They
live in the package so that the console commands work from an installed wheel; ``scripts/train.py`` and
``scripts/benchmark.py`` call them."""
