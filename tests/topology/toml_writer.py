"""A small TOML writer for tests that generate topology files (nan and inf included)."""

from __future__ import annotations

import json
import math
from typing import Any


class Deep:
    """A table nested ``depth`` levels deep, written without recursion: ``{x = {x = ... 1}}``."""

    def __init__(self, depth: int) -> None:
        self.depth = depth


def dumps(data: dict[str, Any]) -> str:
    """``data`` as TOML: every table inline, so any nesting round-trips."""
    return "\n".join(f"{_key(k)} = {_value(v)}" for k, v in data.items()) + "\n"


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, Deep):
        return "{x = " * value.depth + "1" + "}" * value.depth
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")
