"""The routing lab as a library, for notebooks::

    from auraon_bench import routing

    table = routing.read_table("outcomes.csv")          # long, RouterBench, RouteLLM or a run
    report = routing.analyze(table, simulate=["random", "optimal", "threshold:difficulty"])
    report.analysis.oracle.accuracy, [c.apgr for c in report.simulated]

See :mod:`auraon_bench.routing.tables` for the layouts, :mod:`.routers` for the simulated
routers and :mod:`.lab` for the method.
"""

from auraon_bench.routing.lab import LabReport, analyze, read_lab, reprice, write_lab
from auraon_bench.routing.tables import OutcomeTable, join_tables, read_table

__all__ = [
    "LabReport",
    "OutcomeTable",
    "analyze",
    "join_tables",
    "read_lab",
    "read_table",
    "reprice",
    "write_lab",
]
