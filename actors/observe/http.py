"""Serving a small ASGI app (starlette) on 127.0.0.1 with hypercorn's trio worker.

The metrics and control endpoints run inside the desk's trio loop, so their handlers can
``ask`` actors directly.

>>> # port = await nursery.start(serve_local, app, 0)
"""

from __future__ import annotations

import logging
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

log = logging.getLogger("actors.observe")


async def serve_local(
    app: Any, port: int = 0, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` (0: a free one) until cancelled; reports the port.

    Raises ``OSError`` when the port is taken.
    """
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0

    class _Started:
        def started(self, binds: list[str]) -> None:
            task_status.started(int(binds[0].rsplit(":", 1)[1]))

    try:
        await serve(app, config, task_status=_Started())  # type: ignore[arg-type]
    except BaseExceptionGroup as group:
        # hypercorn binds inside a nursery: a taken port arrives wrapped in a group.
        taken, rest = group.split(OSError)
        if taken is None or rest is not None:
            raise
        while isinstance(taken, BaseExceptionGroup):
            taken = taken.exceptions[0]
        raise taken from None
