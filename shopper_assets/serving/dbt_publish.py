"""A dbt step's events, then the publish of what it built, with row counts on its materializations.

``publish_after_build`` replaces ``yield from invocation.stream()`` in a ``@dbt_assets`` body:

* events of the models that read the lake (and of views) go to Dagster as dbt reports them:
  ``marts_follow_sensor`` and declarative automation watch those materializations while the
  build runs;
* the events of the other models (tables) are held until dbt has exited, the build succeeded and
  ``serving.publish`` has published it; each then carries, per partition, the rows its model
  holds for that day (``dagster/row_count``; ``table_rows`` for models with no date column), so
  the UI plots them by partition and over time, and, when the build rebuilt the events of its
  days, ``event_to_published_seconds``: from the newest of those events to the publish. The step
  holds the ``duckdb`` pool throughout, so the counts and the published copy are exactly what the
  build wrote;
* when dbt fails (or the publish does), the held events go out as they are; then, and when the run
  is stopped, the models dbt wrote are noted, so the next successful build publishes them too.
  Readers keep the last good version meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, Output

from shopper_assets.serving.store import BuiltModel, PublishRequest, ServingStore

LAKE_TABLE = AssetKey("cleaned_events")


def model_relations(invocation) -> dict[AssetKey, tuple[BuiltModel, str]]:
    """Asset key -> (the model's relation and date column, its materialization) from the manifest.

    The date column is the one the ``window_table`` materialization rebuilds by (``window_column``),
    or, for models replaced by key, the column that dates their rows (``replace_keys.prune_column``).
    """
    translator = invocation.dagster_dbt_translator
    relations = {}
    for node in invocation.manifest["nodes"].values():
        if node.get("resource_type") != "model":
            continue
        config = node.get("config") or {}
        keyed = config.get("increment") if isinstance(config.get("increment"), dict) else config.get("replace_keys")
        day_column = config.get("window_column") or (keyed or {}).get("prune_column")
        model = BuiltModel(node.get("alias") or node["name"], node["schema"], day_column)
        relations[translator.get_asset_key(node)] = (model, config.get("materialized") or "")
    return relations


def _event_key(context: AssetExecutionContext, event: Any) -> AssetKey | None:
    if isinstance(event, Output):
        return context.assets_def.keys_by_output_name.get(event.output_name)
    return getattr(event, "asset_key", None)


def _reads_lake(context: AssetExecutionContext) -> set[AssetKey]:
    return {spec.key for spec in context.assets_def.specs if LAKE_TABLE in {d.asset_key for d in spec.deps}}


def _run_days(context: AssetExecutionContext) -> tuple[date, ...] | None:
    if not context.assets_def.partitions_def:
        return None
    return tuple(date.fromisoformat(key) for key in context.partition_keys)


def publish_after_build(context: AssetExecutionContext, invocation, serving: ServingStore) -> Iterator[Any]:
    """Yield the build's events; publish it once it succeeded (see the module docstring)."""
    relations = model_relations(invocation)
    live = _reads_lake(context) | {key for key, (_, kind) in relations.items() if kind in ("view", "ephemeral")}
    held: list[tuple[AssetKey, Any]] = []
    built: dict[AssetKey, BuiltModel] = {}
    published = False
    try:
        for event in invocation.stream():
            key = _event_key(context, event)
            if isinstance(event, Output | AssetMaterialization) and key in relations:
                built[key] = relations[key][0]
            if key is None or key in live:
                yield event
            else:
                held.append((key, event))
        days = _run_days(context)
        tables = tuple(m for key, m in built.items() if key not in live)
        result = serving.publish(
            PublishRequest(
                built=tables,
                days=days,
                source={"run_id": context.run.run_id, "days": [d.isoformat() for d in days or ()]},
            )
        )
        published = True
    except Exception:
        yield from (event for _, event in held)  # what dbt did build is reported, without row counts
        raise
    finally:
        if not published:  # dbt failed, the publish failed, or the run was stopped
            serving.note_unpublished([m.name for m in built.values()])
    latency = result.event_to_published_seconds
    context.log.info(
        f"Published serving version {result.version} ({len(tables)} tables rebuilt)"
        + (f"; newest event {latency:,.1f} s before the publish" if latency is not None else "")
    )
    for key, event in held:
        if isinstance(event, Output) and key in built:
            _add_counts(context, key, result.counts.get(built[key].name, {}), result, days is not None)
        yield event


def _add_counts(
    context: AssetExecutionContext, key: AssetKey, counts: Mapping[date | None, int], result, partitioned: bool
) -> None:
    """Rows of each day on that day's materialization; a whole table's rows as ``table_rows`` on a
    partitioned asset (they are not the partition's), as the row count of an unpartitioned one."""
    run_figures: dict = {"serving_version": result.version}
    if result.event_to_published_seconds is not None:
        run_figures["event_to_published_seconds"] = result.event_to_published_seconds
    context.add_asset_metadata(run_figures, asset_key=key)
    if None in counts:
        label = "table_rows" if partitioned else "dagster/row_count"
        context.add_asset_metadata({label: counts[None]}, asset_key=key)
        return
    for day, rows in counts.items():
        context.add_asset_metadata({"dagster/row_count": rows}, asset_key=key, partition_key=day.isoformat())
