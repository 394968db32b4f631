"""Vectorised ensembles of forward models, their utilities and the exploration MDP."""
