"""Exploration agents with Stable-Baselines3's interface."""
