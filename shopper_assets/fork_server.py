"""Run workers forked from a process that has loaded the code location once (``ForkingRunLauncher``).

Dagster's code server starts every run worker with ``multiprocessing``'s *spawn*: a fresh interpreter
that imports Dagster, the instance's storage and the whole code location again, 5-7 s before the
first step on this machine (docs/benchmarks.md, "Run start"). A stream pays that for every lake and
dbt run. This process imports the code location and builds every job once, then serves launches:
each is an ``os.fork()`` whose child runs the run exactly as ``dagster api execute_run`` does (the
body every Dagster run worker runs), so the child starts with everything loaded.

Safe to fork because this process is single-threaded and holds no open connection when it forks:
loading the code location opens none (nothing heavy at import or in ``defs()``), and the instance it
opens to report a dead worker is closed again. Each child opens its own instance.

Stale code is never run: the server remembers the files it loaded from the location's working
directory (and the dbt manifest) with their modification times and, if any changed, answers a launch
with ``stale`` and exits; the launcher then launches that run through the code server and starts a
fresh fork server for the next one.

Protocol (``multiprocessing.connection.Connection`` over a socket pair the launcher passes as fd
``argv[1]``): the launcher sends the serialized repository origin; the server answers
``{"ready": pid}`` once loaded; then per launch ``{"run_id", "instance_ref"}`` answered with
``{"pid": worker}`` or ``{"stale": [paths]}``. The server exits when the launcher's end closes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from dagster import DagsterInstance
from dagster._cli.api import _execute_run_command_body
from dagster._core.instance.ref import InstanceRef
from dagster._core.origin import RepositoryPythonOrigin
from dagster._serdes import deserialize_value
from dagster._utils.hosted_user_process import recon_repository_from_origin
from dagster._utils.interrupts import capture_interrupts

from shopper_assets.fork_launcher import FORKED_WORKER_TAG
from shopper_assets.transform.project import DBT_PROJECT_DIR

#: Seconds between looks for workers that ended.
REAP_INTERVAL_S = 1.0


def code_files(working_directory: Path) -> dict[str, int]:
    """Modification times of the loaded modules under the location's working directory, and of the
    dbt manifest the dbt assets were built from: what reloading the code location would read again."""
    files = {
        module.__file__
        for module in list(sys.modules.values())
        if getattr(module, "__file__", None) and Path(module.__file__).is_relative_to(working_directory)
    }
    files.add(str(DBT_PROJECT_DIR / "target" / "manifest.json"))
    return {path: _mtime(path) for path in sorted(files)}


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return -1


class ForkServer:
    """The code location, loaded once; launches fork a worker each (see module doc)."""

    def __init__(self, origin: RepositoryPythonOrigin):
        # cached (lru_cache on the reconstructable repository): each worker's own load of it finds it
        definition = recon_repository_from_origin(origin).get_definition()
        for name in definition.job_names:
            definition.get_job(name)
        working_directory = getattr(origin.code_pointer, "working_directory", None) or os.getcwd()
        self.files = code_files(Path(working_directory).resolve())
        self.workers: dict[int, tuple[str, str]] = {}  # pid -> (run id, serialized instance ref)

    def changed_files(self) -> list[str]:
        return [path for path, mtime in self.files.items() if _mtime(path) != mtime]

    def fork_worker(self, run_id: str, instance_ref: str, connection: Connection) -> int:
        if threading.active_count() > 1:  # a thread could hold a lock the child would inherit held
            raise RuntimeError(f"fork server has {threading.active_count()} threads: not forking")
        pid = os.fork()
        if pid == 0:
            connection.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(run_id, instance_ref)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.workers[pid] = (run_id, instance_ref)
        return pid

    def reap(self) -> None:
        """Fail the run of a worker that died before finishing it, as the code server does."""
        for pid, (run_id, instance_ref) in list(self.workers.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if not done:
                continue
            del self.workers[pid]
            code = os.waitstatus_to_exitcode(status)
            with DagsterInstance.from_ref(deserialize_value(instance_ref, InstanceRef)) as instance:
                run = instance.get_run_by_id(run_id)
                if run is not None and not run.is_finished:
                    instance.report_run_failed(
                        run, f"Run worker (pid {pid}, forked) for run {run_id} unexpectedly exited with code {code}."
                    )

    def serve(self, connection: Connection) -> None:
        connection.send({"ready": os.getpid()})
        while True:
            if connection.poll(REAP_INTERVAL_S):
                try:
                    request = connection.recv()
                except EOFError:  # the launcher (the daemon) is gone; running workers go on alone
                    return
                changed = self.changed_files()
                if changed:
                    connection.send({"stale": changed})
                    return
                try:
                    connection.send({"pid": self.fork_worker(request["run_id"], request["instance_ref"], connection)})
                except Exception as error:
                    connection.send({"error": f"{type(error).__name__}: {error}"})
            self.reap()


def run_worker(run_id: str, instance_ref: str) -> int:
    """The forked child: what ``dagster api execute_run`` runs, with the run tagged with this process."""
    with capture_interrupts(), DagsterInstance.from_ref(deserialize_value(instance_ref, InstanceRef)) as instance:
        instance.add_run_tags(run_id, {FORKED_WORKER_TAG: f"{os.uname().nodename}:{os.getpid()}"})
        return _execute_run_command_body(run_id, instance, lambda _event: None, set_exit_code_on_failure=False)


def main() -> None:
    connection = Connection(int(sys.argv[1]))
    origin = deserialize_value(connection.recv(), RepositoryPythonOrigin)
    # Ctrl-C in `shopper ui` / `dagster dev` reaches the whole process group: the workers cancel their
    # runs (capture_interrupts), and the server goes quietly, as the code server does.
    with contextlib.suppress(KeyboardInterrupt):
        ForkServer(origin).serve(connection)


if __name__ == "__main__":
    main()
