"""The by-fiscal-year DAG reads its year from the run's data interval; a run without one fails at once."""

from __future__ import annotations

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowFailException

from hamgam.dagbuilder import BY_FISCAL_YEAR, fiscal_year_of_run


def test_the_year_comes_from_the_data_interval():
    start = pendulum.datetime(2025, 3, 20, 20, 30, tz="UTC")  # 1 Farvardin 1404, 00:00 Tehran
    assert fiscal_year_of_run({"data_interval_start": start}, 1) == 1404


@pytest.mark.parametrize("context", [{"data_interval_start": None}, {}])
def test_a_run_triggered_without_a_logical_date_fails_without_retries_saying_how_to_start_one(context):
    with pytest.raises(AirflowFailException, match="triggered without a logical date") as caught:
        fiscal_year_of_run(context, 1)
    assert f"airflow backfill create --dag-id {BY_FISCAL_YEAR}" in str(caught.value)
