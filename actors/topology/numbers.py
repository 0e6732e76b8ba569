"""Every number of a converted config is finite and in range, whatever section it is in.

msgspec checks the bounds a field declares (``Annotated[float, Meta(gt=0)]``) while it
converts, but it lets ``inf`` through a lower bound, accepts ``Decimal("NaN")``, and knows no
bounds for a field that declares none. :func:`number_problems` walks a converted struct with
msgspec's own type information, so a section added tomorrow is covered without being named
here:

* every float and Decimal is finite (NaN and inf are bad input everywhere);
* a number whose field declares bounds is held to them (again, after conversion, so a value
  that reached the struct another way is caught too);
* a number whose field declares none gets the default range ``[0, DEFAULT_MAX]``: durations,
  rates, sizes, counts and balances are never negative, and nothing sensible is larger.

>>> import msgspec
>>> class S(msgspec.Struct):
...     grace: float = 5.0
>>> number_problems(S(grace=float("nan")), "supervision")
['supervision.grace: expected a finite number >= 0, got nan']
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
from msgspec import inspect as mi

DEFAULT_MAX = 1e12
"""Upper bound of a number whose field declares none (ids, sizes and seconds stay far below)."""

_NUMBER_TYPES = (mi.FloatType, mi.IntType, mi.DecimalType)


def number_problems(value: Any, path: str = "", *, default_range: bool = True) -> list[str]:
    """``key: what is wrong`` for every number in ``value`` (a converted msgspec struct).

    ``default_range=False`` checks only finiteness and declared bounds (strategy parameters
    may be negative when their author says nothing).
    """
    problems: list[str] = []
    for where, number, info in _numbers(value, mi.type_info(type(value)), path):
        problem = _check(number, info, default_range)
        if problem:
            problems.append(f"{where or '(top level)'}: {problem}")
    return problems


def _numbers(value: Any, info: mi.Type, path: str) -> Iterator[tuple[str, Any, mi.Type]]:
    # Iterative, so a deep value cannot exhaust the interpreter's stack.
    stack: list[tuple[Any, mi.Type, str]] = [(value, info, path)]
    while stack:
        value, info, path = stack.pop()
        if isinstance(info, mi.UnionType):
            info = _member(value, info)
        if isinstance(info, _NUMBER_TYPES):
            if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                yield path, value, info
        elif isinstance(info, mi.StructType) and isinstance(value, msgspec.Struct):
            for field in reversed(info.fields):
                child = getattr(value, field.name)
                stack.append((child, field.type, _join(path, field.encode_name)))
        elif isinstance(info, mi.DictType) and isinstance(value, dict):
            for key in reversed(list(value)):
                stack.append((value[key], info.value_type, _join(path, _key(key))))
        elif isinstance(info, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
            for i, item in reversed(list(enumerate(value))):
                stack.append((item, info.item_type, f"{path}[{i}]"))
        elif isinstance(info, mi.TupleType):
            pairs = list(enumerate(zip(value, info.item_types, strict=False)))
            for i, (item, item_info) in reversed(pairs):
                stack.append((item, item_info, f"{path}[{i}]"))


def _member(value: Any, union: mi.UnionType) -> mi.Type:
    """The member type of ``union`` that ``value`` was converted to."""
    for member in union.types:
        if isinstance(member, mi.StructType) and type(value) is member.cls:
            return member
        if isinstance(member, mi.FloatType) and type(value) is float:
            return member
        if isinstance(member, mi.IntType) and type(value) is int:
            return member
        if isinstance(member, mi.DecimalType) and isinstance(value, Decimal):
            return member
        if isinstance(member, mi.DictType) and isinstance(value, dict):
            return member
        if isinstance(member, (mi.ListType, mi.VarTupleType)) and isinstance(value, (list, tuple)):
            return member
    return mi.AnyType()


def _check(number: float | int | Decimal, info: mi.Type, default_range: bool) -> str | None:
    finite = number.is_finite() if isinstance(number, Decimal) else math.isfinite(number)
    bounds = [
        (op, getattr(info, name))
        for name, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        if getattr(info, name, None) is not None
    ]
    if not bounds and default_range:
        bounds = [(">=", 0), ("<=", DEFAULT_MAX)]
    ok = finite and all(_holds(number, op, bound) for op, bound in bounds)
    if ok:
        return None
    lower = [f"{op} {_show(b)}" for op, b in bounds if op.startswith(">")]
    upper = [f"{op} {_show(b)}" for op, b in bounds if op.startswith("<")]
    kind = "an integer" if isinstance(info, mi.IntType) else "a finite number"
    wanted = " and ".join([*lower, *upper])
    return f"expected {kind}{' ' + wanted if wanted else ''}, got {_show(number)}"


def _holds(number: float | int | Decimal, op: str, bound: float) -> bool:
    value = float(number)
    if op == ">=":
        return value >= bound
    if op == ">":
        return value > bound
    if op == "<=":
        return value <= bound
    return value < bound


def _show(number: Any) -> str:
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    if isinstance(number, float) and math.isnan(number):
        return "nan"
    if isinstance(number, Decimal) and number.is_nan():
        return "nan"
    return str(number)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _key(key: Any) -> str:
    text = str(key)
    return text if text.replace("_", "").replace("-", "").isalnum() else f'"{text}"'
