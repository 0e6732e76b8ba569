"""ccxt constructor options that point ccxt's own ``okx`` class at an OKX-protocol venue.

ccxt builds OKX's REST URLs from ``urls['api']['rest']`` (``https://{hostname}``, with the
``hostname`` option) and its websocket URLs from ``urls['api']['ws']`` plus ``/public``,
``/private`` or ``/business``; both are pointed at the venue, nothing else changes.
"""

from __future__ import annotations

from typing import Any


def ccxt_config(
    netloc: str,
    api_key: str | None = None,
    secret: str | None = None,
    password: str | None = None,
    *,
    tls: bool = False,
) -> dict[str, Any]:
    """Options for ``ccxt.pro.okx(...)``/``ccxt.okx(...)`` talking to the venue at ``netloc``.

    ``password`` is OKX's API passphrase.
    """
    http, ws = ("https", "wss") if tls else ("http", "ws")
    config: dict[str, Any] = {
        "hostname": netloc,
        "urls": {"api": {"rest": f"{http}://{netloc}", "ws": f"{ws}://{netloc}/ws/v5"}},
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "sandboxMode": False,
        },
        "enableRateLimit": True,
    }
    for key, value in (("apiKey", api_key), ("secret", secret), ("password", password)):
        if value is not None:
            config[key] = value
    return config
