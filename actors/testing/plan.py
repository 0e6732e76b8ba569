"""Fault plans: which faults to inject into a running desk, when, and for how long.

A plan is data (msgspec structs), so the same plan comes from Python in a test or from a
topology's ``[faults]`` section (``actors run config/chaos.toml``). Each :class:`Fault` names
one ``kind``, its target (``actor`` path or ``venue`` name), exactly one trigger, and how
long it lasts; a fault with a duration ends by itself.

Triggers:

* ``at = 5.0``: once, that many seconds after the plan starts;
* ``after = 200, of = "BookSnapshot", to = "/books/sim-a/BTC-USDT"``: once that many
  messages of that type (class name; left out: any) were offered to the actor at ``to``
  (left out: the fault's own ``actor``); with ``times`` it repeats every ``after`` messages;
* ``every = 20.0``: on average every that many seconds, at random: each gap is uniform in
  ``every * [1 - jitter, 1 + jitter]``, drawn from the plan's ``seed`` (one stream per fault,
  so adding a fault does not move the others).

``times`` bounds how often a fault fires (``at``: once; ``after`` and ``every``: unbounded
unless set). The plan's ``start_after`` delays every trigger and ``stop_after`` ends
injection (a timed run also stops injecting ``settle`` seconds before its end, so the final
invariant check sees a desk that had time to recover).

Actor faults (``actor = "/path"``), run inside the actor the way real ones happen:

========================  ==========================================================================
``crash``                 the actor raises after its current message (its supervisor answers)
``stall``                 its handler hangs for ``seconds`` (past ``stall_timeout``: the watchdog)
``delay_messages``        for ``seconds``, every message to it arrives ``delay`` seconds late
``drop_messages``         for ``seconds``, each message to it is dropped with ``probability``
``fill_mailbox``          for ``seconds``, its handler hangs and its mailbox is full (capacity
                          cut to what waits): new messages meet the overflow policy
========================  ==========================================================================

Venue faults (``venue = "name"``, an embedded venue), the venue's own fault knobs:

========================  ==========================================================================
``drop_websockets``       every websocket closes now
``stall_streams``         market data held for ``seconds``, sockets kept open
``stall_user_streams``    private streams held for ``seconds``, sockets kept open
``sequence_gap``          ``count`` book update ids skipped (on ``symbol``, else every symbol)
``malformed_frame``       one malformed frame (``frame``: truncated, garbage, wrong_types)
``refuse_connections``    connections refused (open sockets dropped) for ``seconds``
``rate_limit``            the next ``count`` REST requests get 429, ``then_418`` more 418
``order_error``           the next ``count`` orders fail: ``mode`` error/timeout before/after
                          accepting, with HTTP ``status`` (5xx) or held ``hold`` seconds
``latency``               every reply ``delay`` seconds late, for ``seconds``
``clock_skew``            the venue's clock ``skew_ms`` off, for ``seconds``
========================  ==========================================================================

>>> plan = FaultPlan(seed=7, inject=[
...     Fault(kind="crash", actor="/market/sim-a", every=20.0),
...     Fault(kind="order_error", venue="sim-b", at=30.0, mode="error_after"),
... ])
>>> plan.check()
>>> Fault(kind="stall", actor="/router", at=1.0).problems()
['seconds: a stall needs a duration > 0 seconds']
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Seconds = Annotated[float, Meta(ge=0, le=86_400)]
Period = Annotated[float, Meta(gt=0, le=86_400)]
Count = Annotated[int, Meta(ge=0, le=1_000_000)]

ACTOR_FAULTS = ("crash", "stall", "delay_messages", "drop_messages", "fill_mailbox")
VENUE_FAULTS = (
    "drop_websockets",
    "stall_streams",
    "stall_user_streams",
    "sequence_gap",
    "malformed_frame",
    "refuse_connections",
    "rate_limit",
    "order_error",
    "latency",
    "clock_skew",
)
KINDS = ACTOR_FAULTS + VENUE_FAULTS
TIMED = frozenset(
    {
        "stall",
        "delay_messages",
        "drop_messages",
        "fill_mailbox",
        "stall_streams",
        "stall_user_streams",
        "refuse_connections",
        "latency",
        "clock_skew",
    }
)
"""Kinds that last ``seconds`` and end by themselves; the others act at once."""

FaultKind = Literal[
    "crash",
    "stall",
    "delay_messages",
    "drop_messages",
    "fill_mailbox",
    "drop_websockets",
    "stall_streams",
    "stall_user_streams",
    "sequence_gap",
    "malformed_frame",
    "refuse_connections",
    "rate_limit",
    "order_error",
    "latency",
    "clock_skew",
]
_ARTICLE = {"crash": "a crash", "stall": "a stall"}


class Fault(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One fault of a plan: what, where, when, for how long (see the module doc)."""

    kind: FaultKind
    actor: str | None = None
    """Path of the target actor (actor faults), e.g. ``/market/sim-a``."""
    venue: str | None = None
    """Name of the target venue (venue faults)."""
    at: Seconds | None = None
    after: Annotated[int, Meta(ge=1, le=1_000_000_000)] | None = None
    of: str | None = None
    """Message type counted by ``after`` (class name; None: every message)."""
    to: str | None = None
    """Actor whose incoming messages ``after`` counts (None: ``actor``)."""
    every: Period | None = None
    jitter: Annotated[float, Meta(ge=0, le=1)] = 0.5
    times: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    seconds: Seconds = 0.0
    """How long it lasts (timed kinds)."""
    delay: Annotated[float, Meta(ge=0, le=60)] = 0.2
    """``delay_messages``: how late each message arrives; ``latency``: added to each reply."""
    probability: Annotated[float, Meta(ge=0, le=1)] = 1.0
    count: Annotated[int, Meta(ge=1, le=1_000_000)] = 1
    then_418: Count = 0
    retry_after: Annotated[int, Meta(ge=0, le=3600)] = 1
    mode: Literal["error_after", "error_before", "timeout_after", "timeout_before"] = "error_after"
    status: Annotated[int, Meta(ge=500, le=599)] = 503
    hold: Annotated[float, Meta(ge=0, le=3600)] = 30.0
    """``order_error`` time-outs: how long the venue holds the reply."""
    symbol: str | None = None
    frame: Literal["truncated", "garbage", "wrong_types"] = "truncated"
    skew_ms: Annotated[int, Meta(ge=-86_400_000, le=86_400_000)] = 0

    @property
    def target(self) -> str:
        """The actor path or venue name it hits."""
        return (self.actor if self.kind in ACTOR_FAULTS else self.venue) or "?"

    @property
    def timed(self) -> bool:
        """Whether it lasts ``seconds`` (else it acts at once)."""
        return self.kind in TIMED

    def describe(self) -> str:
        """``stall_streams on venue sim-a for 5s``: for logs and the journal."""
        where = f"actor {self.actor}" if self.kind in ACTOR_FAULTS else f"venue {self.venue}"
        extra = {
            "delay_messages": f", {self.delay:g}s late",
            "drop_messages": f", p={self.probability:g}",
            "sequence_gap": f", {self.count} ids" + (f" on {self.symbol}" if self.symbol else ""),
            "malformed_frame": f", {self.frame}",
            "rate_limit": f", {self.count}x429 then {self.then_418}x418",
            "order_error": f", {self.mode} x{self.count}",
            "latency": f", +{self.delay:g}s",
            "clock_skew": f", {self.skew_ms:+d}ms",
        }.get(self.kind, "")
        lasting = f" for {self.seconds:g}s" if self.timed else ""
        return f"{self.kind} on {where}{lasting}{extra}"

    def trigger(self) -> str:
        """``every ~15s``, ``at 5s``, ``after 200 BookSnapshot to /books/sim/BTC-USDT``."""
        times = f", {self.times} times" if self.times and self.at is None else ""
        if self.at is not None:
            return f"at {self.at:g}s"
        if self.every is not None:
            return f"every ~{self.every:g}s (+-{self.jitter:.0%}){times}"
        what = f" {self.of}" if self.of else " messages"
        return f"after {self.after}{what} to {self.to or self.actor}{times}"

    def problems(self) -> list[str]:
        """``field: what is wrong`` for every inconsistency msgspec's types cannot see."""
        problems: list[str] = []
        actor_fault = self.kind in ACTOR_FAULTS
        if actor_fault:
            if not self.actor:
                problems.append(f"actor: {self.kind} needs the path of an actor")
            elif not _is_path(self.actor):
                problems.append(f"actor: {self.actor!r} is not an actor path like /market/sim")
            if self.venue is not None:
                problems.append(f"venue: {self.kind} hits an actor; use actor, not venue")
        else:
            if not self.venue:
                problems.append(f"venue: {self.kind} needs the name of a venue")
            if self.actor is not None:
                problems.append(f"actor: {self.kind} hits a venue; use venue, not actor")
        triggers = [name for name in ("at", "after", "every") if getattr(self, name) is not None]
        if len(triggers) != 1:
            given = ", ".join(triggers) or "none"
            problems.append(f"at: give exactly one trigger of at, after, every (given: {given})")
        if self.at is not None and self.times not in (None, 1):
            problems.append("times: a fault triggered at a time fires once")
        if self.after is None and (self.of is not None or self.to is not None):
            problems.append("of: of and to go with after (a count of messages)")
        if self.after is not None and not (self.to or self.actor):
            problems.append("to: after counts messages to an actor: give to (a path)")
        if self.to is not None and not _is_path(self.to):
            problems.append(f"to: {self.to!r} is not an actor path like /market/sim")
        if self.timed and self.seconds <= 0:
            what = _ARTICLE.get(self.kind, self.kind)
            problems.append(f"seconds: {what} needs a duration > 0 seconds")
        if not self.timed and self.seconds:
            problems.append(f"seconds: {self.kind} acts at once and takes no duration")
        if self.kind == "latency" and self.delay <= 0:
            problems.append("delay: latency needs a delay > 0 seconds")
        if self.kind == "clock_skew" and self.skew_ms == 0:
            problems.append("skew_ms: clock_skew needs a non-zero skew")
        if self.kind == "drop_messages" and self.probability <= 0:
            problems.append("probability: drop_messages needs a probability > 0")
        return problems


class FaultPlan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Faults to inject into a running desk (the ``[faults]`` section of a topology).

    >>> FaultPlan(inject=[Fault(kind="drop_websockets", venue="sim-a", every=10.0)]).seed
    1
    """

    inject: list[Fault] = []
    seed: Annotated[int, Meta(ge=0, le=2**63 - 1)] = 1
    start_after: Seconds = 0.0
    """Seconds after the desk is up before any trigger runs (the desk warms up first)."""
    stop_after: Period | None = None
    """Seconds after the start past which no fault is injected (None: until stopped)."""
    settle: Seconds = 10.0
    """A run with ``--duration`` stops injecting this long before its end."""
    verify: bool = True
    """Check the invariants when a run ends (``actors run``: exit 1 on a violation)."""

    def problems(self, at: str = "faults") -> list[str]:
        """Every problem of the plan as ``faults.inject[i].field: what is wrong``."""
        problems = []
        for i, fault in enumerate(self.inject):
            problems += [f"{at}.inject[{i}].{p}" for p in fault.problems()]
        return problems

    def check(self) -> None:
        """Raise ``ValueError`` listing every problem (numbers and bounds included)."""
        try:
            msgspec.convert(msgspec.to_builtins(self), FaultPlan)
        except msgspec.ValidationError as exc:
            raise ValueError(f"fault plan: {exc}") from None
        problems = self.problems()
        if problems:
            raise ValueError("fault plan: " + "; ".join(problems))


def _is_path(path: str) -> bool:
    return path.startswith("/") and path != "/" and "//" not in path and not path.endswith("/")
