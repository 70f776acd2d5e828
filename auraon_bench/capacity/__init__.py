"""Capacity: the highest arrival rate within SLOs, per arm (``auraon-bench capacity``)."""
