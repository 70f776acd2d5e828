"""``auraon-bench emulator serve|demo``: run the built-in Auraon gateway emulator."""

from __future__ import annotations

import click
import orjson

from auraon_bench.catalog import FAULT_RATES
from auraon_bench.catalog.schema import LIMITER_KINDS
from auraon_bench.cli.options import FiniteFloatRange

FAULT_FLAG_NAMES = sorted(name.removesuffix("_rate") for name in FAULT_RATES)


def parse_fault(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    faults: dict[str, float] = {}
    for value in values:
        name, sep, rate = value.partition("=")
        if not sep or name not in FAULT_FLAG_NAMES:
            raise click.BadParameter(
                f"{value!r}: expected NAME=RATE with NAME one of {', '.join(FAULT_FLAG_NAMES)}",
                ctx,
                param,
            )
        try:
            number = float(rate)
        except ValueError:
            number = -1.0
        if not 0 <= number <= 1:
            raise click.BadParameter(f"{value!r}: RATE must be a number in [0, 1]", ctx, param)
        faults[f"{name}_rate"] = number
    return faults


@click.group()
def emulator() -> None:
    """The built-in Auraon emulator: a local, simulated gateway (no account, no network)."""


@emulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port; 0 picks a free one.",
)
@click.option(
    "--catalog",
    type=click.Path(dir_okay=False),
    default=None,
    help='Catalog TOML (full, or an overlay with [meta] extends = "builtin").',
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seed of every simulated draw.",
)
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=FiniteFloatRange(min=0),
    help="Multiply every simulated delay and time window (0.01 = 100x faster; 0 = no "
    "delays and no rate limits).",
)
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Prompt dataset (JSONL) whose items are answered with per-model skill. Repeatable.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=parse_fault,
    metavar="NAME=RATE",
    help=f"Fault probability per request for every model ({', '.join(FAULT_FLAG_NAMES)}). "
    "Repeatable.",
)
@click.option(
    "--metadata",
    type=click.Choice(["blockrun", "auraon", "both"]),
    default=None,
    help="Name of the routing metadata object (default: the catalog's, blockrun).",
)
@click.option(
    "--max-body-mb",
    default=16,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Largest request body accepted (413 above).",
)
@click.option(
    "--limiter",
    type=click.Choice(LIMITER_KINDS),
    default=None,
    help="How every plan's limits are enforced (default: each plan's catalog 'limiter', "
    "token_bucket unless set).",
)
@click.option("--allow-remote", is_flag=True, help="Allow binding a non-loopback address.")
def serve(
    host: str,
    port: int,
    catalog: str | None,
    seed: int,
    time_scale: float,
    datasets: tuple[str, ...],
    faults: dict,
    metadata: str | None,
    max_body_mb: int,
    limiter: str | None,
    allow_remote: bool,
) -> None:
    """Serve the emulator until interrupted. Prints 'READY <url>' once it listens."""
    from auraon_bench.catalog import load_catalog
    from auraon_bench.emulator.server import EmulatorConfig, build_gateway, run

    overrides: dict = {}
    if limiter:
        # Every plan of the catalog in use, so an overlay's own plans are covered too.
        plans = load_catalog(catalog).plans
        overrides["plans"] = {name: {"limiter": limiter} for name in plans}
    if faults:
        overrides["faults"] = faults
    if metadata:
        overrides["meta"] = {
            "metadata_keys": ["blockrun", "auraon"] if metadata == "both" else [metadata]
        }
    config = EmulatorConfig(
        host=host,
        port=port,
        catalog=catalog,
        seed=seed,
        time_scale=time_scale,
        datasets=datasets,
        max_body=max_body_mb * 1024 * 1024,
        allow_remote=allow_remote,
        overrides=overrides,
    )
    # Load everything before binding, so a bad catalog or dataset fails with one line, not a trace.
    build_gateway(config)
    run(config)


@emulator.command()
@click.option("--model", default="auto", show_default=True, help="Model to ask.")
@click.option(
    "--prompt", default="Explain in two sentences why rate limits exist.", show_default=True
)
@click.option("--time-scale", default=1.0, show_default=True, type=FiniteFloatRange(min=0))
def demo(model: str, prompt: str, time_scale: float) -> None:
    """Start the emulator, send one streaming request, print what came back, stop it."""
    import httpx

    from auraon_bench.emulator.launcher import EmulatorProcess

    with EmulatorProcess(time_scale=time_scale) as emu:
        click.echo(f"emulator (simulated) at {emu.base_url}")
        body = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 120,
        }
        headers = {"Authorization": f"Bearer {emu.demo_key('pro')}"}
        text, meta, usage = [], None, None
        with httpx.stream(
            "POST", f"{emu.base_url}/chat/completions", json=body, headers=headers, timeout=60
        ) as response:
            if response.status_code != 200:
                raise click.ClickException(f"HTTP {response.status_code}: {response.read()!r}")
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = orjson.loads(line[6:])
                for choice in chunk.get("choices", []):
                    text.append(choice.get("delta", {}).get("content") or "")
                usage = chunk.get("usage") or usage
                meta = chunk.get("blockrun") or meta
        click.echo(f"answer: {''.join(text).strip()}")
        click.echo(f"usage: {usage}")
        click.echo(f"blockrun: {meta}")
        click.echo("(simulated: every figure comes from the built-in emulator)")


def _register_fit() -> None:
    from auraon_bench.cli.emulator_fit import fit_command, validate_command

    emulator.add_command(fit_command)
    emulator.add_command(validate_command)


_register_fit()
