"""Notebooks at work: open notebooks, the deployments or containers hosting them, and jobs."""
