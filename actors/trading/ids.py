"""Client order ids that stay unique across restarts of the process.

Format: ``{prefix}{strategy}-{session}{counter}`` where

* ``prefix`` is a short desk tag (default ``"ax"``), ``strategy`` a sanitised tag of at most
  8 characters,
* ``session`` is 8 base-36 digits of the wall-clock milliseconds when the generator was
  created plus 3 random base-36 digits, so two runs (even two started in the same
  millisecond) never share a session,
* ``counter`` counts up in base 36 within the session.

Ids match Binance's ``newClientOrderId`` pattern ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$``.

>>> gen = ClientOrderIdGenerator("mm", wall_clock=lambda: 1_700_000_000.0, rng=random.Random(1))
>>> gen.next()
'axmm-loyw3v286sl0'
>>> gen.next()
'axmm-loyw3v286sl1'
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable

DESK_PREFIX = "ax"
"""The default start of every client order id this desk makes (orphans are recognised by it)."""
BINANCE_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
MAX_LEN = 36
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_TAG_OK = re.compile(r"[^A-Za-z0-9_]")


def base36(n: int, width: int = 0) -> str:
    """Lower-case base-36 of ``n`` >= 0, left-padded with zeros to ``width``."""
    if n < 0:
        raise ValueError(f"base36 needs n >= 0, got {n}")
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
    return (out or "0").rjust(width, "0")


class ClientOrderIdGenerator:
    """Produces unique client order ids for one strategy in one process run."""

    def __init__(
        self,
        strategy: str,
        *,
        prefix: str = "ax",
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9]{1,4}", prefix):
            raise ValueError(f"client id prefix must be 1-4 letters/digits, got {prefix!r}")
        tag = strategy_tag(strategy)
        if not tag:
            raise ValueError(f"strategy tag {strategy!r} has no usable characters [A-Za-z0-9_]")
        rng = rng or random.Random()
        # 8 base-36 digits of milliseconds last until the year 2059.
        started_ms = int(wall_clock() * 1000)
        self._stem = f"{prefix}{tag}-{base36(started_ms, 8)}{base36(rng.randrange(36**3), 3)}"
        self._counter = 0

    @property
    def stem(self) -> str:
        """The per-run part every id of this generator starts with."""
        return self._stem

    def next(self) -> str:
        """A fresh id; raises OverflowError if the 36-character budget is exhausted."""
        cid = self._stem + base36(self._counter)
        if len(cid) > MAX_LEN:
            raise OverflowError(f"client order ids of {self._stem!r} exhausted after {cid!r}")
        self._counter += 1
        return cid


def strategy_tag(strategy: str) -> str:
    """The part of a client order id that names its strategy (at most 8 characters)."""
    return _TAG_OK.sub("", strategy)[:8]


def owner_of(client_order_id: str, strategies: Iterable[str], prefix: str = "ax") -> str | None:
    """Which of ``strategies`` made ``client_order_id`` (None: not this desk's, or unknown).

    >>> owner_of("axmm-loyw3v286sl0", ["arb", "mm"])
    'mm'
    """
    if not client_order_id.startswith(prefix) or "-" not in client_order_id:
        return None
    tag = client_order_id[len(prefix) :].split("-", 1)[0]
    for name in strategies:
        if strategy_tag(name) == tag:
            return name
    return None


def is_valid_client_order_id(cid: str) -> bool:
    """True when ``cid`` is acceptable to Binance (and thus to the embedded venue)."""
    return bool(BINANCE_CLIENT_ID.match(cid))
