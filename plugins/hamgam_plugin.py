"""hamgam's Airflow plugin: what the scheduler, the DAG processor and the API server must know.

Airflow imports every .py file in the plugins folder ([core] plugins_folder, set to <repo>/plugins by
hamgam.devenv), so this file stays thin: the code lives in the hamgam package. Each extension point is
one attribute of `HamgamPlugin`:

- timetables: `FiscalYearTimetable` (hamgam.timetables), so serialized DAGs that use it can be
  stored and read back; its registered name is "hamgam.timetables.FiscalYearTimetable".
- fastapi_apps (to come, the webhooks): append a dict
  `{"app": <FastAPI app from the hamgam package>, "url_prefix": "/hamgam", "name": "hamgam webhooks"}`.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from hamgam.timetables import FiscalYearTimetable


class HamgamPlugin(AirflowPlugin):
    name = "hamgam"
    timetables = [FiscalYearTimetable]
    fastapi_apps: list[dict] = []
