"""How far is ``ceil(characters / 4)`` from a real tokenizer on the shipped datasets?

For every dataset file under ``datasets/``: the prompt tokens of all its items by OpenAI's chat
accounting, counted with ``o200k_base`` and with the ``chars4`` heuristic, and the heuristic's
error relative to o200k. Pure counting, no network.

usage: python benchmarks/token_heuristic.py [--encoding o200k_base|cl100k_base]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auraon_bench.data.dataset import load_items  # noqa: E402
from auraon_bench.data.tokenizers import get_tokenizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoding", default="o200k_base")
    args = parser.parse_args()
    real, rough = get_tokenizer(args.encoding), get_tokenizer("chars4")
    total_real = total_rough = 0
    print(f"{'dataset':<28} {'items':>5} {args.encoding:>11} {'chars4':>8} {'error':>7}")
    for path in sorted((ROOT / "datasets").glob("*.jsonl")):
        items = load_items([str(path)], None, 0)
        exact = sum(real.chat_tokens(item.messages) for item in items)
        guess = sum(rough.chat_tokens(item.messages) for item in items)
        total_real, total_rough = total_real + exact, total_rough + guess
        error = guess / exact - 1
        print(f"{path.name:<28} {len(items):>5} {exact:>11,} {guess:>8,} {error:>+7.1%}")
    print(f"{'all':<28} {'':>5} {total_real:>11,} {total_rough:>8,} "
          f"{total_rough / total_real - 1:>+7.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
