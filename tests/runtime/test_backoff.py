"""Backoff formula and validation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.runtime import Backoff


def test_base_delay_grows_geometrically_up_to_the_maximum() -> None:
    b = Backoff(initial=0.1, maximum=2.0, multiplier=3.0, jitter=0.0)
    assert [b.base(n) for n in range(5)] == pytest.approx([0.1, 0.3, 0.9, 2.0, 2.0])


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert Backoff(initial=1.0, maximum=30.0).base(10_000) == 30.0


@given(
    initial=st.floats(0.001, 10),
    multiplier=st.floats(1, 5),
    jitter=st.floats(0, 0.99),
    attempt=st.integers(0, 60),
    seed=st.integers(0, 2**32),
)
def test_jittered_delay_stays_within_bounds(
    initial: float, multiplier: float, jitter: float, attempt: int, seed: int
) -> None:
    b = Backoff(initial=initial, maximum=initial * 100, multiplier=multiplier, jitter=jitter)
    delay = b.delay(attempt, random.Random(seed))
    base = b.base(attempt)
    assert base * (1 - jitter) - 1e-9 <= delay <= min(b.maximum, base * (1 + jitter)) + 1e-9


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"initial": -1}, "backoff.initial must be >= 0"),
        ({"initial": 5, "maximum": 1}, r"backoff.maximum \(1\) must be >= backoff.initial \(5\)"),
        ({"multiplier": 0.5}, "backoff.multiplier must be >= 1"),
        ({"jitter": 1.0}, r"backoff.jitter must be in \[0, 1\)"),
        ({"reset_after": -1}, "backoff.reset_after must be >= 0"),
    ],
)
def test_invalid_backoff_is_refused_with_the_field_named(
    options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**options)
