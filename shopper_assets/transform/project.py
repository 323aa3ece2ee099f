"""The dbt project (``<repo>/dbt``) as a :class:`dagster_dbt.DbtProject`, and its manifest.

Nothing runs at import. The definitions are built on a fresh clone, where ``dbt/target/manifest.json``
does not exist yet, and without the warehouse: :func:`ensure_manifest` runs ``dbt parse`` (no database
connection) when the manifest is missing or older than any file of the dbt project, and is called
when the definitions are built (``definitions.py``).

Why not ``DbtProject.prepare_if_dev()`` / ``project.preparer.prepare()``: the first only acts under
``dagster dev``; the second re-parses on every load of the code location (no staleness check, a few
seconds for each process that loads it: webserver, daemon, every run worker) with a bare
``DbtCliResource`` - the ``dbt`` of PATH, not this virtualenv's, and without the profile variables of
the runs, so their partial parsing could not reuse the parse. ``ensure_manifest`` takes the
configured resource instead, and guards against concurrent parses (the webserver, the daemon and run
workers load the code location at once) with a file lock, as dagster-dbt's preparer does.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from filelock import FileLock

from shopper_assets.settings import Settings

#: The dbt project folder at the repository root (the package is installed editable).
DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"

#: How long a process waits for another one's ``dbt parse`` before it gives up (a parse takes 5-15 s here).
MANIFEST_LOCK_SECONDS = 120

#: Files and folders whose changes make the manifest stale.
_SOURCES = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "analyses", "seeds", "snapshots")


def dbt_executable() -> str:
    """The dbt next to this Python (the virtualenv's, even when it is not on PATH), else PATH's."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return os.fspath(beside)
    return shutil.which("dbt") or "dbt"


def dbt_target(settings: Settings | None = None) -> str:
    """The dbt target of the environment: ``local`` (DuckDB) or ``prod`` (Postgres), as SHOPPER_ENV."""
    return (settings or Settings.from_env()).env


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in _SOURCES:
        path = project_dir / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for root, _dirs, files in os.walk(path):
                for f in files:
                    newest = max(newest, (Path(root) / f).stat().st_mtime)
    return newest


def manifest_is_stale(project: DbtProject) -> bool:
    """True when the manifest is missing or older than a file of the dbt project."""
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    return manifest.stat().st_mtime < _newest_source_mtime(project.project_dir)


def ensure_manifest(project: DbtProject, dbt: DbtCliResource) -> Path:
    """Run ``dbt parse`` with ``dbt`` (the resource the runs use, so their partial parsing can reuse
    this parse) when the manifest of ``project`` is missing or stale; returns its path."""
    if manifest_is_stale(project):
        project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(project.manifest_path.with_suffix(".parse-lock"), timeout=MANIFEST_LOCK_SECONDS):
            if manifest_is_stale(project):  # not parsed by another process while this one waited
                _parse(project, dbt)
    if not project.manifest_path.exists():
        raise FileNotFoundError(f"dbt parse did not write {project.manifest_path}")
    return project.manifest_path


def _parse(project: DbtProject, dbt: DbtCliResource) -> None:
    dbt.cli(["parse", "--quiet"], target_path=project.target_path).wait()


def build_dbt_project(settings: Settings) -> DbtProject:
    """The dbt project with the target of ``settings`` (its manifest is not prepared: see ensure_manifest)."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=dbt_target(settings))
