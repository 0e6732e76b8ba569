"""What a fault plan did: every fault injected, counted per kind, with its recovery times.

The :class:`FaultLog` is owned by the plan's runner and read by whatever shows the run to
an operator: the run summary (:meth:`FaultLog.summary_line`), the metrics endpoint
(``actors_faults_injected_total{kind}`` from :meth:`FaultLog.counts`) and the soak report
(:meth:`FaultLog.as_dict`).

>>> log = FaultLog()
>>> record = log.begin("crash", "/market/sim-a", "crash on actor /market/sim-a", 1.0, 0.0)
>>> log.counts()
{'crash': 1}
>>> log.summary_line()
'faults injected: 1 (crash 1)'
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True)
class FaultRecord:
    """One injection: what, where, when it started and ended (trio clock), how it went."""

    seq: int
    kind: str
    target: str
    description: str
    started: float
    ends: float
    """When it ends (== ``started`` for a fault that acts at once)."""
    wall: float
    """Wall-clock seconds (epoch) when it was injected."""
    error: str | None = None
    """Why it could not be applied (then it does not count as injected)."""
    ended: bool = False
    book_recovery: float | None = None
    """Seconds from its end until every book it touched was fresh again (None: not measured)."""
    order_recovery: float | None = None
    """Seconds from its end until the first order reached the venue(s) it touched."""

    @property
    def ok(self) -> bool:
        """Whether it was applied."""
        return self.error is None


class FaultLog:
    """Every fault a runner injected (bounded: the oldest records go past ``keep``)."""

    def __init__(self, keep: int = 100_000) -> None:
        self.records: list[FaultRecord] = []
        self._keep = keep
        self._injected: Counter[str] = Counter()
        self._failed: Counter[str] = Counter()
        self._seq = 0

    def begin(
        self,
        kind: str,
        target: str,
        description: str,
        duration: float,
        now: float,
        error: str | None = None,
    ) -> FaultRecord:
        """Record an injection starting at ``now`` (trio clock) that lasts ``duration``."""
        self._seq += 1
        record = FaultRecord(
            self._seq, kind, target, description, now, now + duration, time.time(), error
        )
        (self._failed if error else self._injected)[kind] += 1
        self.records.append(record)
        if len(self.records) > self._keep:
            del self.records[: len(self.records) - self._keep]
        return record

    def counts(self) -> dict[str, int]:
        """Faults injected per kind."""
        return dict(sorted(self._injected.items()))

    def failed(self) -> dict[str, int]:
        """Faults that could not be applied, per kind."""
        return dict(sorted(self._failed.items()))

    @property
    def total(self) -> int:
        """Faults injected in all."""
        return sum(self._injected.values())

    def active(self) -> list[FaultRecord]:
        """Faults applied and not over yet (for a live view: what is misbehaving now)."""
        return [r for r in self.records if r.ok and not r.ended]

    def targets(self) -> set[str]:
        """Every actor path and venue name a fault was applied to."""
        return {r.target for r in self.records if r.ok}

    def summary_line(self) -> str:
        """``faults injected: 12 (crash 3, drop_websockets 9)`` (and failures, if any)."""
        kinds = ", ".join(f"{k} {n}" for k, n in self.counts().items())
        line = f"faults injected: {self.total}" + (f" ({kinds})" if kinds else "")
        failed = self.failed()
        if failed:
            line += "; not applied: " + ", ".join(f"{k} {n}" for k, n in failed.items())
        return line

    def recovery(self) -> dict[str, dict[str, float | int | None]]:
        """p50/p99/max of the book and order recovery times, with how many were measured."""
        return {
            "book": _percentiles([r.book_recovery for r in self.records]),
            "order": _percentiles([r.order_recovery for r in self.records]),
        }

    def as_dict(self) -> dict[str, Any]:
        """Counts, failures, recovery percentiles and every record, for a JSON report."""
        return {
            "injected": self.counts(),
            "failed": self.failed(),
            "total": self.total,
            "recovery_s": self.recovery(),
            "records": [asdict(r) for r in self.records],
        }


def _percentiles(values: list[float | None]) -> dict[str, float | int | None]:
    measured = sorted(v for v in values if v is not None)
    if not measured:
        return {"count": 0, "p50": None, "p99": None, "max": None}
    return {
        "count": len(measured),
        "p50": round(statistics.median(measured), 4),
        "p99": round(_quantile(measured, 0.99), 4),
        "max": round(measured[-1], 4),
    }


def _quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values (nearest rank: an observed value, never invented)."""
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]
