"""Client order ids that stay unique across restarts of the process, valid on every exchange.

Format: ``{prefix}{n}{tag}{session}{counter}``, letters and digits only, where

* ``prefix`` is a short desk tag (default ``"ax"``), ``tag`` the strategy's name reduced to
  letters and digits, at most 8 of them, and ``n`` its length (one digit), so the owner of
  an id can be read back (:func:`owner_of`) without a separator,
* ``session`` is 8 base-36 digits of the wall-clock milliseconds when the generator was
  created plus 3 random base-36 digits, so two runs (even two started in the same
  millisecond) never share a session,
* ``counter`` counts up in base 36 within the session.

Letters and digits are what the strictest exchanges accept (OKX's ``clOrdId``: at most 32;
Binance allows 36 of ``[.A-Z:/a-z0-9_-]``); the length limit is the strictest of the desk's
venues (``actors.trading.dialects``).

On a desk the counters are leased (``leased=True``): a strategy uses only counters it was
granted in durable blocks (:mod:`actors.trading.leases`) and asks for the next block before it
runs out; :meth:`ClientOrderIdGenerator.next` raises :class:`IdsExhausted` when none is left.

>>> gen = ClientOrderIdGenerator("mm", wall_clock=lambda: 1_700_000_000.0, rng=random.Random(1))
>>> gen.next()
'ax2mmloyw3v286sl0'
>>> owner_of(gen.next(), ["arb", "mm"])
'mm'
"""

from __future__ import annotations

import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

DESK_PREFIX = "ax"
"""The default start of every client order id this desk makes (orphans are recognised by it)."""
MAX_LEN = 32
"""Default length limit (OKX's); a desk passes the strictest limit of its venues."""
MIN_COUNTER = 4
"""Characters a session must leave for its counter (36**4: 1.7 million orders a run)."""
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_TAG_OK = re.compile(r"[^A-Za-z0-9]")


@dataclass(frozen=True, slots=True)
class ClientIdFormat:
    """What a desk's client ids must fit: its prefix and its venues' strictest length.

    >>> ClientIdFormat(prefix="ax", max_len=32).generator("mm").max_len
    32
    """

    prefix: str = DESK_PREFIX
    max_len: int = MAX_LEN
    block: int = 16
    """Ids per durable lease (``journal.id_block``)."""

    @property
    def low_water(self) -> int:
        """Leased ids left when the next lease is asked for."""
        return max(1, self.block // 4)

    def generator(self, strategy: str, **kwargs: Any) -> ClientOrderIdGenerator:
        """A generator of ids in this format for ``strategy``."""
        return ClientOrderIdGenerator(strategy, prefix=self.prefix, max_len=self.max_len, **kwargs)


def base36(n: int, width: int = 0) -> str:
    """Lower-case base-36 of ``n`` >= 0, left-padded with zeros to ``width``."""
    if n < 0:
        raise ValueError(f"base36 needs n >= 0, got {n}")
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
    return (out or "0").rjust(width, "0")


class IdsExhausted(Exception):
    """Every leased id of a generator is used: it needs another lease first."""


def format_id(stem: str, counter: int) -> str:
    """The client order id of ``counter`` in ``stem``.

    >>> format_id("ax2mmloyw3v286sl", 37)
    'ax2mmloyw3v286sl11'
    """
    return stem + base36(counter)


class ClientOrderIdGenerator:
    """Produces unique client order ids for one strategy in one process run.

    ``leased``: ids only from counters granted with :meth:`grant` (a desk's durable leases).

    >>> gen = ClientOrderIdGenerator("mm", leased=True, rng=random.Random(1))
    >>> gen.grant(0, 2); gen.remaining
    2
    >>> [len(gen.next()) > 0 for _ in range(2)]
    [True, True]
    >>> gen.next()
    Traceback (most recent call last):
    ...
    actors.trading.ids.IdsExhausted: no leased client order id left for strategy 'mm'
    """

    def __init__(
        self,
        strategy: str,
        *,
        prefix: str = DESK_PREFIX,
        max_len: int = MAX_LEN,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        leased: bool = False,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9]{1,4}", prefix):
            raise ValueError(f"client id prefix must be 1-4 letters/digits, got {prefix!r}")
        tag = strategy_tag(strategy)
        if not tag:
            raise ValueError(f"strategy tag {strategy!r} has no usable characters [A-Za-z0-9]")
        rng = rng or random.Random()
        # 8 base-36 digits of milliseconds last until the year 2059.
        started_ms = int(wall_clock() * 1000)
        session = f"{base36(started_ms, 8)}{base36(rng.randrange(36**3), 3)}"
        self._stem = f"{prefix}{len(tag)}{tag}{session}"
        if len(self._stem) + MIN_COUNTER > max_len:
            raise ValueError(
                f"client ids of strategy {strategy!r} ({self._stem!r} + a counter) do not fit "
                f"the venues' {max_len}-character limit: shorten the strategy's name or the "
                "desk's client-id prefix"
            )
        self.max_len = max_len
        self.strategy = strategy
        self.leased = leased
        self._counter = 0
        self._leases: deque[tuple[int, int]] = deque()
        """Granted counters not used yet: ``(next, end)`` ranges, oldest first."""

    @property
    def stem(self) -> str:
        """The per-run part every id of this generator starts with."""
        return self._stem

    @property
    def remaining(self) -> int:
        """Leased ids not used yet (unleased: as many as the length budget allows)."""
        if not self.leased:
            return 36 ** (self.max_len - len(self._stem)) - self._counter
        return sum(end - first for first, end in self._leases)

    def grant(self, first: int, end: int) -> None:
        """Counters ``first`` to ``end`` (exclusive) may be used (after those granted before)."""
        if not 0 <= first < end:
            raise ValueError(f"lease of {self._stem!r}: bad counters {first}..{end}")
        self._leases.append((first, end))

    def next(self) -> str:
        """A fresh id; :class:`IdsExhausted` when leased and none is left; OverflowError if
        the length budget is exhausted."""
        if self.leased:
            if not self._leases:
                raise IdsExhausted(f"no leased client order id left for strategy {self.strategy!r}")
            first, end = self._leases[0]
            if first + 1 < end:
                self._leases[0] = (first + 1, end)
            else:
                self._leases.popleft()
            counter = first
        else:
            counter = self._counter
            self._counter += 1
        cid = format_id(self._stem, counter)
        if len(cid) > self.max_len:
            raise OverflowError(f"client order ids of {self._stem!r} exhausted after {cid!r}")
        return cid


def strategy_tag(strategy: str) -> str:
    """The part of a client order id that names its strategy (at most 8 letters/digits)."""
    return _TAG_OK.sub("", strategy)[:8]


def owner_of(client_order_id: str, strategies: Iterable[str], prefix: str = "ax") -> str | None:
    """Which of ``strategies`` made ``client_order_id`` (None: not this desk's, or unknown).

    Ids of the earlier ``{prefix}{tag}-{session}{counter}`` format are read too.

    >>> owner_of("ax2mmloyw3v286sl0", ["arb", "mm"])
    'mm'
    >>> owner_of("axmm-loyw3v286sl0", ["arb", "mm"])
    'mm'
    """
    if not client_order_id.startswith(prefix):
        return None
    rest = client_order_id[len(prefix) :]
    if "-" in rest:
        tag = rest.split("-", 1)[0]
        legacy = True
    elif rest and rest[0] in "12345678":
        tag = rest[1 : 1 + int(rest[0])]
        legacy = False
    else:
        return None
    for name in strategies:
        mine = re.sub(r"[^A-Za-z0-9_]", "", name)[:8] if legacy else strategy_tag(name)
        if mine == tag:
            return name
    return None
