"""Fault injection as a product: fault plans, chaos mode, invariants, soak reports.

* :class:`FaultPlan` / :class:`Fault` (``plan.py``): what to inject, when, for how long; the
  same plan from Python or from a topology's ``[faults]`` section.
* :class:`FaultRunner` (``runner.py``): runs a plan on a live desk, logs, counts and
  journals every fault, measures recovery, and :meth:`FaultRunner.verify` checks the
  invariants (``invariants.py``: :func:`check_desk` and its pure parts).
* ``crash_actor``, ``pause_actor``, :class:`VenueControl` (``faults.py``): single faults
  by hand; :class:`LocalVenue` / :class:`RemoteVenue` (``venues.py``): a venue as the
  runner and the invariants use it.

>>> plan = FaultPlan(inject=[Fault(kind="crash", actor="/market/sim-a", at=2.0)])
>>> # plan = dataclasses.replace(build(topology), faults=FaultRunner(plan, ...))
"""

from actors.testing.faultlog import FaultLog, FaultRecord
from actors.testing.faults import InjectedCrash, VenueControl, crash_actor, pause_actor
from actors.testing.invariants import (
    InvariantReport,
    InvariantResult,
    check_desk,
    journal_invariants,
)
from actors.testing.plan import Fault, FaultPlan
from actors.testing.runner import FaultRunner
from actors.testing.venues import Ledger, LocalVenue, RemoteVenue

__all__ = [
    "Fault",
    "FaultLog",
    "FaultPlan",
    "FaultRecord",
    "FaultRunner",
    "InjectedCrash",
    "InvariantReport",
    "InvariantResult",
    "Ledger",
    "LocalVenue",
    "RemoteVenue",
    "VenueControl",
    "check_desk",
    "crash_actor",
    "journal_invariants",
    "pause_actor",
]
