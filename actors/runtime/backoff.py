"""Exponential restart backoff with jitter and a reset after a stable period."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a supervisor waits before restarting a crashed child.

    The n-th consecutive restart (n from 0) waits
    ``min(maximum, initial * multiplier**n * u)`` with ``u`` uniform in
    ``[1 - jitter, 1 + jitter]``. A child that ran ``reset_after`` seconds without crashing
    starts again from n = 0. Jitter spreads reconnects of many feeds so they do not hit a
    venue in the same instant.

    >>> Backoff(initial=0.5, maximum=10, multiplier=2, jitter=0).delay(3, random.Random(0))
    4.0
    """

    initial: float = 0.1
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.1
    reset_after: float = 60.0

    def __post_init__(self) -> None:
        for name in ("initial", "maximum", "multiplier", "jitter", "reset_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"backoff.{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"backoff.{name} must be a finite number, got {value}")
        if self.initial < 0:
            raise ValueError(f"backoff.initial must be >= 0, got {self.initial}")
        if self.maximum < self.initial:
            raise ValueError(
                f"backoff.maximum ({self.maximum}) must be >= backoff.initial ({self.initial})"
            )
        if self.multiplier < 1:
            raise ValueError(f"backoff.multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"backoff.jitter must be in [0, 1), got {self.jitter}")
        if self.reset_after < 0:
            raise ValueError(f"backoff.reset_after must be >= 0, got {self.reset_after}")

    def base(self, attempt: int) -> float:
        """The un-jittered delay of restart number ``attempt`` (0-based)."""
        # Cap the exponent's effect before it overflows a float on long crash loops.
        if self.initial == 0:
            return 0.0
        delay = self.initial
        for _ in range(attempt):
            delay *= self.multiplier
            if delay >= self.maximum:
                return self.maximum
        return min(self.maximum, delay)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The jittered delay of restart number ``attempt``."""
        base = self.base(attempt)
        if self.jitter:
            base *= rng.uniform(1 - self.jitter, 1 + self.jitter)
        return min(self.maximum, base)
