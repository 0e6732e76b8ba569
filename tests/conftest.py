"""Suite-wide settings: hypothesis runs a fixed set of examples under CI.

Locally every run explores new examples (and replays failures from the example database).
Under CI (``CI`` set) the examples are derived from each test's name instead of a random
seed, so a red CI run can be replayed exactly and a passing commit stays green; the machine
is shared and slow, so no per-example deadline either way.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
