"""Fault injection for users' own tests of a desk."""

from actors.testing.faults import InjectedCrash, VenueControl, crash_actor, pause_actor

__all__ = ["InjectedCrash", "VenueControl", "crash_actor", "pause_actor"]
