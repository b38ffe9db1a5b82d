"""Reliability checks: what the emulator acknowledged, it keeps; what it refused, it did not do.

Each check is a function with its load as parameters, returning a report
dataclass whose ``problems`` list is empty when the check passed. ``make
reliability`` runs them at full size (``python -m bench.reliability``); the
default test suite runs them small (tests/test_reliability*.py).
"""
