"""The control plane at ``/__mock__/``: health, reset, state, seed, journal, faults, clock.

This is emulator design, not ArcGIS: nothing here exists on a real
Enterprise, it never appears in the OpenAPI contract, and the emulated API
(``mockserver/runtimes``, ``mockserver/auth``) never imports it. It reaches the
emulated deployment only through ``create_app``'s ``Deployment``, and its state
owners through mockserver/core/owners.py.
"""

from mockserver.control.plane import ControlPlane, install

__all__ = ["ControlPlane", "install"]
