"""Command line: ``python -m tadbir_demo build --out data/demo --seed 1405 --scale 1`` (SQLite files), or
``python -m tadbir_demo load --url 'mssql+pymssql://sa:…@mssql:1433/Tadbir{code}' --create-database`` (one database per
company on a server: SQL Server, PostgreSQL or SQLite; the URL may come from ``TADBIR_DEMO_URL`` instead, so that
its password stays off the command line)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from .build import DEFAULT_COMPANIES, DEFAULT_FISCAL_YEARS, DEFAULT_SEED, build_demo
from .load import DatabaseNotEmpty, Existing, company_url, ensure_database, load_company

URL_ENV = "TADBIR_DEMO_URL"


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
    load = commands.add_parser("load", help="load one database per company on a server (SQL Server, PostgreSQL, SQLite)")
    load.add_argument("--url", default=os.environ.get(URL_ENV),
                      help=f"SQLAlchemy URL with {{code}} for the company code (default: ${URL_ENV}), e.g. "
                           "mssql+pymssql://sa:PASSWORD@mssql:1433/Tadbir{code}")
    load.add_argument("--create-database", action="store_true",
                      help="create each company's database when the server lacks it")
    load.add_argument("--existing", type=Existing, choices=list(Existing), default=Existing.FAIL,
                      help="a database that already holds a Tadbir: fail (default), skip it, or replace it")
    for sub in (load,):
        sub.add_argument("--seed", type=int, default=DEFAULT_SEED)
        sub.add_argument("--scale", type=int, default=1, help="multiplies the number of customers/products")
        sub.add_argument("--companies", type=_int_list, default=list(DEFAULT_COMPANIES), help='e.g. "100,200"')
        sub.add_argument("--fiscal-years", type=_int_list, default=list(DEFAULT_FISCAL_YEARS),
                         help='Jalali, e.g. "1403,1404"')
    return parser


def _load(args: argparse.Namespace) -> int:
    if not args.url:
        print(f"tadbir-demo load: give --url or set {URL_ENV}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    for code in args.companies:
        url = company_url(args.url, code)
        if args.create_database and ensure_database(url):
            print(f"company {code}: created database {url.database}", file=sys.stderr)
        try:
            summary = load_company(url, code, existing=args.existing, seed=args.seed, scale=args.scale,
                                   fiscal_years=args.fiscal_years)
        except DatabaseNotEmpty as exc:
            print(f"tadbir-demo load: {exc}", file=sys.stderr)
            return 1
        if "skipped" in summary:
            print(f"company {code}: {summary['database']} already holds a Tadbir, left as it is")
        else:
            counts = ", ".join(f"{name} {n}" for name, n in summary["counts"].items() if n)
            print(f"company {code}: {summary['database']}: {counts}")
    print(f"loaded {len(args.companies)} databases in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "load":
        return _load(args)
    started = time.perf_counter()
    summary = build_demo(
        args.out, seed=args.seed, scale=args.scale, companies=args.companies, fiscal_years=args.fiscal_years
    )
    print(render_summary(summary))
    print(f"built {len(summary['companies'])} databases in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
