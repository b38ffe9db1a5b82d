"""The contract kit: one suite that runs against the emulator or a real ArcGIS Enterprise.

``Target`` is the deployment under test; the ``test_*`` modules of this
package are the checks (run them with ``pytest --pyargs contracts`` or
``nbmock verify``); ``strategies`` generates requests and ``expectations``
says what a conforming server answers.
"""

from contracts.target import Target

__all__ = ["Target"]
