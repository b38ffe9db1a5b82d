"""A faithful, stateful emulator of the ArcGIS Enterprise notebook-runtimes admin API.

The package is lazy (PEP 562): ``import mockserver.runtimes.model`` loads no
Flask, Werkzeug or sqlite3, so the domain rules can be read and tested alone.
``from mockserver import create_app`` still works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockserver.app import create_app
    from mockserver.core.settings import Settings

__all__ = ["Settings", "create_app"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from mockserver.app import create_app

        return create_app
    if name == "Settings":
        from mockserver.core.settings import Settings

        return Settings
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
