"""A real Airflow (scheduler, DAG processor, triggerer, API server) for tests, benchmarks and the demos.

    from hamgam_dev.airflow_server import AirflowServer
    from hamgam_dev.devenv import airflow_env

    with AirflowServer(airflow_env(data_dir, airflow_home=home)) as airflow:
        backfill_id = airflow.backfill("my_dag", "2024-03-20", "2026-03-20")
        airflow.unpause("my_dag")
        runs = airflow.wait_for_runs("my_dag", 2, timeout=300)

Backfill first, then unpause: backfill runs only execute while the DAG is unpaused, and a DAG with
catchup=False that is unpaused first gets a scheduled run for its latest complete interval at once,
which then takes that interval's place in the backfill.

`start()` runs `airflow db migrate`, then starts the components in one new session and process group
(setsid): a small launcher (`python -m hamgam_dev.airflow_server launch ...`) leads the group and starts
`airflow scheduler`, `airflow dag-processor`, `airflow triggerer` (it runs the forward DAGs' change
probes: hamgam.triggers) and `airflow api-server` inside it, each writing to
`<AIRFLOW_HOME>/logs/server/<component>.log`. It then waits until `/api/v2/monitor/health` says the
metadata database, the scheduler, the DAG processor and the triggerer are healthy. `stop()` sends
SIGINT to the whole group; what hangs is killed (see `stop`); it raises if anything is left.

With ``celery_workers=N`` (and a CeleryExecutor environment: hamgam_dev.devenv's executor "celery") it also
starts N `airflow celery worker`s, named `worker1@<host>` ... (`-H`), each with its own pid file and
log-server port; `worker_pids()` names them, `worker_running(pid)` finds the worker a task process runs
under and `kill_worker(name)` SIGKILLs a worker's main process and every process under it (a host dying).

Log servers bind `bind_host` (127.0.0.1 by default): Airflow has no host setting for them (they bind every
interface), so the scheduler (LocalExecutor), the triggerer and the workers run with `--skip-serve-logs`
and Airflow's log app runs beside each through hamgam_dev.log_server, on the port Airflow's settings name
(a free one when the caller's env names none). The log servers and the workers may end without the group
being torn down (a killed worker is a test's doing); the other components may not.

`processes()` finds what was started by its session (the launcher's setsid), not only its process group:
Airflow's task supervisor puts each task process in a process group of its own (setpgid), and a task process
a SIGKILLed worker left behind (reparented to PID 1) keeps the session, so `stop()` finds and stops it too.
(Nothing Airflow or Celery starts calls setsid; an environment tag would not do: setproctitle, which Celery
and the supervisor use, overwrites what /proc/<pid>/environ shows.)

mode="standalone" runs `airflow standalone` instead (the same four plus a supervising process); measured
here it starts slower, holds ~1.5x the memory and can take 30 s to stop, so "components" is the default.

The caller's env (e.g. from hamgam_dev.devenv.airflow_env) wins over everything here except the API host,
port and the execution API URL, which follow `port` (a free one by default); settings it does not make
are filled in for a 2-core machine (parallelism 4, no examples, one API worker). `airflow db migrate`
writes airflow.cfg (with its generated JWT secret) before the components start, so they all sign and
accept the same tokens.

The REST API is used with a token from `POST /auth/token` (the simple auth manager's generated admin
password in AIRFLOW_HOME), or from `GET /auth/token` when `[core] simple_auth_manager_all_admins` is
on. Backfills go through `POST /api/v2/backfills`, which returns the backfill id and reports errors
(a backfill already running, no runs in the range, a bad conf) as HTTP errors with Airflow's message;
on SQLite a creation that meets a concurrent write fails at once with 503 "Database is locked" and is
retried. Dates without an offset are read as UTC, as Airflow's CLI and API do.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import requests

log = logging.getLogger(__name__)
TERMINAL_STATES = frozenset({"success", "failed"})
COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")


class AirflowServerError(RuntimeError):
    """The server did not start, an API call failed (`status` is its HTTP status), or runs did not finish."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _iso(value: datetime.datetime | datetime.date | str) -> str:
    """An ISO timestamp for the API; naive datetimes and bare dates are UTC (Airflow's own rule)."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.isoformat()


class AirflowServer:
    """A running Airflow in its own process group; use it as a context manager."""

    def __init__(self, env: Mapping[str, str], *, port: int | None = None,
                 mode: Literal["components", "standalone"] = "components",
                 startup_timeout: float = 180.0, log_dir: Path | None = None, celery_workers: int = 0,
                 bind_host: str = "127.0.0.1") -> None:
        if "AIRFLOW_HOME" not in env:
            raise ValueError("env must set AIRFLOW_HOME")
        self.mode = mode
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.home = Path(env["AIRFLOW_HOME"])
        self.log_dir = Path(log_dir or self.home / "logs" / "server")
        self.startup_timeout = startup_timeout
        self.celery_workers = celery_workers
        self.bind_host = bind_host
        self.env = self._environment(env)
        self.leader: subprocess.Popen | None = None
        self.stopped = False
        self.pgid: int | None = None
        self.started_in: float | None = None
        self.lock_retries = 10
        self._session = requests.Session()
        self._token: str | None = None

    # -- environment and lifecycle --------------------------------------------------------------

    def _environment(self, env: Mapping[str, str]) -> dict[str, str]:
        defaults = {
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # a task's calls to the execution API (its state, XComs) time out after 5 s by default; on a
            # busy 2-core machine with SQLite the API server can take longer, and the task then dies with
            # httpx.ReadTimeout although nothing is wrong with it
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        }
        merged = {**os.environ, **defaults, **env}
        merged.update({
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), merged.get("PATH", os.defpath)]),
            "PYTHONUNBUFFERED": "1",
        })
        for name in ("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"):
            merged.setdefault(name, str(free_port()))  # not Airflow's fixed 8793/8794: servers run side by side
        if self.celery_workers and "celery" not in merged["AIRFLOW__CORE__EXECUTOR"].lower():
            raise ValueError(f"celery_workers={self.celery_workers} with executor "
                             f"{merged['AIRFLOW__CORE__EXECUTOR']}: workers need the CeleryExecutor")
        return merged

    def components(self) -> list[dict[str, Any]]:
        """What the launcher starts: name, `airflow` arguments, extra environment, whether the group may
        lose it (log servers, workers) without being torn down."""
        def log_server(name: str, port: str) -> dict[str, Any]:
            return {"name": f"log-server-{name}", "argv": [sys.executable, "-m", "hamgam_dev.log_server",
                                                            "--host", self.bind_host, "--port", port],
                    "env": {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": port}, "essential": False}

        airflow = self._airflow_bin()
        executor = self.env["AIRFLOW__CORE__EXECUTOR"]
        out: list[dict[str, Any]] = []
        for name in COMPONENTS:
            argv = [airflow, name]
            if name in ("scheduler", "triggerer"):
                argv.append("--skip-serve-logs")
            out.append({"name": name, "argv": argv, "env": {}, "essential": True})
        if "celery" not in executor.lower():  # the LocalExecutor's task logs are served by the scheduler's
            out.append(log_server("scheduler", self.env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]))
        out.append(log_server("triggerer", self.env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]))
        for index in range(1, self.celery_workers + 1):
            name, port = f"worker{index}", str(free_port())
            out.append({"name": name, "essential": False,
                        "argv": [airflow, "celery", "worker", "-H", f"{name}@%h", "--skip-serve-logs",
                                 "--pid", str(self.home / f"airflow-{name}.pid")],
                        "env": {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": port}})
            out.append(log_server(name, port))
        return out

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run `airflow <args>` with this server's environment; raises on a non-zero exit."""
        result = subprocess.run([self._airflow_bin(), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise AirflowServerError(f"`airflow {' '.join(args)}` exited with {result.returncode}:\n{tail}")
        return result

    @staticmethod
    def _airflow_bin() -> str:
        return str(Path(sys.executable).with_name("airflow"))

    def start(self) -> AirflowServer:
        if self.pgid is not None:
            raise AirflowServerError("already started (an AirflowServer runs once)")
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.cli("db", "migrate")
        if self.mode == "standalone":
            command = [self._airflow_bin(), "standalone"]
        else:
            # A small launcher leads the new session and process group and starts the components inside
            # it (a process may only join a group of its own session); it exits when any of them does.
            spec = self.log_dir / "components.json"
            spec.write_text(json.dumps(self.components(), indent=1))
            (self.log_dir / "pids.json").unlink(missing_ok=True)
            command = [sys.executable, "-m", "hamgam_dev.airflow_server", "launch", str(self.log_dir), str(spec)]
        with (self.log_dir / f"{self.mode}.log").open("ab") as log:
            self.leader = subprocess.Popen(command, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, cwd=self.home, start_new_session=True)
        self.pgid = self.leader.pid
        try:
            self._wait_healthy(started + self.startup_timeout)
            self._wait_workers_ready(started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        return self

    def _check_alive(self) -> None:
        if self.leader is not None and self.leader.poll() is not None:
            raise AirflowServerError(f"Airflow ({self.mode}) exited with {self.leader.returncode}:\n"
                                     f"{self.log_tail()}")

    def _wait_healthy(self, deadline: float) -> None:
        wanted = ("metadatabase", "scheduler", "dag_processor", "triggerer")
        last: Any = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                response = self._session.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
                last = response.json() if response.ok else response.text
                if response.ok and all((last.get(k) or {}).get("status") == "healthy" for k in wanted):
                    return
            except (requests.RequestException, ValueError) as exc:
                last = exc
            time.sleep(1)
        raise AirflowServerError(f"Airflow not healthy after {self.startup_timeout:.0f} s (last: {last}):\n"
                                 f"{self.log_tail()}")

    def _wait_workers_ready(self, deadline: float) -> None:
        """Wait until every Celery worker has said "ready" in its log (connected to the broker, consuming)."""
        waiting = [f"worker{i}" for i in range(1, self.celery_workers + 1)]
        while waiting:
            self._check_alive()
            waiting = [name for name in waiting if " ready." not in self._read_log(name)]
            if waiting and time.monotonic() > deadline:
                raise AirflowServerError(f"Celery workers {waiting} not ready after {self.startup_timeout:.0f} s:\n"
                                         f"{self.log_tail()}")
            time.sleep(0.5)

    def _read_log(self, name: str) -> str:
        try:
            return (self.log_dir / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- Celery workers ---------------------------------------------------------------------------

    def launched(self) -> dict[str, int]:
        """Component name -> pid of what the launcher started (it writes them once all have started)."""
        path = self.log_dir / "pids.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def worker_pids(self) -> dict[str, int]:
        """The Celery workers still running: name ("worker1" ...) -> pid of its main process."""
        import psutil

        return {name: pid for name, pid in self.launched().items()
                if name.startswith("worker") and psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}

    def worker_running(self, pid: int) -> str | None:
        """The name of the Celery worker process ``pid`` runs under (a task's pid, as the API reports it)."""
        import psutil

        for name, main in self.worker_pids().items():
            try:
                if pid == main or pid in {p.pid for p in psutil.Process(main).children(recursive=True)}:
                    return name
            except psutil.Error:
                continue
        return None

    def kill_worker(self, name: str, timeout: float = 30.0) -> list[int]:
        """SIGKILL worker ``name``'s main process and every process under it (pool processes, task
        supervisors and task processes), as if its host died; returns the pids killed once all are gone."""
        import psutil

        main = self.worker_pids().get(name)
        if main is None:
            raise AirflowServerError(f"no running Celery worker {name!r} (running: {sorted(self.worker_pids())})")
        family = [psutil.Process(main), *psutil.Process(main).children(recursive=True)]
        for proc in family:  # the main process first: it must not start anything new meanwhile
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=timeout)
        if alive:
            raise AirflowServerError(f"worker {name}: processes still alive {timeout:.0f} s after SIGKILL: "
                                     f"{self._describe([p.pid for p in alive])}")
        return [p.pid for p in family]

    def log_tail(self, chars: int = 3000) -> str:
        """The end of each component's log, for error messages."""
        out = []
        for path in sorted(self.log_dir.glob("*.log")):
            out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(out)

    def processes(self) -> list[int]:
        """Pids of the processes still in the server's session (see the module): its process group and
        the task processes' groups inside it."""
        if self.pgid is None:
            return []
        import psutil

        pids = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                if os.getsid(proc.pid) == self.pgid:  # the launcher leads both its group and its session
                    pids.append(proc.pid)
            except (OSError, psutil.Error):  # gone meanwhile
                continue
        return pids

    def _signal_all(self, signum: int) -> None:
        """``signum`` to the group and to the session's processes outside it (task processes, orphans)."""
        try:
            os.killpg(self.pgid, signum)
        except ProcessLookupError:
            pass
        for pid in self.processes():
            try:
                if os.getpgid(pid) != self.pgid:
                    os.kill(pid, signum)
            except ProcessLookupError:
                pass

    @staticmethod
    def _cmdline(pid: int) -> str:
        import psutil

        try:
            return " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            return ""

    def _describe(self, pids: list[int]) -> str:
        return "; ".join(f"{pid} {self._cmdline(pid)[:60].strip()}" for pid in pids)

    def _wait_group_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.leader is not None:
                self.leader.poll()  # reap the leader, so it does not linger as a zombie
            if not self.processes():
                return True
            time.sleep(0.2)
        return False

    def stop(self, *, grace: float = 15.0) -> None:
        """Stop everything started; returns when no process of the group is left (raises otherwise).

        SIGINT goes to the whole group: the components exit gracefully (the scheduler ends its
        LocalExecutor, whose workers ignore SIGINT and get a stop message), the launcher waits for them.
        Normally all is gone in 2-4 s.

        Airflow 3.3's LocalExecutor sometimes never finishes its shutdown (about 1 stop in 6 here, right
        after tasks ran): the scheduler waits forever on an idle worker, and more SIGTERMs do not help.
        So after `grace` the idle workers ("airflow worker -- LocalExecutor: <idle>": no task running)
        get SIGKILL, which lets the scheduler finish; then anything left gets SIGTERM, then SIGKILL.
        """
        if self.pgid is None or self.stopped:
            return
        self._session.close()  # an open keep-alive connection holds up the API server's graceful exit

        def kill_idle_workers() -> None:
            for pid in self.processes():
                if self._cmdline(pid).startswith("airflow worker -- LocalExecutor: <idle>"):
                    os.kill(pid, signal.SIGKILL)

        steps = ((lambda: self._signal_all(signal.SIGINT), grace, "SIGINT to the group"),
                 (kill_idle_workers, 5.0, "SIGKILL to idle LocalExecutor workers"),
                 (lambda: self._signal_all(signal.SIGTERM), 5.0, "SIGTERM to the group"),
                 (lambda: self._signal_all(signal.SIGKILL), 5.0, "SIGKILL to the group"))
        for index, (send, wait, what) in enumerate(steps):
            if not (left := self.processes()):
                break
            if index:
                log.warning("Airflow processes still running, sending %s: %s", what, self._describe(left))
            try:
                send()
            except ProcessLookupError:
                pass
            if self._wait_group_gone(wait):
                break
        if self.leader is not None:
            try:
                self.leader.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        left = self.processes()
        self.stopped = True
        if left:
            raise AirflowServerError(f"processes left after stop: {self._describe(left)}")

    def __enter__(self) -> AirflowServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- REST API -------------------------------------------------------------------------------

    def _all_admins(self) -> bool:
        return self.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "").lower() in ("true", "1")

    def admin_password(self) -> tuple[str, str]:
        """The simple auth manager's admin login (the file it generates in AIRFLOW_HOME)."""
        path = Path(self.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
                    or self.home / "simple_auth_manager_passwords.json.generated")
        passwords = json.loads(path.read_text())
        username = "admin" if "admin" in passwords else next(iter(passwords))
        return username, passwords[username]

    def token(self, *, refresh: bool = False) -> str:
        if self._token is None or refresh:
            url = f"{self.base_url}/auth/token"
            if self._all_admins():
                response = self._session.get(url, timeout=30)
            else:
                username, password = self.admin_password()
                response = self._session.post(url, json={"username": username, "password": password},
                                              timeout=30)
            if not response.ok:
                raise AirflowServerError(f"login failed: {response.status_code} {response.text[:500]}")
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call `/api/v2<path>` with a token; returns the JSON body, raises AirflowServerError on errors."""
        url = f"{self.base_url}/api/v2{path}"
        response = None
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self.token(refresh=attempt > 0)}"}
            response = self._session.request(method, url, headers=headers, timeout=60, **kwargs)
            if response.status_code != 401:
                break
        if not response.ok:
            raise AirflowServerError(f"{method} {path}: {response.status_code} {response.text[:1000]}",
                                     response.status_code)
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict:
        """Wait until the DAG processor has stored `dag_id`; returns the DAG's API record."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.api("GET", f"/dags/{dag_id}")
            except AirflowServerError:
                if time.monotonic() > deadline:
                    errors = self.api("GET", "/importErrors").get("import_errors", [])
                    raise AirflowServerError(f"DAG {dag_id} not parsed after {timeout:.0f} s; "
                                             f"import errors: {errors}") from None
                time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self.wait_for_dag(dag_id)
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def backfill(self, dag_id: str, from_date: datetime.datetime | datetime.date | str,
                 to_date: datetime.datetime | datetime.date | str, conf: dict | None = None, *,
                 max_active_runs: int = 1, reprocess_behavior: str = "none", dry_run: bool = False) -> Any:
        """Create a backfill (POST /api/v2/backfills) and return its id.

        `conf` becomes every run's conf. `max_active_runs` runs at once (1: one fiscal year after the
        other). `reprocess_behavior`: "none" skips intervals that already have a run, "failed" reruns
        failed ones, "completed" reruns all. With dry_run=True nothing is created; returns the logical
        dates (ISO strings) the backfill would run. Runs execute only once the DAG is unpaused: the DAG
        is paused while the backfill is created, and the caller unpauses it afterwards.
        """
        self.wait_for_dag(dag_id)
        if not dry_run:
            # A reprocessing backfill clears the existing runs one by one; an unpaused scheduler would
            # start the first while the next is cleared. On SQLite that write fails the creation (503,
            # "Database is locked"), and Airflow's clean-up of the partial backfill then deletes the runs
            # it had cleared — completed history included (Airflow 3.3.2).
            self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": True})
        body = {"dag_id": dag_id, "from_date": _iso(from_date), "to_date": _iso(to_date),
                "dag_run_conf": conf or {}, "max_active_runs": max_active_runs,
                "reprocess_behavior": reprocess_behavior}
        path = "/backfills/dry_run" if dry_run else "/backfills"
        for attempt in range(1, self.lock_retries + 1):
            try:
                result = self.api("POST", path, json=body)
                break
            except AirflowServerError as exc:
                # On SQLite the creation fails at once (503, "Database is locked") when the scheduler or
                # the DAG processor is writing at that moment; Airflow removes the partial backfill.
                if exc.status != 503 or attempt == self.lock_retries:
                    raise
                time.sleep(0.5 * attempt)
        if dry_run:
            return [item["logical_date"] for item in result["backfills"]]
        return result["id"]

    def dag_runs(self, dag_id: str) -> list[dict]:
        """The DAG's runs, oldest logical date first."""
        result = self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 1000, "order_by": "logical_date"})
        keys = ("dag_run_id", "state", "data_interval_start", "data_interval_end", "run_type", "logical_date",
                "conf")
        runs = [{key: run.get(key) for key in keys} for run in result["dag_runs"]]
        for run in runs:
            run["run_id"] = run.pop("dag_run_id")
        return runs

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """The value a task instance pushed (its return value by default)."""
        from urllib.parse import quote

        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.api("GET", path, params={"deserialize": "true"})["value"]

    def wait_for_runs(self, dag_id: str, count: int, timeout: float = 300.0, *,
                      run_type: str | None = None) -> list[dict]:
        """Wait until at least `count` runs (of `run_type`, if given) exist and all are finished."""
        deadline = time.monotonic() + timeout
        runs: list[dict] = []
        while time.monotonic() < deadline:
            runs = [r for r in self.dag_runs(dag_id) if run_type is None or r["run_type"] == run_type]
            if len(runs) >= count and all(r["state"] in TERMINAL_STATES for r in runs):
                return runs
            self._check_alive()
            time.sleep(1)
        raise AirflowServerError(f"{dag_id}: wanted {count} finished runs within {timeout:.0f} s, have "
                                 f"{[(r['run_id'], r['state']) for r in runs]}\n{self.log_tail()}")


_received: set[signal.Signals] = set()


def _launch(log_dir: str, spec_file: str) -> int:
    """Start the components ``spec_file`` lists (AirflowServer.components; logs in log_dir/<name>.log) and
    run until an essential one exits or SIGINT/SIGTERM arrives. Writes log_dir/pids.json once all started."""
    def interrupted(signum, frame):
        _received.add(signal.Signals(signum))
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    specs = json.loads(Path(spec_file).read_text())
    processes: dict[str, subprocess.Popen] = {}
    essential = {spec["name"] for spec in specs if spec["essential"]}
    try:
        for spec in specs:
            with (Path(log_dir) / f"{spec['name']}.log").open("ab") as log:
                processes[spec["name"]] = subprocess.Popen(spec["argv"], stdin=subprocess.DEVNULL, stdout=log,
                                                           stderr=subprocess.STDOUT, env={**os.environ, **spec["env"]})
        pids = Path(log_dir) / "pids.json"
        pids.with_suffix(".tmp").write_text(json.dumps({name: p.pid for name, p in processes.items()}))
        pids.with_suffix(".tmp").replace(pids)
        reported: set[str] = set()
        while True:
            for name, process in processes.items():
                if process.poll() is not None and name not in reported:
                    print(f"airflow {name} exited with {process.returncode}", flush=True)
                    reported.add(name)
                    if name in essential:
                        return 1
            time.sleep(0.5)
    except KeyboardInterrupt:  # the whole group got SIGINT (or the launcher SIGTERM): let them exit
        if signal.Signals.SIGINT not in _received:  # only the launcher was asked: pass it on
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=25)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                pass
        return 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "launch":
        raise SystemExit("usage: python -m hamgam_dev.airflow_server launch LOG_DIR COMPONENTS_JSON")
    raise SystemExit(_launch(sys.argv[2], sys.argv[3]))
