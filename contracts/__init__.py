"""The contract kit: one suite that runs against the emulator or a real ArcGIS Enterprise.

``Target`` (``target``) is the deployment under test, reached through
``requests`` under the kit's safety rules (``safety``), with every credential
kept out of what it prints (``redaction``); each answer is a ``Reply``
(``reply``, whose ``envelope`` is the kit's one reading of ArcGIS's error
envelopes). The ``test_*`` modules are the checks (``pytest --pyargs
contracts`` or ``nbmock verify``, which the ``kit`` extra makes runnable);
``strategies`` generates requests and ``expectations`` says what a
conforming server answers.

Importing the package needs only the base install: no emulator, no pytest
companions.
"""

from contracts.target import Target

__all__ = ["Target"]
