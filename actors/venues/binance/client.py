"""ccxt constructor options that point ccxt's own ``binance`` class at a Binance-protocol venue."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_PLAIN = {"https": "http", "wss": "ws", "http": "http", "ws": "ws"}
_SECURE = {"https": "https", "wss": "wss", "http": "https", "ws": "wss"}


def _rehost(url: str, netloc: str, tls: bool) -> str:
    parts = urlsplit(url)
    scheme = (_SECURE if tls else _PLAIN).get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def _rehost_tree(node: Any, netloc: str, tls: bool) -> Any:
    if isinstance(node, str):
        return _rehost(node, netloc, tls) if "://" in node else node
    if isinstance(node, dict):
        return {k: _rehost_tree(v, netloc, tls) for k, v in node.items()}
    return node


@cache
def _binance_api_urls() -> dict[str, Any]:
    import ccxt.pro

    # the constructor opens no session or socket; ccxt creates those lazily
    return copy.deepcopy(ccxt.pro.binance().urls["api"])


def ccxt_config(
    netloc: str,
    api_key: str | None = None,
    secret: str | None = None,
    *,
    tls: bool = False,
) -> dict[str, Any]:
    """Options for ``ccxt.pro.binance(...)``/``ccxt.binance(...)`` talking to the venue at
    ``netloc`` (``127.0.0.1:PORT``).

    Every URL of ccxt's ``urls['api']`` keeps its path and gets the venue's host and port
    (plain http/ws, or https/wss with ``tls``); options keep ccxt on spot endpoints the venue
    serves.
    """
    config: dict[str, Any] = {
        "urls": {"api": _rehost_tree(_binance_api_urls(), netloc, tls)},
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
