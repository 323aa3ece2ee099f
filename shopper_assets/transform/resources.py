"""The dbt CLI resource of the environment chosen by SHOPPER_ENV (target ``local`` or ``prod``)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from dagster_dbt import DbtCliInvocation, DbtCliResource
from packaging import version
from pydantic import Field

from shopper_assets.settings import Settings
from shopper_assets.transform.project import DBT_PROJECT_DIR, dbt_executable, dbt_target


def pg_env_from_url(url: str) -> dict[str, str]:
    """SHOPPER_PG_* variables of dbt/profiles.yml (prod) from a libpq URI (SHOPPER_PG_URL).

    ``postgresql://user:pass@host:port/db``; a socket directory may be given as ``?host=/dir``.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ValueError("SHOPPER_PG_URL must be a postgresql:// URI")
    query = parse_qs(parsed.query)
    env = {
        "SHOPPER_PG_HOST": (query.get("host") or [parsed.hostname or "localhost"])[0],
        "SHOPPER_PG_PORT": str((query.get("port") or [parsed.port or 5432])[0]),
        "SHOPPER_PG_DBNAME": unquote(parsed.path.lstrip("/")) or "shopper",
    }
    if parsed.username:
        env["SHOPPER_PG_USER"] = unquote(parsed.username)
    if parsed.password:
        env["SHOPPER_PG_PASSWORD"] = unquote(parsed.password)
    return env


def dbt_environment(settings: Settings | None = None) -> dict[str, str]:
    """Non-secret variables dbt/profiles.yml reads: the absolute warehouse path (dbt runs in the
    dbt/ folder, where the relative default would point elsewhere)."""
    settings = settings or Settings.from_env()
    return {"SHOPPER_DUCKDB_PATH": str(settings.duckdb_path)}


def secret_environment() -> dict[str, str]:
    """SHOPPER_PG_* from SHOPPER_PG_URL, read when dbt starts: credentials never enter resource
    config (which the UI shows) or logs. Variables already set in the environment win."""
    url = os.environ.get("SHOPPER_PG_URL")
    if not url:
        return {}
    return {k: v for k, v in pg_env_from_url(url).items() if not os.environ.get(k)}


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Temporarily set environment variables; dbt subprocesses copy os.environ when they start."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class ShopperDbtCliResource(DbtCliResource):
    """A DbtCliResource whose dbt subprocesses also get ``extra_env``, and that skips two costs of
    every run dagster-dbt would pay (private members: reasons, measurements and the tests that
    notice when they lapse are in docs/private-apis.md)."""

    extra_env: dict[str, str] = Field(default_factory=dict, description="Environment added to every dbt invocation.")

    def cli(self, args, **kwargs: Any):  # type: ignore[override]
        """dagster-dbt's ``cli``, with ``extra_env`` and the secrets of :func:`secret_environment` in the
        environment dbt starts with: ``DbtCliResource.cli`` takes no environment, it copies
        ``os.environ`` (which is set only while it starts dbt, as dagster-dbt's maintainers advise)."""
        with environment({**self.extra_env, **secret_environment()}):
            return super().cli(args, **kwargs)

    @cached_property
    def _cli_version(self) -> version.Version:
        """The installed dbt-core's version when the executable is this virtualenv's dbt, instead of
        dagster-dbt's ``dbt --version`` before every run's first invocation (4.4 s)."""
        if Path(self.dbt_executable).resolve() == Path(sys.executable).with_name("dbt").resolve():
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        """No dbt adapter in the Dagster process: dagster-dbt opens one (1.6 s in a fresh run process)
        only for ``fetch_row_counts``/``fetch_column_metadata``, which these assets do not use."""
        return None


PARSE_CACHE = "partial_parse.msgpack"
#: dagster-dbt leaves each invocation's artifacts and dbt.log (about 4 MB) in its own folder under
#: dbt's target folder; a steady stream runs dbt every few seconds, so old ones are pruned.
KEEP_INVOCATIONS = 20
PRUNE_IDLE_SECONDS = 3600


def tidy_target(invocation: DbtCliInvocation) -> None:
    """After an invocation: seed later ones with its parse, and prune old invocation folders.

    For invocations in the folder dagster-dbt makes for them (``cli()`` without ``target_path``):
    its parent is the target folder that dagster-dbt seeds from and leaves them in.
    """
    keep_parse_cache(invocation)
    prune_invocations(invocation.target_path.parent)


def keep_parse_cache(invocation: DbtCliInvocation) -> None:
    """Seed later invocations with this one's parse.

    dagster-dbt starts each invocation in a fresh target folder seeded with the target folder's
    ``partial_parse.msgpack``. dbt ignores that file when the environment the profile reads differs
    from the one it was parsed with (here, the warehouse path of SHOPPER_DATA_DIR), and parses the
    whole project again: about 2 s on every sensor-driven run. A successful invocation's own file
    was parsed in this environment, so it replaces the seed (atomically: runs may start meanwhile).
    """
    produced = invocation.target_path / PARSE_CACHE
    if not invocation.is_successful() or not produced.exists():
        return
    seed = invocation.target_path.parent / PARSE_CACHE
    staged = seed.with_name(f".{PARSE_CACHE}.{uuid.uuid4().hex}")
    shutil.copyfile(produced, staged)
    os.replace(staged, seed)


def prune_invocations(
    target: Path, keep: int = KEEP_INVOCATIONS, idle_seconds: float = PRUNE_IDLE_SECONDS, now: float | None = None
) -> list[Path]:
    """Delete invocation folders (those holding a dbt.log) beyond the newest ``keep``, but only
    once nothing in them was written for ``idle_seconds``, so a long-running invocation keeps its
    folder. Returns the folders deleted."""
    now = time.time() if now is None else now
    last_write = {}
    for folder in target.iterdir() if target.is_dir() else []:
        if folder.is_dir() and (folder / "dbt.log").is_file():
            last_write[folder] = max(f.stat().st_mtime for f in folder.iterdir() if f.is_file())
    by_age = sorted(last_write, key=last_write.get, reverse=True)
    stale = [f for f in by_age[keep:] if now - last_write[f] > idle_seconds]
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


def dbt_resource(settings: Settings | None = None) -> ShopperDbtCliResource:
    """A :class:`DbtCliResource` on ``dbt/`` with the target of SHOPPER_ENV (``local``/``prod``),
    the dbt executable of this virtualenv and the profile variables of :func:`dbt_environment`."""
    settings = settings or Settings.from_env()
    return ShopperDbtCliResource(
        project_dir=os.fspath(DBT_PROJECT_DIR),
        profiles_dir=os.fspath(DBT_PROJECT_DIR),
        target=dbt_target(settings),
        dbt_executable=dbt_executable(),
        extra_env=dbt_environment(settings),
    )
