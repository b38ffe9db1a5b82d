"""Generated identifiers, in the forms the seed shows."""

from __future__ import annotations

import random
import string
import uuid

_PROPERTY_ID_ALPHABET = string.ascii_lowercase + string.digits


class IdGenerator:
    """Runtime ids (UUID4) and deployment property ids (``p`` + 20 of ``[a-z0-9]``).

    Unseeded, ids come from the operating system's randomness. Seeded, the
    n-th runtime created in the deployment gets the same ids on every run,
    whichever worker process creates it (``n`` is kept in the shared state).
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._system = random.SystemRandom()

    def for_sequence(self, sequence: int) -> tuple[str, str]:
        """The (runtime id, property id) pair of the ``sequence``-th creation."""
        rng = self._system if self.seed is None else random.Random(f"{self.seed}:{sequence}")
        runtime_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        property_id = "p" + "".join(rng.choice(_PROPERTY_ID_ALPHABET) for _ in range(20))
        return runtime_id, property_id
