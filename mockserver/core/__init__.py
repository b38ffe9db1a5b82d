"""The deployment and the vocabulary every room speaks: settings, the deployment and its
accessor, the state owners, the shared state file, ids, the clock, errors and messages.

Errors and messages live here, not in the web layer, because the pure model raises them:
the domain must not depend on the layer that renders it.
"""
