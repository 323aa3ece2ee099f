"""``ForkingRunLauncher``: the local instance's run launcher. Runs start in a worker forked from a fork
server that has the code location loaded (``fork_server.py``), within half a second instead of the
5-7 s of a worker the code server spawns; anything else falls back to the code server.

It lives in the process that launches runs (the daemon's run queue) and starts one fork server per
code location the first time it launches a run of it, waiting for it to load (as long as a spawned
worker would take). A launch goes through the code server, as Dagster's ``DefaultRunLauncher`` does,
when the fork server is not ready, died, or reports that the code changed since it loaded (it then
exits, and the next launch starts a fresh one).

Terminating a forked run interrupts its worker (SIGINT, which Dagster's run worker turns into a
cancelled run); the run tag the worker sets says which process it is, so the webserver's launcher can
do it too. A worker that dies is reported failed by its fork server, and the heartbeat check of
``HeartbeatRunLauncher`` covers a fork server that died with it. Prod (docker-compose) keeps
``HeartbeatRunLauncher``: its runs start in the code container, and a cluster would use Dagster's
Kubernetes or ECS launchers (docs/scaling.md).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from dagster import Field, IntSource
from dagster._core.launcher import LaunchRunContext
from dagster._core.origin import RepositoryPythonOrigin
from dagster._serdes import serialize_value

from shopper_assets.run_health import DEFAULT_HEARTBEAT_TIMEOUT_S, HeartbeatRunLauncher

log = logging.getLogger(__name__)

DEFAULT_LOAD_TIMEOUT_S = 120
#: Run tag a forked worker sets on its run: ``host:pid`` of the process that runs it (``terminate`` reads it).
FORKED_WORKER_TAG = "shopper/forked_worker"


@dataclass
class _Server:
    process: subprocess.Popen
    connection: Connection

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.connection.close()  # the server exits at the end of its stream; its workers go on


class ForkingRunLauncher(HeartbeatRunLauncher):
    """``HeartbeatRunLauncher`` whose runs start in workers forked from a preloaded code location."""

    def __init__(
        self,
        inst_data=None,
        heartbeat_timeout_seconds: int = DEFAULT_HEARTBEAT_TIMEOUT_S,
        load_timeout_seconds: int = DEFAULT_LOAD_TIMEOUT_S,
    ):
        super().__init__(inst_data=inst_data, heartbeat_timeout_seconds=heartbeat_timeout_seconds)
        self.load_timeout_seconds = load_timeout_seconds
        self._servers: dict[str, _Server] = {}
        self._lock = threading.Lock()

    @classmethod
    def config_type(cls):
        return {
            **super().config_type(),
            "load_timeout_seconds": Field(
                IntSource,
                is_required=False,
                default_value=DEFAULT_LOAD_TIMEOUT_S,
                description="Seconds a fork server may take to load the code location before runs go "
                "through the code server.",
            ),
        }

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin.repository_origin if run.job_code_origin else None
        if origin is None or self._fork(run.run_id, origin) is None:
            super().launch_run(context)

    def _fork(self, run_id: str, origin: RepositoryPythonOrigin) -> int | None:
        """The pid of the forked worker, or None when the run must go through the code server."""
        key = serialize_value(origin)
        with self._lock:
            server = self._servers.get(key)
            if server is None or not server.alive():
                server = self._servers[key] = self._start(origin, key)
            if server is None:
                del self._servers[key]
                return None
            try:
                server.connection.send({"run_id": run_id, "instance_ref": serialize_value(self._instance.get_ref())})
                answer = server.connection.recv()
            except (OSError, EOFError):
                answer = {"error": "the fork server is gone"}
            if "pid" in answer:
                return answer["pid"]
            log.warning("run %s goes through the code server: %s", run_id, answer)
            server.close()
            del self._servers[key]
            return None

    def _start(self, origin: RepositoryPythonOrigin, key: str) -> _Server | None:
        ours, theirs = socket.socketpair()
        working_directory = getattr(origin.code_pointer, "working_directory", None)
        process = subprocess.Popen(
            [origin.executable_path or sys.executable, "-m", "shopper_assets.fork_server", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            cwd=working_directory,
        )
        theirs.close()
        connection = Connection(ours.detach())
        connection.send(key)
        if connection.poll(self.load_timeout_seconds):
            try:
                if "ready" in connection.recv():
                    return _Server(process, connection)
            except EOFError:
                pass
        log.warning("fork server (pid %s) did not load the code location: runs go through the code server", process.pid)
        connection.close()
        process.kill()
        return None

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        pid = _forked_worker(run.tags.get(FORKED_WORKER_TAG)) if run is not None and not run.is_finished else None
        if pid is None:
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        os.kill(pid, signal.SIGINT)  # the worker's interrupt handling ends the run as cancelled
        return True

    def dispose(self) -> None:
        with self._lock:
            for server in self._servers.values():
                server.close()
            self._servers.clear()
        super().dispose()


def _forked_worker(tag: str | None) -> int | None:
    """The pid of a forked worker running on this machine, from its run tag (None if it is gone, or the
    pid now belongs to another process)."""
    if not tag:
        return None
    host, _, pid = tag.rpartition(":")
    if host != os.uname().nodename:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return int(pid) if b"shopper_assets.fork_server" in cmdline else None
