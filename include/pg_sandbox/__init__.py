"""A local stand-in for the Payamgostar CRM's REST v2 identity API (persons, organizations).

- `pg_sandbox.app.create_app(settings)`: the FastAPI application.
- `python -m pg_sandbox --port 8765 --db data/sandbox.sqlite`: run it (entry point `payamgostar-sandbox`).
- `pg_sandbox.testing.run_sandbox(db_path, **settings)`: run it as a subprocess in tests.

The wire contract is /work/shared/reference/payamgostar-api.md (§2.1, §3).
"""
