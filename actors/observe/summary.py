"""What a run did, printed when it ends."""

from __future__ import annotations

from actors.runtime.stats import ActorStats


def run_summary(stats: dict[str, ActorStats], elapsed: float) -> str:
    """A short report: totals, then every actor that crashed, dropped or dead-lettered."""
    lines = [
        f"ran {elapsed:.1f}s: {len(stats)} actors, "
        f"{sum(s.processed for s in stats.values())} messages handled, "
        f"{sum(s.restarts for s in stats.values())} restarts, "
        f"{sum(s.dropped for s in stats.values())} dropped by policy, "
        f"{sum(s.dead_letters for s in stats.values())} dead letters"
    ]
    for s in sorted(stats.values(), key=lambda s: s.path):
        if s.restarts or s.dropped or s.dead_letters:
            lines.append(
                f"  {s.path}: restarts {s.restarts}, dropped {s.dropped}, "
                f"dead letters {s.dead_letters}, mailbox high-water {s.high_water}/{s.capacity}"
                + (f", last crash {s.last_crash}" if s.last_crash else "")
            )
    return "\n".join(lines)
