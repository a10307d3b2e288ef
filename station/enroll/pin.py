"""PIN generation: cryptographic randomness, configurable length and alphabet, no guessable PINs.

A generated PIN is rejected and drawn again when it is trivial: one repeated character, a run up or
down the alphabet (``123456``, ``987654``, ``abcdef``), a short repeated pattern (``121212``,
``123123``) or too few distinct characters.
"""

from __future__ import annotations

import itertools
import secrets

MAX_PIN_BYTES = 63
_MAX_DRAWS = 1000


def effective_pin_length(configured: int, policy_minimum: int = 0, key_minimum: int = 4,
                         key_maximum: int = MAX_PIN_BYTES) -> int:
    """The length to generate: the configured one, raised to every minimum, capped by the key's maximum."""
    return min(max(configured, policy_minimum, key_minimum), key_maximum)


def generate_pin(length: int, alphabet: str) -> str:
    """A random PIN of ``length`` characters from ``alphabet`` that :func:`is_trivial` accepts."""
    if length < 4:
        raise ValueError("a PIN needs at least 4 characters")
    if len(set(alphabet)) < 2:
        raise ValueError("a PIN alphabet needs at least 2 distinct characters")
    for _ in range(_MAX_DRAWS):
        pin = "".join(secrets.choice(alphabet) for _ in range(length))
        if len(pin.encode()) <= MAX_PIN_BYTES and not is_trivial(pin, alphabet):
            return pin
    raise ValueError(f"no acceptable PIN of length {length} from an alphabet of {len(alphabet)} characters")


def is_trivial(pin: str, alphabet: str = "0123456789") -> bool:
    """Whether ``pin`` is guessable: repeated, sequential, periodic or built from too few characters."""
    if len(set(pin)) < min(3, len(set(alphabet)), len(pin)):
        return True
    return _is_sequential(pin, alphabet) or _is_periodic(pin)


def _is_sequential(pin: str, alphabet: str) -> bool:
    positions = [alphabet.index(c) if c in alphabet else ord(c) for c in pin]
    steps = {b - a for a, b in itertools.pairwise(positions)}
    return steps in ({1}, {-1}, {0})


def _is_periodic(pin: str) -> bool:
    n = len(pin)
    return any(n % p == 0 and pin == pin[:p] * (n // p) for p in range(1, n // 2 + 1))
