"""``python -m hamgam <command>``: hamgam's command line (the DAGs need none of it).

Commands: ``check`` — what would break at a real Tadbir and Payamgostar (``hamgam.check``); ``migrate`` — the
ledger's schema brought to the latest revision (``hamgam.ledger.migrate_command``), a deployment step.
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
    migrate = commands.add_parser("migrate", help="bring the ledger (hamgam_state) to the latest schema revision")
    from hamgam.ledger import migrate_command

    migrate_command.add_arguments(migrate)
    args = parser.parse_args(argv)
    if args.command == "check":
        return run_command(args)
    if args.command == "migrate":
        return migrate_command.run_command(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover: argparse refuses it first
    return 2


if __name__ == "__main__":
    sys.exit(main())
