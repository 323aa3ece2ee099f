"""Lake storage behind one interface, so assets never know where partitions live.

Lake tables are hourly Parquet partitions (``<root>/<table>/date=YYYY-MM-DD/hour=HH/*.parquet``), or
daily ones (``<root>/<table>/date=YYYY-MM-DD/``) for tables that say so (ad spend);
assets compute on them with an in-process DuckDB engine (vectorised, parallel, spills to disk) and
hand the store the rows of a time window, which replace exactly that window's partitions, or are
added to them as new part files (micro-batches). Each partition folder also holds ``_parts.json``,
the record of which part files it has and what they were made from (see ``Batch``).
``LocalLakeStore`` keeps the files under ``$SHOPPER_DATA_DIR/lake`` (the embedded default); a
production store keeps them in S3 with the same methods. Because compute runs in memory and files
are swapped per partition, writers of different partitions never contend for the warehouse file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from dagster import ConfigurableResource
from pydantic import Field

from shopper_assets.contract.tables import LAKE_TABLES, PART_COLUMN, PARTITION_COLUMN, LakeTable
from shopper_assets.sql_text import glob_literal, literal
from shopper_assets.storage.scratch import Scratch

PARTS_MANIFEST = "_parts.json"  # per partition folder: its write batches (see Batch)


@dataclass(frozen=True)
class Batch:
    """One write into a partition: the part files it added and the inputs they were made from.

    Inputs are names with a version: landing files (size and mtime, or ETag) for raw_events, raw
    part names for the cleaned layer. Knowing what a partition was built from lets the next run
    process only what is new, and rebuild the partition whole when an input changed.
    """

    parts: tuple[str, ...] = ()
    inputs: dict[str, str] = field(default_factory=dict)
    # raw_events: per landing file read, [lines in the file, lines of it in this partition], so every
    # landed line can be accounted for from the manifests alone
    lines: dict[str, list[int]] | None = field(default=None, compare=False)
    # What readers of the batch recorded about it, by name (``record_notes``); opaque to storage,
    # kept as further keys of the batch's manifest entry. Same parts and inputs is the same batch.
    notes: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        data = {"parts": list(self.parts), "inputs": self.inputs}
        if self.lines is not None:
            data["lines"] = self.lines
        return {**data, **{k: v for k, v in self.notes.items() if k not in _BATCH_KEYS}}

    @classmethod
    def from_json(cls, data: dict) -> Batch:
        notes = {k: v for k, v in data.items() if k not in _BATCH_KEYS}
        return cls(parts=tuple(data["parts"]), inputs=dict(data["inputs"]), lines=data.get("lines"), notes=notes)


_BATCH_KEYS = ("parts", "inputs", "lines")


InputsByHour = dict[datetime, dict[str, str]]


def consumed(batches: list[Batch]) -> dict[str, str]:
    """Every input the batches were made from, with its version."""
    return {name: version for b in batches for name, version in b.inputs.items()}


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename: a reader sees the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_manifest(folder: Path, batches: list[Batch]) -> None:
    write_text_atomically(folder / PARTS_MANIFEST, json.dumps({"batches": [b.to_json() for b in batches]}))


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (part files never change), copying where links are not possible."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def partition_path(table: str, start: datetime) -> str:
    """Relative folder of one table partition (an hour, or a day for daily tables)."""
    return f"{table}/{LAKE_TABLES[table].folder(start)}"


def sql_ts(ts: datetime) -> str:
    return f"TIMESTAMP '{ts:%Y-%m-%d %H:%M:%S}'"


def window_filter(start: datetime, end: datetime, column: str = PARTITION_COLUMN) -> str:
    return f"{column} >= {sql_ts(start)} AND {column} < {sql_ts(end)}"


def typed_columns(spec: LakeTable) -> str:
    """The table's columns, in order, each cast to its declared type (a SELECT list)."""
    return ", ".join(f"CAST({name} AS {sql_type}) AS {name}" for name, sql_type in spec.columns)


def typed_select(spec: LakeTable, query: str) -> str:
    """The table's columns, in order and with their declared types, from any query that has them."""
    return f"SELECT {typed_columns(spec)} FROM ({query}) AS typed_source"


def parquet_relation(spec: LakeTable, files: list[Path], with_part: bool = False) -> str:
    """SQL relation with the rows of the given Parquet files, typed as the table declares; with
    ``with_part``, also each row's part file name (``PART_COLUMN``)."""
    if not files:
        return empty_relation(spec, with_part)
    listed = ", ".join(literal(f) for f in files)
    if not with_part:
        return typed_select(spec, f"SELECT * FROM read_parquet([{listed}])")
    return with_part_column(spec, f"read_parquet([{listed}], filename = true)")


def with_part_column(spec: LakeTable, reader: str) -> str:
    """The table's typed columns and the part file name of each row, from a ``read_parquet(...,
    filename = true)``. The name is not cast, so DuckDB can skip every file a filter on it excludes."""
    return f"SELECT {typed_columns(spec)}, parse_filename(filename) AS {PART_COLUMN} FROM {reader}"


def empty_relation(spec: LakeTable, with_part: bool = False) -> str:
    cols = ", ".join(f"CAST(NULL AS {sql_type}) AS {name}" for name, sql_type in spec.columns)
    part = f", CAST(NULL AS VARCHAR) AS {PART_COLUMN}" if with_part else ""
    return f"SELECT {cols}{part} WHERE false"


class LakeSession:
    """An in-process DuckDB engine over the lake's Parquet partitions under a local root.

    Remote stores subclass it and override the two hooks: ``fetch`` brings a window's partition
    files into the local root before a scan, ``publish`` ships freshly swapped partitions out
    (e.g. to S3, and the cleaned layer into the warehouse). Staged writes and swapped-out
    partitions live in the session's ``scratch`` folder, which a killed run cannot leave behind
    (see storage/scratch.py).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, root: Path, scratch: Scratch):
        self.con = con
        self.root = root
        self.scratch = scratch

    def fetch(self, table: str, hours: list[datetime]) -> None:
        """Make the partitions of ``hours`` present under ``root`` (nothing to do locally)."""

    def publish(self, table: str, hours: list[datetime]) -> None:
        """Ship the partitions of ``hours`` just written under ``root`` (nothing to do locally)."""

    def scan(self, table: str, start: datetime, end: datetime, with_part: bool = False) -> str:
        """SQL relation with the rows of ``table`` in [start, end), reading only those partitions."""
        hours = LAKE_TABLES[table].partitions_in(start, end)
        self.fetch(table, hours)  # all at once (a remote store fetches hours in parallel)
        return self.scan_parts(table, {hour: self.part_names(table, hour) for hour in hours}, with_part)

    def batches(self, table: str, hour: datetime) -> list[Batch] | None:
        """The write batches of one partition, oldest first; None when its manifest cannot be trusted.

        A partition that was never written has no batches. One whose manifest is missing, unreadable
        or names other part files than the folder holds (written before manifests existed, or
        changed by hand) is None: the caller rebuilds it whole.
        """
        self.fetch(table, [hour])
        folder = self.root / partition_path(table, hour)
        if not folder.is_dir():
            return []
        try:
            listed = [Batch.from_json(b) for b in json.loads((folder / PARTS_MANIFEST).read_text())["batches"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if {p for b in listed for p in b.parts} != set(self.part_names(table, hour)):
            return None
        return listed

    def manifest(self, table: str, hour: datetime) -> list[Batch] | None:
        """What ``batches`` says, for a partition this session need not read (a remote store reads
        only the manifest, not the part files)."""
        return self.batches(table, hour)

    def part_names(self, table: str, hour: datetime) -> list[str]:
        """The part files of one partition, by name."""
        self.fetch(table, [hour])
        return sorted(p.name for p in (self.root / partition_path(table, hour)).glob("*.parquet"))

    def scan_parts(self, table: str, parts: InputsByHour | dict[datetime, list[str]], with_part: bool = False) -> str:
        """SQL relation with the rows of the named part files only (``parts``: hour -> names)."""
        files = [self.root / partition_path(table, h) / name for h, names in parts.items() for name in names]
        return parquet_relation(LAKE_TABLES[table], files, with_part)

    def record_notes(self, table: str, hour: datetime, noted: list[Batch]) -> None:
        """Store the notes of the given batches (same parts and inputs) in the partition's manifest.

        A batch no longer in the partition (rewritten meanwhile) is skipped: its notes are stale.
        """
        batches = self.batches(table, hour)
        if not batches:
            return
        # Batch equality ignores notes: same parts and inputs is the same batch
        updated = [next((replace(b, notes={**b.notes, **n.notes}) for n in noted if n == b), b) for b in batches]
        _write_manifest(self.root / partition_path(table, hour), updated)
        self.publish(table, [hour])

    def record_inputs(self, table: str, inputs: InputsByHour) -> None:
        """Set what the given partitions were made from, as one batch of all their parts."""
        for hour, made_from in inputs.items():
            folder = self.root / partition_path(table, hour)
            folder.mkdir(parents=True, exist_ok=True)
            batch = Batch(parts=tuple(self.part_names(table, hour)), inputs=dict(made_from))
            _write_manifest(folder, [batch])
        self.publish(table, list(inputs))

    def replace_window(
        self,
        table: str,
        start: datetime,
        end: datetime,
        query: str,
        inputs: InputsByHour | None = None,
        input_lines: dict[str, int] | None = None,
    ) -> int:
        """Replace the partitions of ``table`` in [start, end) with the rows of ``query``.

        ``inputs`` records, per hour, what the rows were made from (see ``Batch``); with
        ``input_lines`` (lines per input file), each batch also records how many of its rows came from
        each input (``Batch.lines``, counted on the rows' ``source_file``). Rows are written
        to a staging folder first (parallel Parquet writer), then each hour's folder is swapped in;
        an hour with no rows is emptied, so re-materializing never leaves leftovers. A row outside
        the window aborts the write before anything is swapped.
        """
        return self._write(table, start, end, query, inputs or {}, append=False, input_lines=input_lines)

    def append_window(
        self,
        table: str,
        start: datetime,
        end: datetime,
        query: str,
        inputs: InputsByHour,
        input_lines: dict[str, int] | None = None,
    ) -> int:
        """Add the rows of ``query`` to the partitions of ``table`` in [start, end) as new part files.

        The parts already there are kept as they are (hard links into the staged folder, which is
        swapped in whole, so readers and a crash see the old partition or the new one). Only hours
        named in ``inputs`` are touched; each gains one batch recording ``inputs[hour]`` (and
        ``input_lines``, as in ``replace_window``).
        """
        return self._write(table, start, end, query, inputs, append=True, input_lines=input_lines)

    def _write(
        self,
        table: str,
        start: datetime,
        end: datetime,
        query: str,
        inputs: InputsByHour,
        append: bool,
        input_lines: dict[str, int] | None = None,
    ) -> int:
        spec = LAKE_TABLES[table]
        column = spec.partition_column
        staging = self.scratch.folder(table)
        every = spec.partitions_in(start, end)
        hours = [h for h in every if h in inputs] if append else every
        inside = window_filter(start, end, column)
        if append:  # only the hours named in ``inputs``
            inside = f"{column} IN ({', '.join(sql_ts(h) for h in hours)})" if hours else "false"
        unit = "days" if spec.daily else "hours"
        guard = f"CASE WHEN {inside} THEN true ELSE error('row outside the {unit} being written') END"
        folders = "date" if spec.daily else "date, hour"
        hour = "" if spec.daily else f", strftime({column}, '%H') AS hour"
        try:
            written = self.con.execute(
                f"""COPY (
                        SELECT *, strftime({column}, '%Y-%m-%d') AS date{hour}
                        FROM ({typed_select(spec, query)}) AS rows WHERE {guard}
                    ) TO {literal(staging)} (FORMAT parquet, PARTITION_BY ({folders}), COMPRESSION zstd,
                                     FILENAME_PATTERN 'part-{{i}}')"""
            ).fetchall()[0][0]
            for hour in hours:
                staged = staging / spec.folder(hour)
                staged.mkdir(parents=True, exist_ok=True)
                tag = uuid.uuid4().hex[:12]  # part names are never reused, so S3 and Postgres can tell new from known
                parts = []
                for i, written_part in enumerate(sorted(staged.glob("*.parquet"))):
                    parts.append(f"part-{tag}-{i}.parquet")
                    written_part.rename(staged / parts[-1])
                batches = []
                if append:
                    batches = self.batches(table, hour)
                    if batches is None:
                        raise RuntimeError(f"{table} {hour:%Y-%m-%d %H}:00 has no trustworthy manifest; rebuild it")
                    for old in (p for b in batches for p in b.parts):
                        link_or_copy(self.root / partition_path(table, hour) / old, staged / old)
                made_from = dict(inputs.get(hour, {}))
                lines = None if input_lines is None else self._lines_by_input(staged, parts, made_from, input_lines)
                batches.append(Batch(parts=tuple(parts), inputs=made_from, lines=lines))
                _write_manifest(staged, batches)
                self._swap(staged, self.root / partition_path(table, hour))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.publish(table, hours)
        return int(written)

    def _lines_by_input(
        self, staged: Path, parts: list[str], made_from: dict[str, str], input_lines: dict[str, int]
    ) -> dict[str, list[int]]:
        """[lines of the input, rows of it in these parts] per input of a staged batch."""
        counted = {}
        if parts:
            listed = ", ".join(literal(staged / p) for p in parts)
            counted = dict(
                self.con.execute(f"SELECT source_file, count(*) FROM read_parquet([{listed}]) GROUP BY 1").fetchall()
            )
        return {name: [input_lines.get(name, 0), counted.get(name, 0)] for name in made_from}

    def _swap(self, staged: Path, target: Path) -> None:
        """Swap one partition folder in; the old one leaves the table's tree before it is deleted."""
        trash = self.scratch.folder("trash")
        if target.exists():
            target.rename(trash)
        if staged.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            staged.rename(target)
        shutil.rmtree(trash, ignore_errors=True)

    def count(self, table: str, start: datetime, end: datetime) -> int:
        return self.con.execute(f"SELECT count(*) FROM ({self.scan(table, start, end)})").fetchall()[0][0]


@contextmanager
def compute_engine(scratch: Scratch, memory_limit: str, threads: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-process DuckDB connection in UTC that spills into the session's scratch folder.

    The one session setup of every lake store (``LakeStore.session``). Limits are connection
    config, not SQL text, so a configured value can never be read as SQL.
    """
    config = {"memory_limit": memory_limit, "temp_directory": str(scratch.path / "spill")}
    if threads:
        config["threads"] = int(threads)
    con = duckdb.connect(config=config)
    try:
        con.execute("SET TimeZone = 'UTC'")  # not at connect: ICU, which owns the setting, loads on first use
        yield con
    finally:
        con.close()


class LakeStore(ConfigurableResource):
    """Opens compute sessions on the lake. Subclasses decide where the Parquet files live (``root``,
    and the session's ``fetch``/``publish`` hooks); every store computes in the same engine."""

    # 2GB keeps a lake step of a 10M-event day under 4 GiB of RSS (DuckDB's share plus the Arrow
    # batches of the files being read; docs/benchmarks.md); DuckDB spills beyond it. Raise it for
    # hours much larger than ~1M events.
    memory_limit: str = Field(default="2GB", description="DuckDB memory limit of a session (spills beyond it)")
    threads: int = Field(default=0, description="DuckDB threads of a session; 0 = all cores")

    @property
    def root(self) -> Path:
        """The local folder the sessions read and write partitions under."""
        raise NotImplementedError

    @contextmanager
    def session(self) -> Iterator[LakeSession]:
        # runs may share the root: each session stages and spills in its own scratch folder
        with Scratch(self.root) as scratch, compute_engine(scratch, self.memory_limit, self.threads) as con:
            yield self._open_session(con, scratch)

    def _open_session(self, con: duckdb.DuckDBPyConnection, scratch: Scratch) -> LakeSession:
        return LakeSession(con, self.root, scratch)

    def publish_to_warehouse(self) -> None:
        """Make the lake tables readable from the warehouse as ``lake.<table>``, where dbt reads them."""
        raise NotImplementedError

    @contextmanager
    def writing(self, family: str, start: datetime, end: datetime) -> Iterator[None]:
        """Hold the partitions [start, end) of ``family`` (the tables one step writes) against any other
        run writing them, for the step's whole read-modify-write.

        Nothing to do here: locally every writer shares the one-slot ``duckdb`` pool. A store whose
        writers run side by side (prod's ``lake`` pool) takes a lock per partition.
        """
        yield


class LocalLakeStore(LakeStore):
    """Parquet partitions under ``$SHOPPER_DATA_DIR/lake`` on the local disk."""

    data_dir: str
    duckdb_path: str

    @property
    def root(self) -> Path:
        return Path(self.data_dir) / "lake"

    def publish_to_warehouse(self) -> None:
        """``lake.<table>`` views in the DuckDB warehouse over all partition files, for every lake table,
        with each row's part file name (``PART_COLUMN``).

        The views glob the partition folders, so new partitions need no change to them: when the
        warehouse already has these exact views (their comment holds a digest of their SQL), this
        only reads the catalog, read-only, and never takes the file's write lock. Readers of the
        marts use the published copy (serving/), but an ad-hoc reader holding the warehouse open
        read-only then still leaves lake runs alone. An empty schema file per table keeps a view
        bound before its first partition exists: the ad-spend views
        exist (empty, typed) even when no ad spend was ever landed, so dbt builds.
        """
        Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        views = {}
        for name, spec in LAKE_TABLES.items():
            schema_file = self.root / name / "_schema.parquet"
            if not schema_file.exists():
                schema_file.parent.mkdir(parents=True, exist_ok=True)
                with duckdb.connect() as con:
                    con.execute(f"COPY ({empty_relation(spec)}) TO {literal(schema_file)} (FORMAT parquet)")
            views[name] = with_part_column(
                spec, f"read_parquet({glob_literal(self.root / name, '**/*.parquet')}, filename = true)"
            )
        digest = "shopper:" + hashlib.sha256(json.dumps(views, sort_keys=True).encode()).hexdigest()[:16]
        if self._views_are(digest, list(views)):
            return
        with duckdb.connect(self.duckdb_path) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS lake")
            for name, select in views.items():
                con.execute(f"CREATE OR REPLACE VIEW lake.{name} AS {select}")
                con.execute(f"COMMENT ON VIEW lake.{name} IS {literal(digest)}")

    def _views_are(self, digest: str, names: list[str]) -> bool:
        """Whether the warehouse holds the lake views with this digest (read-only look)."""
        if not Path(self.duckdb_path).exists():
            return False
        try:
            with duckdb.connect(self.duckdb_path, read_only=True) as con:
                found = con.execute(
                    "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'lake' AND comment = ? "
                    "AND view_name IN (SELECT unnest(?))",
                    [digest, names],
                ).fetchall()[0][0]
        except duckdb.Error:  # held by a writer, or not a database yet: let the write say why
            return False
        return found == len(names)
