"""Log set-up: readable lines for a terminal, JSON lines for a log pipeline, an optional file.

Fields passed with ``extra=`` (``log.info("filled", extra={"symbol": "BTC/USDT"})``) become
keys of the JSON object, so a pipeline filters on them instead of parsing prose; text lines
show only the message. The file handler rotates (stdlib ``RotatingFileHandler``).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def plain(value: Any) -> Any:
    """``value`` as JSON-able data: Decimals as strings, tuples as lists, others by ``str``."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ``extra=`` fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = plain(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def formatter(fmt: str) -> logging.Formatter:
    """The formatter of ``fmt`` (``text`` or ``json``)."""
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT, "%H:%M:%S")


def configure_logging(
    level: str = "INFO",
    fmt: str = "text",
    *,
    file: str | Path | None = None,
    max_bytes: int = 20_000_000,
    backups: int = 5,
) -> None:
    """Send logs to stderr as text or JSON lines (``fmt``), at ``level``; also to ``file``.

    ``file`` rotates at ``max_bytes`` keeping ``backups`` old files (``app.log.1`` ...).
    Raises ``ValueError`` for an unknown level and ``OSError`` for a file that cannot be opened.

    >>> # configure_logging("INFO", "json", file="var/actors.log")
    """
    if level.upper() not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (one of {', '.join(LEVELS)})")
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handlers = [handler]
    if file is not None:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        rotating.setFormatter(formatter(fmt))
        handlers.append(rotating)
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, logging.handlers.RotatingFileHandler):
            old.close()  # ours, from an earlier call
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    # ccxt and the web stack are chatty at INFO; their warnings still come through.
    for noisy in ("hypercorn", "ccxt", "asyncio", "trio_asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def is_console(handler: logging.Handler) -> bool:
    """True for the stderr handler ``configure_logging`` installs (not the log file)."""
    return type(handler) is logging.StreamHandler and handler.stream is sys.stderr
