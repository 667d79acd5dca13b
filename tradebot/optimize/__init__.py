"""Optimization sweeps: grid, random and Bayesian search over a script's params, with validation."""
