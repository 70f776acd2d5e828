"""The markers the fast loop relies on are where they must be (tests/conftest.py gives them)."""

from __future__ import annotations

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
    """Its module fixture runs six experiments (about 110 s on 2 cores)."""
    import tests.test_regress as regress

    assert regress.pytestmark.name == "slow"
    assert request.node.get_closest_marker("slow") is None  # this one stays in it
