"""Command line: ``python -m tadbir_demo build --out data/demo --seed 1405 --scale 1``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from .build import DEFAULT_COMPANIES, DEFAULT_FISCAL_YEARS, DEFAULT_SEED, build_demo


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.replace(",", " ").split()]


def render_summary(value: object, indent: int = 0) -> str:
    """JSON with one line per dirty/history case (plain ``json.dumps`` would need ~1500 lines)."""
    if isinstance(value, dict) and "case" not in value and value:
        pad = " " * (indent + 2)
        items = (f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {render_summary(v, indent + 2)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        pad = " " * (indent + 2)
        return "[\n" + ",\n".join(pad + render_summary(v, indent + 2) for v in value) + "\n" + " " * indent + "]"
    return json.dumps(value, ensure_ascii=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tadbir-demo", description="Deterministic Tadbir demo databases")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write one SQLite Tadbir database per company")
    build.add_argument("--out", default="data/demo", help="output directory (default: data/demo)")
    build.add_argument("--seed", type=int, default=DEFAULT_SEED)
    build.add_argument("--scale", type=int, default=1, help="multiplies the number of customers/products")
    build.add_argument(
        "--companies", type=_int_list, default=list(DEFAULT_COMPANIES), help='e.g. "100,200"'
    )
    build.add_argument(
        "--fiscal-years", type=_int_list, default=list(DEFAULT_FISCAL_YEARS), help='Jalali, e.g. "1403,1404"'
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    summary = build_demo(
        args.out, seed=args.seed, scale=args.scale, companies=args.companies, fiscal_years=args.fiscal_years
    )
    print(render_summary(summary))
    print(f"built {len(summary['companies'])} databases in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
