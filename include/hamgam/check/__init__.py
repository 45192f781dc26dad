"""``python -m hamgam check``: what would break at a real site, before a DAG runs.

For each company, the Tadbir side (``tadbir``: connection, server, tables and columns hamgam reads or writes —
their list from ``tables`` —, collation, Change Tracking, permissions, date format) and the CRM side (``crm``:
login, type codes, one harmless find per endpoint), plus the webhook URLs to give the CRM (``webhooks``); shown
by ``report`` as ✓ / ✗ / ! rows, a ✗ with its fix. It reads the settings and the Airflow connections the DAGs
use, and writes nothing anywhere. ``run`` puts them together; ``main`` is the command line.
"""

from hamgam.check.run import main, run_checks

__all__ = ["main", "run_checks"]
