"""``python -m hamgam <command>``: hamgam's command line (the DAGs need none of it).

Commands: ``check`` — what would break at a real Tadbir and Payamgostar (``hamgam.check``).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hamgam", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    check = commands.add_parser("check", help="what would break at a real site: Tadbir, the CRM, the webhooks")
    from hamgam.check.run import add_arguments, run_command

    add_arguments(check)
    args = parser.parse_args(argv)
    if args.command == "check":
        return run_command(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover: argparse refuses it first
    return 2


if __name__ == "__main__":
    sys.exit(main())
