"""Great Expectations 1.x on each batch: failing rows are set aside with the expectation that failed.

An entity declares its checks as data (``Check``); ``validate_frame`` runs them as one GX suite on a
pandas DataFrame and returns, per failing row, which expectation failed, why, and the offending value.
Checksums and other rules GX has no built-in for are computed by the entity into boolean columns
first, and checked here with ``ExpectColumnValuesToBeInSet([True])``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hamgam.gx import import_gx

if TYPE_CHECKING:  # pandas and GX are imported inside functions: DAG files must parse fast
    import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One expectation: a GX expectation class name, its column and arguments, and the human reason."""

    expectation: str
    column: str
    reason: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    value_column: str | None = None  # the column whose value is reported (defaults to ``column``)

    @property
    def name(self) -> str:
        return f"{self.expectation}({self.column})"


@dataclass(frozen=True)
class Failure:
    expectation: str
    column: str
    reason: str
    value: Any

    def as_dict(self) -> dict[str, Any]:
        return {"expectation": self.expectation, "column": self.column, "reason": self.reason,
                "value": None if self.value is None else str(self.value)}


@dataclass
class ValidationOutcome:
    failures: dict[Any, list[Failure]]  # DataFrame index -> what failed

    def failed_index(self) -> list[Any]:
        return list(self.failures)

    def within(self, index: Any) -> ValidationOutcome:
        """The failures of the rows of ``index`` (one part of a frame validated whole)."""
        rows = set(index)
        return ValidationOutcome(failures={i: f for i, f in self.failures.items() if i in rows})


_lock = threading.Lock()


def warm(checks_by_suite: dict[str, tuple[Check, ...]]) -> None:
    """Import GX and build each suite once, and run one of them once, in this process.

    Called by the executor (``hamgam.executor.WarmLocalExecutor``) before it forks its workers: every
    task process starts with GX imported (~3.5 s of CPU here, ~10 s on a busy machine) and its suites
    built (the first run in a process also pays ~0.1 s of GX's lazy set-up), so a one-record load
    validates at once. GX stays the engine: the same suites run, only earlier. Nothing to do when every
    suite was built in this process before. Never raises."""
    with _lock:
        if all(_suite_key(name, checks) in _validators for name, checks in checks_by_suite.items() if checks):
            return
    try:
        import pandas as pd

        for name, checks in checks_by_suite.items():
            if checks:
                _validation_definition(name, checks)
        for name, checks in checks_by_suite.items():
            if checks:  # a frame of nulls: every expectation runs (and most fail), which is all we want
                columns = dict.fromkeys(col for c in checks for col in (c.column, c.value_column) if col)
                validate_frame(pd.DataFrame([columns]), checks, suite_name=name)
                break
    except Exception:  # noqa: BLE001 - warming is an optimisation: the task builds what it needs itself
        log.warning("warming the validation suites failed; tasks will build them on first use", exc_info=True)

_validators: dict[tuple[str, str], tuple[Any, dict[tuple[str, str], Check]]] = {}


def _suite_key(suite_name: str, checks: tuple[Check, ...]) -> tuple[str, str]:
    return suite_name, repr(checks)  # Check holds a dict, so it is not hashable itself


def _validation_definition(suite_name: str, checks: tuple[Check, ...]
                           ) -> tuple[Any, dict[tuple[str, str], Check]]:
    """One ephemeral GX context and validation definition per suite, built once per process; also
    each check by the (expectation type, column) that GX reports it under."""
    key = _suite_key(suite_name, checks)
    with _lock:
        if key in _validators:
            return _validators[key]
        gx = import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas(f"tadbir_{suite_name}").add_dataframe_asset(suite_name)
        batch = asset.add_batch_definition_whole_dataframe("batch")
        suite = gx.ExpectationSuite(name=suite_name)
        by_type_column = {}
        for check in checks:
            expectation = getattr(gx.expectations, check.expectation)(column=check.column, **check.kwargs)
            suite.add_expectation(expectation)
            by_type_column[(expectation.expectation_type, check.column)] = check
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite_name}_batch", data=batch, suite=suite))
        _validators[key] = (definition, by_type_column)
        return _validators[key]


def validate_frame(frame: pd.DataFrame, checks: tuple[Check, ...], *, suite_name: str) -> ValidationOutcome:
    """Run ``checks`` on ``frame``; rows not named in the outcome passed every check."""
    if frame.empty or not checks:
        return ValidationOutcome(failures={})
    definition, by_type_column = _validation_definition(suite_name, checks)
    # the batch validated against the suite, as definition.run does, without keeping every result in the
    # context's result store (a quarter of a run's cost; nothing reads them)
    batch = definition.batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(definition.suite, result_format={"result_format": "COMPLETE"})
    failures: dict[Any, list[Failure]] = {}
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        check = by_type_column.get((config.type, config.kwargs.get("column")))
        if check is None:  # pragma: no cover - GX reported an expectation we did not add
            raise RuntimeError(f"unexpected expectation in the result: {config.type}")
        if item.exception_info and item.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {check.name} could not run: {item.exception_info.get('exception_message')}")
        value_column = check.value_column or check.column
        for index in item.result.get("unexpected_index_list") or []:
            failures.setdefault(index, []).append(
                Failure(check.name, value_column, check.reason, frame.at[index, value_column]))
    return ValidationOutcome(failures=failures)

