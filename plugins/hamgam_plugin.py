"""hamgam's Airflow plugin: what the scheduler, the DAG processor and the API server must know.

Airflow imports every .py file in the plugins folder ([core] plugins_folder, set to <repo>/plugins by
hamgam_dev.devenv), so this file stays thin: the code lives in the hamgam package. Each extension point is
one attribute of `HamgamPlugin`:

- timetables: `FiscalYearTimetable` (hamgam.timetables), so serialized DAGs that use it can be
  stored and read back; its registered name is "hamgam.timetables.FiscalYearTimetable".
- fastapi_apps: the hamgam web app (hamgam.webapp), mounted by the API server at /hamgam: the
  Payamgostar webhooks `/hamgam/api/sync/customer` and `/hamgam/api/sync/salequote`, the CRM's live
  stock read `/hamgam/api/inventory[/{companyCode}]` and `/hamgam/health`. Importing it builds the
  FastAPI app only: the secret (connection `hamgam_webhook`), the ledger and Tadbir are resolved when
  a request comes, so loading the plugin touches no database. The app's page (``/hamgam/``) and its data are
  behind Airflow's own login (``hamgam.webapp.airflow_side``); only the webhooks and the stock read take the
  shared secret.
- external_views: the page's entry in the UI's navigation ("hamgam"): Airflow shows ``/hamgam/`` inside its
  own frame at ``/plugin/hamgam``.
- listeners: `hamgam.run_notes`, which notes "fiscal year 1403" on each run of the fiscal-year DAG
  when the scheduler starts it (Airflow names backfill runs by date only).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from hamgam import run_notes
from hamgam.timetables import FiscalYearTimetable
from hamgam.webapp import app as hamgam_app


class HamgamPlugin(AirflowPlugin):
    name = "hamgam"
    timetables = [FiscalYearTimetable]
    listeners = [run_notes]
    fastapi_apps = [{"app": hamgam_app, "url_prefix": "/hamgam", "name": "hamgam"}]
    external_views = [{"name": "hamgam", "href": "/hamgam/", "destination": "nav", "url_route": "hamgam"}]
