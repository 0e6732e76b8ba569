"""The generic actor runtime: actors, mailboxes, refs, supervisors, the system.

Nothing here knows about trading. Everything runs on trio and takes its time from trio's
clock, so supervision can be tested in virtual time.

>>> from actors.runtime import Actor, ChildSpec, open_system
>>> class Echo(Actor):
...     async def handle(self, message: object) -> object:
...         return message
>>> # async with open_system([ChildSpec("echo", Echo)]) as system:
>>> #     assert await system.lookup("/echo").ask("hi") == "hi"
"""

from actors.runtime.actor import Actor, Context
from actors.runtime.backoff import Backoff
from actors.runtime.cell import ActorState
from actors.runtime.envelope import Refuse
from actors.runtime.errors import (
    ActorCrashed,
    ActorError,
    ActorUnavailable,
    AskTimeout,
    MailboxClosed,
    MailboxFull,
    MessageDropped,
    StallTimeout,
    StartTimeout,
    SupervisorGaveUp,
    UnhandledMessage,
)
from actors.runtime.events import (
    Crashed,
    DeadLetter,
    Event,
    EventStream,
    GaveUp,
    RestartScheduled,
    Started,
    Stopped,
)
from actors.runtime.mailbox import Intercepted, MailboxSpec, Overflow
from actors.runtime.ref import DEFAULT_ASK_TIMEOUT, Ref
from actors.runtime.spec import (
    ChildSpec,
    GiveUp,
    Restart,
    Strategy,
    supervisor_spec,
    with_children,
)
from actors.runtime.stats import ActorStats
from actors.runtime.supervisor import StartChild, StopChild, Supervisor, WhichChildren
from actors.runtime.system import System, open_system

__all__ = [
    "DEFAULT_ASK_TIMEOUT",
    "Actor",
    "ActorCrashed",
    "ActorError",
    "ActorState",
    "ActorStats",
    "ActorUnavailable",
    "AskTimeout",
    "Backoff",
    "ChildSpec",
    "Context",
    "Crashed",
    "DeadLetter",
    "Event",
    "EventStream",
    "GaveUp",
    "GiveUp",
    "Intercepted",
    "MailboxClosed",
    "MailboxFull",
    "MailboxSpec",
    "MessageDropped",
    "Overflow",
    "Ref",
    "Refuse",
    "Restart",
    "RestartScheduled",
    "StallTimeout",
    "StartChild",
    "StartTimeout",
    "Started",
    "StopChild",
    "Stopped",
    "Strategy",
    "Supervisor",
    "SupervisorGaveUp",
    "System",
    "UnhandledMessage",
    "WhichChildren",
    "open_system",
    "supervisor_spec",
    "with_children",
]
