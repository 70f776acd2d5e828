"""A twin of a measured gateway: the built-in emulator fitted to a run's records.

``auraon-bench emulator fit RUN --out twin.toml`` fits per served model its TTFT, prefill, gaps,
output lengths, prices and error rate, per auto mode its routing mix and fallbacks, and from a
limits run its plan (:mod:`~auraon_bench.twin.fit`, estimators in
:mod:`~auraon_bench.twin.estimate`), and writes a catalog overlay
(:mod:`~auraon_bench.twin.overlay`) that ``--catalog`` takes wherever the embedded emulator
runs. ``--validate`` re-runs the measured workload on the twin and compares the two
(:mod:`~auraon_bench.twin.validate`).
"""
