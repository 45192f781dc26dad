"""Run DAGs once each through Airflow's own ``dag.test()``, in one process (the demo's runner).

``airflow dags test`` pays Airflow's start-up (~10 s) per call; ``dag.test()`` pays it once per
process, so running all seven forward DAGs costs one start-up. Prints one JSON line per DAG run
(dag id, state, seconds) and exits 1 if a run did not succeed.

    python -m hamgam_dev.run_dags tadbir_to_payamgostar__identities tadbir_to_payamgostar__products ...
"""

from __future__ import annotations

import json
import sys
import time


def run(dag_ids: list[str]) -> list[dict]:
    from airflow.dag_processing.dagbag import DagBag

    from hamgam_dev.devenv import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    results = []
    for dag_id in dag_ids:
        if dag_id not in bag.dags:
            raise SystemExit(f"no DAG {dag_id!r}; known: {sorted(bag.dag_ids)}")
        started = time.monotonic()
        dag_run = bag.dags[dag_id].test()
        result = {"dag_id": dag_id, "state": str(dag_run.state), "seconds": round(time.monotonic() - started, 2)}
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    dag_ids = list(sys.argv[1:] if argv is None else argv)
    if not dag_ids:
        print(__doc__, file=sys.stderr)
        return 2
    results = run(dag_ids)
    return 0 if all(r["state"] == "success" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
