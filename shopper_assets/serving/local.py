"""The local serving copy: read-only published versions of the marts, swapped in atomically.

DuckDB lets one process write a database file, and a process that holds the file open, even
read-only, keeps every other process from opening it for writing. The warehouse file is the
pipelines' working file (the lake step rewrites its ``lake`` views, dbt writes every model), so
readers never open it. After each successful dbt build the dbt step (which holds the ``duckdb``
pool, with dbt's process gone) publishes a *version*: the served marts exported to immutable
Parquet files, and a small DuckDB catalog file of views over them. Readers open the current
catalog read-only; nothing ever writes a published file again, so readers and writers never wait
for each other, and a reader sees one whole version from the moment it opens it until it closes.

Layout under ``serving_dir``::

    tables/<mart>/<version>.parquet   a mart as of that version (shared by later versions until rebuilt)
    versions/<version>.duckdb         catalog: views marts.<mart> over the version's Parquet files,
                                      typed exactly as in the warehouse; serving.version (one row)
    versions/<version>.json           manifest: when, from which run, which files, row counts
    CURRENT                           the current version's name, replaced in one rename
    current.duckdb                    symlink to the current catalog (``duckdb -readonly`` on it, ad hoc)
    pending.json                      marts changed in the warehouse since the last publish (a failed build)

A version re-exports only the marts the build rebuilt (or that a failed build changed), and shares
the files of the others with the version before it. Old versions stay readable for a while after
they stop being current (``keep_versions`` and ``keep_seconds``), so a reader that resolved one a
moment ago can still open it; then their files are deleted (an open reader keeps its open files).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from shopper_assets.serving.marts import SCHEMA
from shopper_assets.storage.lake_store import write_text_atomically

CURRENT = "CURRENT"
CURRENT_CATALOG = "current.duckdb"
PENDING = "pending.json"
LOCK = ".publish.lock"
#: DuckDB writes these to Parquet as DOUBLE; exported as exact decimals, typed back by the views.
_WIDE_INTEGERS = ("HUGEINT", "UHUGEINT")


@dataclass(frozen=True)
class Version:
    """One published version, as its manifest describes it."""

    name: str
    published_at: datetime
    tables: dict[str, dict] = field(default_factory=dict)  # mart -> {"file", "rows", "columns"}
    source: dict = field(default_factory=dict)  # what built it: run id, partitions, rebuilt marts

    def age_seconds(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.published_at).total_seconds()

    def to_json(self) -> dict:
        return {
            "version": self.name,
            "published_at": self.published_at.isoformat(),
            "tables": self.tables,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict) -> Version:
        return cls(data["version"], datetime.fromisoformat(data["published_at"]), data["tables"], data["source"])


def version_name() -> str:
    """A new version's name: its UTC time first, so names sort in publishing order."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex[:6]}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class LocalServing:
    """The published versions under ``root``: publish (pipelines) and resolve (readers)."""

    def __init__(self, root: Path | str, keep_versions: int = 3, keep_seconds: float = 600.0):
        self.root = Path(root)
        self.keep_versions = keep_versions
        self.keep_seconds = keep_seconds

    # -- readers ----------------------------------------------------------------------------
    def current(self) -> Version | None:
        """The current version, or None before the first publish."""
        try:
            name = (self.root / CURRENT).read_text().strip()
            return Version.from_json(json.loads((self.root / "versions" / f"{name}.json").read_text()))
        except FileNotFoundError:
            return None

    def catalog(self, version: Version) -> Path:
        return self.root / "versions" / f"{version.name}.duckdb"

    # -- pipelines --------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One publisher at a time (the ``duckdb`` pool already serialises dbt steps; this also
        covers anything run outside Dagster)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def note_unpublished(self, marts: Iterable[str]) -> None:
        """Remember marts a failed build changed in the warehouse: the next publish exports them."""
        with self._locked():
            pending = self._pending() | set(marts)
            write_text_atomically(self.root / PENDING, json.dumps(sorted(pending)))

    def _pending(self) -> set[str]:
        try:
            return set(json.loads((self.root / PENDING).read_text()))
        except (FileNotFoundError, ValueError):
            return set()

    def publish(
        self, con: duckdb.DuckDBPyConnection, served: Iterable[str], rebuilt: set[str] | None, source: dict
    ) -> Version:
        """Publish the served marts of the warehouse open on ``con`` as a new current version.

        ``rebuilt``: the marts the build wrote (None: all of them). Other marts keep the files of
        the current version, unless they are missing from it or pending. Marts the warehouse does
        not have are left out (readers say they are not built yet).
        """
        with self._locked():
            previous = self.current()
            stale = None if rebuilt is None else set(rebuilt) | self._pending()
            present = {
                name: columns
                for name in served
                if (columns := self._columns(con, name))  # empty when the warehouse lacks the mart
            }
            name = version_name()
            tables, exported = {}, []
            for mart, columns in present.items():
                kept = previous.tables.get(mart) if previous else None
                if kept and stale is not None and mart not in stale and kept["columns"] == columns:
                    tables[mart] = kept
                else:
                    tables[mart] = self._export(con, mart, columns, name)
                    exported.append(mart)
            version = Version(name, datetime.now(UTC), tables, {**source, "exported": exported})
            self._write_catalog(version)
            write_text_atomically(self.root / "versions" / f"{name}.json", json.dumps(version.to_json(), indent=1))
            write_text_atomically(self.root / CURRENT, name)
            self._point_current_catalog(version)
            (self.root / PENDING).unlink(missing_ok=True)
            self._collect_garbage(version)
        return version

    @staticmethod
    def _columns(con: duckdb.DuckDBPyConnection, mart: str) -> list[list[str]]:
        return [
            [column, data_type]
            for column, data_type in con.execute(
                """SELECT column_name, data_type FROM information_schema.columns
                   WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position""",
                [SCHEMA, mart],
            ).fetchall()
        ]

    def _export(self, con: duckdb.DuckDBPyConnection, mart: str, columns: list[list[str]], version: str) -> dict:
        folder = self.root / "tables" / mart
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{version}.parquet"
        staged = folder / f".{version}.{uuid.uuid4().hex}.parquet"
        select = ", ".join(
            f"CAST({_quote(c)} AS DECIMAL(38, 0)) AS {_quote(c)}" if t in _WIDE_INTEGERS else _quote(c)
            for c, t in columns
        )
        rows = con.execute(
            f"COPY (SELECT {select} FROM {SCHEMA}.{_quote(mart)}) TO {_literal(str(staged))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        ).fetchall()[0][0]
        os.replace(staged, target)
        return {"file": str(target.relative_to(self.root)), "rows": int(rows), "columns": columns}

    def _write_catalog(self, version: Version) -> None:
        """A DuckDB file of views over the version's files, typed as in the warehouse."""
        folder = self.root / "versions"
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f".{version.name}.{uuid.uuid4().hex}.duckdb"
        with duckdb.connect(str(staged)) as cat:
            cat.execute(f"CREATE SCHEMA {SCHEMA}")
            for mart, table in version.tables.items():
                cols = ", ".join(f"CAST({_quote(c)} AS {t}) AS {_quote(c)}" for c, t in table["columns"])
                path = _literal(str((self.root / table["file"]).absolute()))
                cat.execute(f"CREATE VIEW {SCHEMA}.{_quote(mart)} AS SELECT {cols} FROM read_parquet({path})")
            cat.execute("CREATE SCHEMA serving")
            cat.execute(
                "CREATE TABLE serving.version AS "
                "SELECT ? AS version, CAST(? AS TIMESTAMPTZ) AS published_at, ? AS source",
                [version.name, version.published_at.isoformat(), json.dumps(version.source)],
            )
        os.replace(staged, self.catalog(version))

    def _point_current_catalog(self, version: Version) -> None:
        link = self.root / CURRENT_CATALOG
        staged = self.root / f".{CURRENT_CATALOG}.{uuid.uuid4().hex}"
        os.symlink(Path("versions") / f"{version.name}.duckdb", staged)
        os.replace(staged, link)

    def _collect_garbage(self, current: Version) -> None:
        """Drop versions past both limits, then the files no remaining version uses."""
        manifests = sorted((self.root / "versions").glob("*.json"), reverse=True)  # newest first
        kept: list[Version] = []
        for i, path in enumerate(manifests):
            try:
                version = Version.from_json(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError):
                continue
            if i < self.keep_versions or version.name == current.name or version.age_seconds() < self.keep_seconds:
                kept.append(version)
                continue
            path.unlink(missing_ok=True)
            for leftover in self.root.glob(f"versions/{version.name}.duckdb*"):
                leftover.unlink(missing_ok=True)
        used = {str(self.root / t["file"]) for v in kept for t in v.tables.values()}
        for path in (self.root / "tables").glob("*/*.parquet"):
            if str(path) not in used:
                path.unlink(missing_ok=True)
        for staged in (self.root / "versions").glob(".*"):  # catalogs of a publish that died
            if staged.is_file():
                staged.unlink(missing_ok=True)
        for folder in (self.root / "tables").iterdir():
            if folder.is_dir() and not any(folder.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)
