"""Regenerate the example reports and their screenshots in this folder.

    python results/examples/make_examples.py [NAME ...]    (default: every one)

Runs, on the built-in emulator (every figure SIMULATED):

* ``quickstart/``: the README's quickstart experiment, as shipped;
* ``edge-case/``: a short non-streamed load in which one arm names a model the gateway does not
  serve (every attempt of it fails) beside one that answers: what a report looks like when a
  panel has nothing to show and the headline has to say "not a result";
* ``chat-sessions/``: the multi-turn experiment, as shipped: prompt caching, model switches and
  their lost cache discount, by turn, for auto, auto with affinity and gpt-4o.

Each folder keeps the report's ``report.md``, its charts (PNG) and ``screenshot.png``, the top
of ``index.html`` as headless Chromium renders it (the browser the report tests use). The run
directories themselves are written to a temporary folder and dropped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))  # tests.browser: the headless-Chromium driver of the test suite

from tests.browser import check_page  # noqa: E402

CLI = [sys.executable, "-m", "auraon_bench"]


def _keep(run_dir: Path, name: str) -> None:
    report = run_dir / "report"
    out = HERE / name
    shutil.rmtree(out, ignore_errors=True)
    (out / "charts").mkdir(parents=True)
    shutil.copy(report / "report.md", out / "report.md")
    for chart in (report / "charts").glob("*.png"):
        shutil.copy(chart, out / "charts" / chart.name)
    page = check_page(report / "index.html", screenshot=out / "screenshot.png")
    if page.console_errors or not all(loaded for _, loaded, _ in page.images):
        raise SystemExit(f"{name}: the page did not render cleanly: {page}")
    print(f"{name}: {out}")


def main() -> None:
    wanted = set(sys.argv[1:]) or {"quickstart", "edge-case", "chat-sessions"}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("quickstart", "chat-sessions"):
            if name in wanted:
                run_dir = Path(tmp) / name
                experiment = ROOT / "experiments" / f"{name}.toml"
                subprocess.run([*CLI, "run", str(experiment), "--out", str(run_dir)], check=True)
                _keep(run_dir, name)
        if "edge-case" in wanted:
            edge = Path(tmp) / "edge"
            # Exit code 1 is expected: an arm that fails on every attempt fails the run.
            subprocess.run(
                [*CLI, "load", "--model", "gpt-4o-mini", "--model", "no-such-model",
                 "--allow-unlisted-models", "--no-stream", "--requests", "40",
                 "--concurrency", "4", "--out", str(edge)],
                check=False,
            )  # fmt: skip
            subprocess.run([*CLI, "report", str(edge), "--out", str(edge / "report")], check=True)
            _keep(edge, "edge-case")


if __name__ == "__main__":
    main()
