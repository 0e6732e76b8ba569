"""ccxt constructor options that point ccxt's own ``binance`` class at an embedded venue."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_SCHEMES = {"https": "http", "wss": "ws", "http": "http", "ws": "ws"}


def _rehost(url: str, netloc: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(
        (_SCHEMES.get(parts.scheme, parts.scheme), netloc, parts.path, parts.query, "")
    )


def _rehost_tree(node: Any, netloc: str) -> Any:
    if isinstance(node, str):
        return _rehost(node, netloc) if "://" in node else node
    if isinstance(node, dict):
        return {k: _rehost_tree(v, netloc) for k, v in node.items()}
    return node


@cache
def _binance_api_urls() -> dict[str, Any]:
    import ccxt.pro

    # the constructor opens no session or socket; ccxt creates those lazily
    return copy.deepcopy(ccxt.pro.binance().urls["api"])


def ccxt_config(
    venue_url_or_port: str | int, api_key: str | None = None, secret: str | None = None
) -> dict[str, Any]:
    """Options for ``ccxt.pro.binance(...)``/``ccxt.binance(...)`` talking to the venue.

    Every URL of ccxt's ``urls['api']`` keeps its path and gets the venue's host and port
    (and plain http/ws); options keep ccxt on spot endpoints the venue serves.

    Example::

        ex = ccxt.pro.binance(ccxt_config(venue.port, "sim-api-key", "sim-secret"))
    """
    if isinstance(venue_url_or_port, int):
        netloc = f"127.0.0.1:{venue_url_or_port}"
    else:
        parts = urlsplit(
            venue_url_or_port if "://" in venue_url_or_port else f"http://{venue_url_or_port}"
        )
        netloc = parts.netloc
    host = netloc.rsplit(":", 1)[0].strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the embedded venue is loopback only, not {host!r}")
    config: dict[str, Any] = {
        "urls": {"api": _rehost_tree(_binance_api_urls(), netloc)},
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
            "adjustForTimeDifference": False,
        },
        "enableRateLimit": True,
    }
    if api_key is not None:
        config["apiKey"] = api_key
    if secret is not None:
        config["secret"] = secret
    return config
