"""The routing report rebuilds from its JSON (the generic typed reader), and a version-1
routing section (one curve over every auto mode) reads in the current layout."""

from __future__ import annotations

import json

from auraon_bench.analysis.quality import PAIRED_METHOD
from auraon_bench.analysis.routing import (
    SHUFFLED_METHOD,
    RoutingReport,
    evaluate_routing,
    routing_v1_to_v2,
)
from auraon_bench.results.typed import from_dict
from tests.conftest import FIXTURES
from tests.test_routing_curves import sweep_table


def test_routing_report_round_trips_through_its_json() -> None:
    rep = evaluate_routing(
        sweep_table(),
        ["auto", "auto:fast", "auto:t1", "auto:t2", "auto:t3"],
        ["weak", "strong"],
        curves={"threshold": ["auto:t1", "auto:t2", "auto:t3"]},
        n_resamples=50,
        n_permutations=50,
    )
    back = from_dict(RoutingReport, json.loads(json.dumps(rep.to_dict(), allow_nan=False)))
    assert back == rep
    assert back.curves[0].points[0].arm == "auto:t1" and back.frontier.vertices[0].model == "weak"
    assert back.arms["auto"].versus_reference.method == PAIRED_METHOD
    assert back.arms["auto"].shuffled.method == SHUFFLED_METHOD


def test_a_version_1_routing_section_reads_without_its_mixed_curve() -> None:
    old = json.loads((FIXTURES / "runs" / "eval" / "evaluation.json").read_text())["routing"]
    assert {"curve", "apgr", "cpt50", "aiq_auto"} <= set(old)  # the version-1 layout
    rep = from_dict(RoutingReport, routing_v1_to_v2(old))
    assert rep.curves == ()
    assert [p.arm for p in rep.single_points] == list(old["arms"])
    for point in rep.single_points:
        arm = old["arms"][point.arm]
        assert (point.cost, point.quality, point.pgr) == (arm["cost"], arm["quality"], arm["pgr"])
    assert rep.aiq_cost_range == (old["frontier"]["c_min"], old["frontier"]["c_max"])
    assert rep.aiq_fixed == old["aiq_fixed"]
    versus = next(iter(rep.arms.values())).versus_fixed.versus
    assert all(
        v.method.startswith("version 1") and v.discordant_prompts is None for v in versus.values()
    )
    assert all(a.shuffled.method.startswith("version 1") for a in rep.arms.values())
    assert "mixed unrelated routers" in rep.notes[-1]
    assert "curve" not in routing_v1_to_v2(old) and "apgr" in old  # the input is left as it was
