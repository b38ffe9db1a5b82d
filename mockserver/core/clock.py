"""The emulator's clock: wall time plus an offset tests can move without sleeping."""

from __future__ import annotations

import time


class Clock:
    """Epoch time for token expiry and revisions; ``advance`` moves it forward."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset_seconds = offset_seconds

    def now(self) -> float:
        return time.time() + self.offset_seconds

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        self.offset_seconds += seconds

    def set(self, epoch_seconds: float) -> None:
        self.offset_seconds = epoch_seconds - time.time()
