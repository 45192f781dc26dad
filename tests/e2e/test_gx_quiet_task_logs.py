"""Great Expectations' INFO chatter stays out of the logs, wherever GX is first imported.

Each case runs in a fresh Python process (GX is imported once per process, and its chatter comes with
the import) with Airflow's own logging at INFO, and counts the lines GX's loggers wrote:

- a load task that imports GX itself: the identities DAG through Airflow's dag.test(), whose task logs
  go to the process's output; hamgam's own lines must still be there;
- the warm executor's preload (hamgam.executor.warm), which runs in the scheduler before it forks;
- the backfill demo's preloading executor (hamgam_dev.backfill_demo.preload), likewise.

Before hamgam.gx, a load task's log held GX's "Created temporary directory ... for ephemeral docs site"
(GX sets that module's logger to INFO while importing it) and the backfill's scheduler log ~214
"Skipping registering function" lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.airflow

GX_LINE = re.compile(r"\[great_expectations[.\w]*\]|\"logger\": ?\"great_expectations")


def run_fresh(code: str) -> list[str]:
    """Run `code` in a new interpreter with this test's environment; its output lines (stdout+stderr)."""
    result = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True,
                            timeout=600, check=False)
    lines = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 0, "\n".join(lines[-40:])
    return lines


def gx_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if GX_LINE.search(line) or "Skipping registering function" in line]


def test_a_load_task_that_imports_gx_logs_hamgams_lines_and_none_of_gx(world):
    lines = run_fresh(
        "import sys\n"
        "from hamgam.config import load_config\n"
        "from hamgam.dagbuilder import forward_dag\n"
        "assert 'great_expectations' not in sys.modules\n"  # the task imports it, not this script
        "run = forward_dag('identities', load_config()).test()\n"
        "assert run.state == 'success', run.state\n")
    assert gx_lines(lines) == []
    pipeline = [line for line in lines if "[hamgam.pipeline]" in line]
    assert any("identities company 100" in line for line in pipeline), "\n".join(lines[-40:])
    assert any("identities company 200" in line for line in pipeline), "\n".join(lines[-40:])


PRELOADS = {
    "warm executor": "from hamgam.executor import warm; warm()",
    "backfill demo": "from hamgam_dev.backfill_demo import preload; preload()",
}


@pytest.mark.parametrize("preload", PRELOADS.values(), ids=PRELOADS.keys())
def test_an_executor_preloading_gx_logs_none_of_gx(preload):
    lines = run_fresh(
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(levelname)s [%(name)s] %(message)s')\n"
        f"{preload}\n"
        "assert 'great_expectations' in sys.modules\n"
        "logging.getLogger('hamgam.probe').info('still logging')\n")
    assert gx_lines(lines) == []
    # Airflow, once imported, formats the lines its own way (structlog): look for the logger and text
    assert any("hamgam.probe" in line and "still logging" in line for line in lines), "\n".join(lines[-20:])
