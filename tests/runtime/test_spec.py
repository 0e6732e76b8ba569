"""Child and supervisor specs refuse what cannot work, naming the field."""

from __future__ import annotations

import pytest

from actors.runtime import Actor, ChildSpec, GiveUp, Strategy, System, supervisor_spec


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": ""}, "child name must be non-empty"),
        ({"name": "a/b"}, "contain no '/'"),
        ({"shutdown_grace": -1}, "child 'x': shutdown_grace must be >= 0"),
        ({"start_timeout": 0}, "child 'x': start_timeout must be > 0 or None"),
        ({"stall_timeout": -2}, "child 'x': stall_timeout must be > 0 or None"),
        ({"fairness": 0}, "child 'x': fairness must be >= 1"),
        ({"factory": 42}, "child 'x': factory must be callable"),
    ],
)
def test_child_spec_validation(options: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"name": "x", "factory": Actor, **options}
    with pytest.raises(ValueError, match=message):
        ChildSpec(**fields)  # type: ignore[arg-type]


def test_duplicate_child_names_are_refused() -> None:
    with pytest.raises(ValueError, match="supervisor 'feeds': two children are named 'a'"):
        supervisor_spec("feeds", [ChildSpec("a", Actor), ChildSpec("a", Actor)])
    with pytest.raises(ValueError, match="supervisor '/': two children are named 'a'"):
        System([ChildSpec("a", Actor), ChildSpec("a", Actor)])


def test_restart_intensity_must_make_sense() -> None:
    with pytest.raises(ValueError, match="max_restarts must be an integer >= 0"):
        supervisor_spec("s", [], max_restarts=-1)
    with pytest.raises(ValueError, match="max_restarts must be an integer >= 0"):
        supervisor_spec("s", [], max_restarts=True)
    for within in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="within must be a finite number > 0 seconds"):
            System([], within=within)
    with pytest.raises(ValueError, match="give_up stop_child needs the one_for_one strategy"):
        supervisor_spec("s", [], strategy=Strategy.ONE_FOR_ALL, give_up=GiveUp.STOP_CHILD)
