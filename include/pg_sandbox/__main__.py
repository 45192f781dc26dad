"""Run the sandbox: `python -m pg_sandbox --port 8765 --db data/sandbox.sqlite [--error-rate 0.1 ...]`.

Every SandboxSettings field is a flag (`--latency-ms`, `--error-rate`, ...); unset flags fall
back to `PG_SANDBOX_*` environment variables, then to the defaults.
"""

import argparse
import dataclasses
from collections.abc import Sequence

from pg_sandbox.settings import SandboxSettings, parse_value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pg_sandbox", description="Local Payamgostar CRM sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--no-access-log", action="store_true", help="do not log every request")
    for field in dataclasses.fields(SandboxSettings):
        flags = ["--" + field.name.replace("_", "-")]
        if field.name == "db_path":
            flags.insert(0, "--db")
        parser.add_argument(*flags, dest=field.name, metavar=field.name.upper(),
                            type=lambda raw, name=field.name: parse_value(name, raw),
                            help=f"default: {field.default!r}, env PG_SANDBOX_{field.name.upper()}")
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> SandboxSettings:
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(SandboxSettings)}
    return SandboxSettings.from_env(**{name: value for name, value in given.items() if value is not None})


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn  # only when serving; keeps --help fast

    from pg_sandbox.app import create_app

    args = parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        raise SystemExit(f"pg_sandbox: {exc}") from exc
    app = create_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=not args.no_access_log)


if __name__ == "__main__":
    main()
