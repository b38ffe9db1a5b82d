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
        # One draw of 128 bits cut into 20 base-36 digits, instead of 20 draws
        # from the operating system; 2**128 / 36**20 ~ 2.6e7, so the modulo's
        # bias is below one in ten million.
        number = rng.getrandbits(128) % 36**20
        digits = []
        for _ in range(20):
            number, digit = divmod(number, 36)
            digits.append(_PROPERTY_ID_ALPHABET[digit])
        return runtime_id, "p" + "".join(digits)
