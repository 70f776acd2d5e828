"""The markers the fast loop relies on are where they must be (tests/conftest.py gives them)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_the_collected_tests_carry_the_markers_their_use_implies(
    request: pytest.FixtureRequest,
) -> None:
    items = request.session.items
    assert items
    for item in items:
        code = getattr(getattr(item, "function", None), "__code__", None)
        names = set(code.co_names) if code is not None else set()
        if "check_page" in names:
            assert item.get_closest_marker("browser"), item.nodeid
        if item.get_closest_marker("litellm"):
            assert item.get_closest_marker("slow"), item.nodeid  # never in the fast loop
        if {"emulator", "litellm_proxy"} & set(item.fixturenames):
            assert item.get_closest_marker("integration"), item.nodeid


def test_the_regress_module_is_out_of_the_fast_loop(request: pytest.FixtureRequest) -> None:
    """Its module fixture runs six experiments (about 70 s on 2 cores) and compares their
    timing: out of the fast loop, and alone in .ci/run."""
    import tests.test_regress as regress

    assert {mark.name for mark in regress.pytestmark} == {"slow", "quiet"}
    assert request.node.get_closest_marker("slow") is None  # this one stays in it


def test_the_lanes_of_ci_run_every_test_exactly_once(request: pytest.FixtureRequest) -> None:
    """.ci/run splits the suite by marker expressions into lanes: none may drop or repeat a
    test (checked on this session's tests: all of them in .ci/run, the fast ones in the loop)."""
    import re

    from _pytest.mark.expression import Expression

    script = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    lanes = [Expression.compile(e) for e in re.findall(r'pytest\[@\]}" -m "([^"]+)"', script)]
    assert len(lanes) == 4
    for item in request.session.items:
        names = {mark.name for mark in item.iter_markers()}
        hits = sum(lane.evaluate(lambda name, marks=names, **_: name in marks) for lane in lanes)
        assert hits == 1, (item.nodeid, sorted(names))
