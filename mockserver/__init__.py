"""A faithful, stateful emulator of the ArcGIS Enterprise notebook-runtimes admin API."""

from mockserver.app import create_app

__all__ = ["create_app"]
__version__ = "0.1.0"
