"""The soak report of a chaos run: faults, restarts, recovery, invariants, resources over time.

``actors run config/chaos.toml --duration N --report FILE`` samples the process while it
runs (:class:`SoakRecorder`: resident memory, open descriptors, the fullest mailboxes) and,
when it ends, writes :func:`soak_report` to FILE as JSON and logs its summary
(:func:`report_lines`). ``bench/soak_plot.py`` draws memory and recovery times from it.

Resident memory and descriptors come from ``/proc/self`` (Linux); elsewhere memory falls back
to the peak RSS and descriptors are not sampled.

>>> lines = report_lines({"duration_s": 1.0, "faults": {"total": 0, "injected": {}},
...     "restarts": {}, "invariants": None, "resources": {}, "mailboxes": []})
>>> lines[0]
'soak report: ran 1s, 0 faults injected, 0 restarts'
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import trio

from actors.runtime import System
from actors.testing.faultlog import FaultLog
from actors.testing.invariants import InvariantReport, accounting

log = logging.getLogger("actors.soak")


def resident_mb() -> float:
    """Resident memory of this process in MB (``/proc/self/statm``; else the peak)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def open_descriptors() -> int | None:
    """Open file descriptors of this process (None where ``/proc/self/fd`` is missing)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


class SoakRecorder:
    """Samples memory, descriptors and mailbox depth every ``interval`` seconds."""

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float, int | None, int]] = []
        """(seconds since start, resident MB, open descriptors, messages waiting in all)."""
        self._started = 0.0

    async def run(self, system: System, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Sample until cancelled."""
        self._started = trio.current_time()
        task_status.started()
        while True:
            self.sample(system)
            await trio.sleep(self.interval)

    def sample(self, system: System) -> None:
        """Take one sample now."""
        waiting = sum(s.depth for s in system.stats().values())
        at = round(trio.current_time() - self._started, 2)
        self.samples.append((at, round(resident_mb(), 2), open_descriptors(), waiting))

    def resources(self) -> dict[str, Any]:
        """The samples, and for memory and descriptors: first, last, max, and the growth
        over the second half of the run (after the warm-up)."""
        if not self.samples:
            return {"samples": []}
        half = self.samples[len(self.samples) // 2 :]
        rss = [s[1] for s in self.samples]
        fds = [s[2] for s in self.samples if s[2] is not None]
        out: dict[str, Any] = {
            "interval_s": self.interval,
            "samples": [list(s) for s in self.samples],
            "rss_mb": {
                "first": rss[0],
                "last": rss[-1],
                "max": max(rss),
                "second_half_growth": round(half[-1][1] - half[0][1], 2),
                "slope_mb_per_hour": _slope([(s[0], s[1]) for s in half]),
            },
        }
        if fds:
            half_fds = [s[2] for s in half if s[2] is not None]
            out["fds"] = {
                "first": fds[0],
                "last": fds[-1],
                "max": max(fds),
                "second_half_range": max(half_fds) - min(half_fds) if half_fds else 0,
            }
        return out


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope in units per hour (None with fewer than 3 points)."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    var = sum((p[0] - mx) ** 2 for p in points)
    if var == 0:
        return None
    cov = sum((p[0] - mx) * (p[1] - my) for p in points)
    return round(cov / var * 3600, 2)


def soak_report(
    system: System,
    elapsed: float,
    *,
    faults: FaultLog | None,
    invariants: InvariantReport | None,
    recorder: SoakRecorder | None,
    why_unchecked: str | None = None,
) -> dict[str, Any]:
    """The report of a run that has stopped (``system.all_stats()`` are final)."""
    stats = system.all_stats()
    checks = invariants.as_dict() if invariants is not None else None
    if checks is not None:
        # The tree has stopped: message accounting is now exact, so check it again.
        final = accounting(stats)
        results = [r for r in checks["results"] if r["name"] != "accounting"]
        results.append(
            {
                "name": final.name,
                "title": final.title,
                "ok": final.ok,
                "evidence": list(final.evidence),
            }
        )
        checks["results"] = results
        checks["violations"] = sum(1 for r in results if r["ok"] is False)
        checks["ok"] = checks["violations"] == 0
    fullest = sorted(stats.values(), key=lambda s: (s.high_water / s.capacity, s.high_water))
    return {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": round(elapsed, 1),
        "faults": faults.as_dict() if faults is not None else {"total": 0, "injected": {}},
        "restarts": {p: s.restarts for p, s in sorted(stats.items()) if s.restarts},
        "gave_up": [f"{g.path}: {g.child or 'itself'}" for g in system.gave_up],
        "invariants": checks,
        "invariants_unchecked": why_unchecked if checks is None else None,
        "resources": recorder.resources() if recorder is not None else {},
        "mailboxes": [
            {"path": s.path, "high_water": s.high_water, "capacity": s.capacity}
            for s in reversed(fullest[-15:])
            if s.high_water
        ],
        "dead_letters": system.dead_letters,
    }


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report as a few readable lines (the log's end-of-run summary)."""
    faults = report["faults"]
    restarts = report["restarts"]
    kinds = ", ".join(f"{k} {n}" for k, n in faults.get("injected", {}).items())
    lines = [
        f"soak report: ran {report['duration_s']:g}s, {faults['total']} faults injected, "
        f"{sum(restarts.values())} restarts"
    ]
    if kinds:
        lines.append(f"  faults by kind: {kinds}")
    recovery = faults.get("recovery_s", {})
    for what in ("book", "order"):
        r = recovery.get(what)
        if r and r["count"]:
            lines.append(
                f"  recovery to {'a fresh book' if what == 'book' else 'the next order'}: "
                f"p50 {r['p50']:.2f}s, p99 {r['p99']:.2f}s, max {r['max']:.2f}s "
                f"({r['count']} measured)"
            )
    if restarts:
        lines.append("  restarts: " + ", ".join(f"{p} {n}" for p, n in restarts.items()))
    checks = report.get("invariants")
    if checks is None:
        lines.append(f"  invariants: not checked ({report.get('invariants_unchecked')})")
    else:
        lines.append(f"  invariants: {checks['violations']} violation(s)")
        for r in checks["results"]:
            verdict = {True: "PASS", False: "FAIL", None: "SKIP"}[r["ok"]]
            evidence = "; ".join(r["evidence"][:3])
            lines.append(f"    {verdict} {r['name']}: {evidence}")
    res = report.get("resources", {})
    if "rss_mb" in res:
        rss = res["rss_mb"]
        lines.append(
            f"  memory: {rss['first']:.0f} -> {rss['last']:.0f} MB (max {rss['max']:.0f}, "
            f"second half {rss['second_half_growth']:+.1f} MB)"
        )
    if "fds" in res:
        fds = res["fds"]
        lines.append(
            f"  descriptors: {fds['first']} -> {fds['last']} (max {fds['max']}, "
            f"second-half range {fds['second_half_range']})"
        )
    if report.get("mailboxes"):
        top = report["mailboxes"][:3]
        lines.append(
            "  fullest mailboxes: "
            + ", ".join(f"{m['path']} {m['high_water']}/{m['capacity']}" for m in top)
        )
    return lines


def write_report(path: str | Path, report: dict[str, Any]) -> None:
    """Write ``report`` as JSON to ``path`` (its directory made if needed)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2, default=str))
