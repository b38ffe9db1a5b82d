"""The emulator's options, in one place.

The CLI, the embedding API (``mockserver.testing``) and the tests build one
``Settings`` and hand it to ``create_app``; a mistyped option is a
``TypeError`` at once instead of a default silently kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockserver.auth.lockout import PORTAL_LOCKOUT, LockoutPolicy

if TYPE_CHECKING:
    from mockserver.auth.users import UserDirectory
    from mockserver.core.clock import Clock
    from mockserver.core.profile import Profile

DEFAULT_CONTEXT = "arcgis"
DEFAULT_MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """One emulated deployment's options.

    ``state`` is a SQLite file that keeps runtimes (and the token secret)
    across restarts and shares them between worker processes; without it the
    state lives in memory for the life of the app. ``users`` is a
    ``UserDirectory`` or the path of a users TOML file (default: the single
    Administrator ``admin``). ``clock`` lets tests move time without sleeping.
    ``control_token``/``control_enabled`` guard the ``/__mock__/`` control
    plane; ``journal`` turns its request journal off for throughput runs.
    ``profile`` lays a captured deployment's facts over the release's defaults.
    """

    context: str = DEFAULT_CONTEXT
    state: str | Path | None = None
    #: Which API is emulated: ``kubernetes`` (ArcGIS Enterprise on Kubernetes) or
    #: ``notebook-server`` (the standalone ArcGIS Notebook Server); mockserver/flavours.py.
    #: None: the ``profile``'s flavour, else ``kubernetes``.
    flavour: str | None = None
    #: A release of that flavour; None: the flavour's default (12.1, and 11.5).
    release_name: str | None = None
    users: UserDirectory | str | Path | None = None
    clock: Clock | None = None
    seed: int | None = None
    max_body: int = DEFAULT_MAX_BODY
    control_token: str | None = field(default=None, repr=False)
    control_enabled: bool = True
    journal: bool = True
    #: Host names answered (mockserver.serving.hosts); None: any, as in process.
    allowed_hosts: frozenset[str] | None = None
    #: Peers whose X-Forwarded-* headers count (addresses or networks).
    trusted_proxies: frozenset[str] = frozenset()
    #: How many sandboxes (``POST /__mock__/sandboxes``) may exist at once.
    max_sandboxes: int = 100
    #: Portal's account lockout (mockserver/auth/lockout.py); None turns it off.
    lockout: LockoutPolicy | None = PORTAL_LOCKOUT
    #: The deployment's public URLs (``https://portal.example.com``): where the built-in
    #: OAuth apps may send a signed-in browser, never the request's Host header.
    public_urls: tuple[str, ...] = ()
    #: A deployment profile (mockserver/core/profile.py), or the path of its JSON file: the
    #: captured facts of a real Enterprise, which win over the defaults they contradict.
    profile: Profile | str | Path | None = None

    def __post_init__(self) -> None:
        context = self.context.strip("/")
        if not context or "/" in context:
            raise ValueError(f"context must be a single path segment, got {self.context!r}")
        object.__setattr__(self, "context", context)
        if self.max_sandboxes < 0:
            raise ValueError(f"max_sandboxes must not be negative, got {self.max_sandboxes}")
        if self.max_body <= 0:
            raise ValueError(f"max_body must be a positive number of bytes, got {self.max_body}")

    @classmethod
    def of(cls, settings: Settings | None = None, **options: Any) -> Settings:
        """``settings`` (or the defaults) with ``options`` applied; unknown names raise."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown emulator option(s): {', '.join(unknown)}")
        return replace(settings or cls(), **options)
