"""``auraon-bench emulator fit RUN [RUN...] --out twin.toml [--validate]``: a twin of a gateway;
``auraon-bench emulator validate RUN [RUN...] --catalog twin.toml``: an existing twin against runs
(last week's twin against today's run: one that no longer validates says the gateway changed)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from auraon_bench.cli.options import FiniteFloatRange

if TYPE_CHECKING:
    from auraon_bench.twin.fit import TwinFit
    from auraon_bench.twin.validate import TwinValidation


def validation_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--validate-out`` and ``--time-scale``, shared by ``fit --validate`` and ``validate``."""
    command = click.option(
        "--time-scale",
        type=FiniteFloatRange(min=0, min_open=True),
        default=None,
        help="The twin's time scale when validating (default: each run's own; 1 for a "
        "gateway). Below about 0.1, client overhead shows in the twin's times.",
    )(command)
    return click.option(
        "--validate-out",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Directory of the validation (default: NAME-validation beside the twin); "
        "`auraon-bench report` on it draws real and twin overlaid.",
    )(command)


@click.command(name="fit")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Catalog overlay to write (TOML); the fit, every figure with its n, goes beside it "
    "as NAME.fit.json.",
)
@click.option("--force", is_flag=True, help="Replace --out (and its .fit.json) if they exist.")
@click.option(
    "--validate",
    is_flag=True,
    help="Then re-run each RUN's workload on the twin and compare real and twin per arm "
    "(TTFT, gaps, latency, cost, errors, routing mix).",
)
@validation_options
def fit_command(
    runs: tuple[Path, ...],
    out: Path,
    force: bool,
    validate: bool,
    validate_out: Path | None,
    time_scale: float | None,
) -> None:
    """Fit the emulator to measured runs (load, eval, limits, experiments): a twin to rehearse
    on offline with --catalog OUT (its runs say SIMULATED (twin of RUN-ID)). With --validate,
    exit 1 when the twin is not good.

    Per served model: TTFT, prefill, inter-token gaps, output length, prices and error rate;
    per auto mode: routing mix by category and prompt length, fallback rate; from a limits
    run: limiter kind, limits and Retry-After (rehearse with --plan twin). What the runs do not
    show keeps the built-in value, and the output lists it.
    """
    from auraon_bench.twin.fit import fit_runs
    from auraon_bench.twin.overlay import write_twin

    fit = fit_runs(runs)
    catalog, side = write_twin(fit, out, replace=force)
    print_fit(fit)
    click.echo(f"twin: {catalog} (fit: {side})")
    if not validate:
        click.echo(f"rehearse with: --catalog {catalog}")
        return
    run_validation(runs, catalog, validate_out or out.with_name(out.stem + "-validation"),
                   time_scale)  # fmt: skip


def run_validation(
    runs: tuple[Path, ...], catalog: Path, directory: Path, time_scale: float | None
) -> None:
    from auraon_bench.cli.render import err
    from auraon_bench.twin.validate import validate_twin

    def announce(run_id: str, argv: list[str]) -> None:
        err.print(f"re-running {run_id} on the twin: auraon-bench {' '.join(argv)}")

    validation = validate_twin(runs, catalog, directory, time_scale, on_rerun=announce)
    print_validation(validation)
    click.echo(f"validation: {directory} (auraon-bench report {directory})")
    if not validation.good:
        sys.exit(1)  # a nightly job's signal: the twin no longer reproduces the gateway


@click.command(name="validate")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--catalog",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="The twin (a catalog overlay from `emulator fit`).",
)
@validation_options
def validate_command(
    runs: tuple[Path, ...], catalog: Path, validate_out: Path | None, time_scale: float | None
) -> None:
    """Re-run measured runs' workloads on an existing twin and compare real and twin per arm.

    The twin need not come from these runs: validating last week's twin against today's run
    says whether the gateway still behaves as it did (a twin that no longer validates: it
    changed; exit 1). `auraon-bench report` on the validation directory draws both overlaid.
    """
    directory = validate_out or catalog.with_name(catalog.stem + "-validation")
    run_validation(runs, catalog, directory, time_scale)


def print_fit(fit: TwinFit) -> None:
    from auraon_bench.emulator.router import NO_CATEGORY

    click.echo(f"fitted a twin of {fit.twin_of} from {len(fit.runs)} run part(s):")
    for model in fit.models:
        bits = [f"n={model.n_ok:,} ok"]
        if model.ttft is not None:
            how = "lognormal" if model.ttft.good else "empirical"
            bits.append(
                f"TTFT {how} median {model.ttft.median:.3g} s sigma {model.ttft.sigma:.2f} "
                f"(KS D {model.ttft.ks:.3f})"
            )
        if model.gaps is not None:
            bits.append(f"gap median {model.gaps.median * 1e3:.3g} ms (KS D {model.gaps.ks:.3f})")
        if model.prices is not None:
            bits.append(
                f"${model.prices.input_per_mtok:.4g}/${model.prices.output_per_mtok:.4g} per 1M"
            )
        click.echo(f"  {model.model}: " + "; ".join(bits))
        for kept in model.kept:
            click.echo(f"    kept built-in: {kept}")
        for warning in model.warnings:
            click.echo(f"    WARNING: {warning}")
    for mode in fit.modes:
        mixes = {m.key: m for m in mode.mixes}
        shown = ["*", NO_CATEGORY] if NO_CATEGORY in mixes else ["*"]
        parts = [
            ("mix " if key == "*" else "prompts of no dataset ")
            + ", ".join(f"{m} {s:.0%}" for m, s in mixes[key].shares.items())
            + f" (n={mixes[key].n:,})"
            for key in shown
        ]
        click.echo(
            f"  {mode.mode}: {'; '.join(parts)}; {len(mode.mixes) - len(shown)} finer keys; "
            f"fallbacks {mode.fallback_rate:.1%} of {mode.n:,} answers"
        )
    if fit.limits is not None:
        lim = fit.limits
        rpm = "-" if lim.requests_per_min is None else f"{lim.requests_per_min:,.0f}"
        tpm = "-" if lim.tokens_per_min is None else f"{lim.tokens_per_min:,.0f}"
        click.echo(
            f"  plan {lim.source_plan or '?'} -> twin: {rpm} requests/min, {tpm} tokens/min, "
            f"{lim.limiter or 'limiter not identified'}, Retry-After x{lim.retry_after_factor:.2f}"
        )
    for note in fit.notes:
        click.echo(f"  note: {note}")


def print_validation(validation: TwinValidation) -> None:
    click.echo(
        f"real versus twin (KS D per metric, within max(1 ms, 2% of the real median); a good "
        f"twin keeps every D <= {validation.ks_good:g}, or the 5% critical value on small "
        "samples):"
    )
    for arm in validation.arms:
        cells = [
            f"{m.metric} p50 {m.quantile('real', 0.5) * 1e3:.1f}/"
            f"{m.quantile('twin', 0.5) * 1e3:.1f} ms D {m.judged:.3f} (plain {m.ks:.3f})"
            for m in arm.metrics
        ]
        mix = "" if arm.mix_distance is None else f"; mix distance {arm.mix_distance:.3f}"
        mix += f"; errors {arm.errors_real:.1%}/{arm.errors_twin:.1%}"
        verdict = "good" if arm.good else "NOT GOOD"
        click.echo(
            f"  {arm.part} {arm.arm} (n={arm.n_real:,}/{arm.n_twin:,}): {'; '.join(cells)}{mix}"
            f" -> {verdict}"
        )
    for lim in validation.limits:
        rates = "/".join(
            "-" if r is None else f"{r:,.1f}" for r in (lim.per_min_real, lim.per_min_twin)
        )
        click.echo(
            f"  {lim.dimension} limit: {lim.kind_real}/{lim.kind_twin}, {rates} per minute "
            f"-> {'good' if lim.good else 'NOT GOOD'}"
        )
    for missing in validation.missing:
        click.echo(f"  {missing}: measured, but absent from the twin's run -> NOT GOOD")
    for rerun in validation.reruns:
        if not rerun.ran:
            click.echo(f"  the re-run of {rerun.source_run} {rerun.status} -> NOT GOOD")
    for note in validation.notes:
        click.echo(f"  note: {note}")
    click.echo(f"twin {'GOOD' if validation.good else 'NOT GOOD'}: {validation.twin_of}")
