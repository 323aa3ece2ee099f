"""The dbt project itself: manifest on a fresh clone, profiles, schema names, contract sync."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from shopper_assets.contract.events import ACCEPTED_VALUES, FUNNEL_STEPS
from shopper_assets.transform import DBT_PROJECT_DIR, ensure_manifest
from shopper_assets.transform.project import build_dbt_project, dbt_executable, manifest_is_stale
from shopper_assets.transform.resources import ShopperDbtCliResource, dbt_environment, pg_env_from_url
from tests.built import SETTINGS, dbt_models


def copy_project(tmp_path: Path) -> Path:
    dst = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, dst, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return dst


def test_manifest_made_on_fresh_clone_without_warehouse(tmp_path, monkeypatch):
    from dagster_dbt import DbtProject

    project_dir = copy_project(tmp_path)
    missing = tmp_path / "nowhere" / "shopper.duckdb"
    monkeypatch.setenv("SHOPPER_DUCKDB_PATH", str(missing))
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir, target="local")
    assert manifest_is_stale(project)
    dbt = ShopperDbtCliResource(project_dir=project, dbt_executable=dbt_executable(), extra_env=dbt_environment())
    manifest = ensure_manifest(project, dbt)
    assert manifest.exists() and not manifest_is_stale(project)
    assert not missing.exists() and not missing.parent.exists()
    nodes = json.loads(manifest.read_text())["nodes"]
    assert {n["schema"] for n in nodes.values() if n["resource_type"] == "model"} == {
        "staging",
        "intermediate",
        "marts",
    }


PARSE_ONCE = """
import os, sys, time
from pathlib import Path
from dagster_dbt import DbtProject
from shopper_assets.transform import project as p

def fake_parse(project, dbt):  # a slow parse that records who ran it
    with open(sys.argv[2], "a") as log:
        log.write(f"{os.getpid()}\\n")
    time.sleep(2)
    project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
    project.manifest_path.write_text("{}")

p._parse = fake_parse
project = DbtProject(project_dir=sys.argv[1], profiles_dir=sys.argv[1], target="local")
p.ensure_manifest(project, dbt=None)
"""


def test_processes_building_the_definitions_at_once_parse_once(tmp_path):
    """The webserver, the daemon and run workers may build the definitions at the same moment on a fresh
    clone: one of them parses, the others wait for its manifest instead of parsing again."""
    project_dir, log = copy_project(tmp_path), tmp_path / "parsed_by.txt"
    script = [sys.executable, "-c", PARSE_ONCE, str(project_dir), str(log)]
    processes = [subprocess.Popen(script) for _ in range(3)]
    assert [process.wait(timeout=120) for process in processes] == [0, 0, 0]
    assert len(log.read_text().split()) == 1


def test_repo_manifest_is_fresh():
    """Once the definitions' dbt assets are built, the repository's manifest is up to date."""
    dbt_models()
    assert not manifest_is_stale(build_dbt_project(SETTINGS))


def test_prod_target_parses_without_env(tmp_path, monkeypatch):
    project_dir = copy_project(tmp_path)
    for var in ("SHOPPER_PG_HOST", "SHOPPER_PG_PORT", "SHOPPER_PG_USER", "SHOPPER_PG_PASSWORD", "SHOPPER_PG_DBNAME"):
        monkeypatch.delenv(var, raising=False)
    result = subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--target",
            "prod",
            "--profiles-dir",
            str(project_dir),
            "--project-dir",
            str(project_dir),
        ],
        capture_output=True,
        text=True,
        cwd=project_dir,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((project_dir / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "postgres"


def test_profiles_targets():
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["shopper"]["outputs"]
    assert profiles["local"]["type"] == "duckdb" and "SHOPPER_DUCKDB_PATH" in profiles["local"]["path"]
    assert profiles["prod"]["type"] == "postgres"


def test_pg_env_from_url():
    assert pg_env_from_url("postgresql://ann:s%40cret@db.example:6543/warehouse") == {
        "SHOPPER_PG_HOST": "db.example",
        "SHOPPER_PG_PORT": "6543",
        "SHOPPER_PG_DBNAME": "warehouse",
        "SHOPPER_PG_USER": "ann",
        "SHOPPER_PG_PASSWORD": "s@cret",
    }
    assert pg_env_from_url("postgresql:///shop?host=/run/pg")["SHOPPER_PG_HOST"] == "/run/pg"


ALIASES = {"entry_referrer": "referrer", "acquisition_referrer": "referrer", "entry_page": "page"}


def test_accepted_values_follow_the_contract():
    """The accepted_values tests in the yml files use exactly the contract's values."""
    dbt_models()  # the manifest is prepared
    manifest = json.loads(build_dbt_project(SETTINGS).manifest_path.read_text())
    seen = set()
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if meta.get("name") != "accepted_values":
            continue
        field = ALIASES.get(node["column_name"], node["column_name"])
        if field in ACCEPTED_VALUES:
            assert tuple(meta["kwargs"]["values"]) == ACCEPTED_VALUES[field], node["unique_id"]
            seen.add(field)
    assert seen == set(ACCEPTED_VALUES)


def test_contract_values_macro_follows_the_contract():
    """macros/cross_db.sql contract_values() (used to decode entry_page) lists the contract's values."""
    macro = (DBT_PROJECT_DIR / "macros" / "cross_db.sql").read_text()
    for field in ("page", "device_type", "referrer", "user_type"):
        assert f"'{field}': {list(ACCEPTED_VALUES[field])!r}," in macro, field


def test_funnel_steps_follow_the_contract():
    macro = (DBT_PROJECT_DIR / "macros" / "cross_db.sql").read_text()
    assert "{{ return(" + repr(list(FUNNEL_STEPS)) + ") }}" in macro


def test_source_declares_cleaned_events_asset():
    sources = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "sources.yml").read_text())["sources"]
    table = sources[0]["tables"][0]
    assert (sources[0]["name"], sources[0]["schema"], table["name"]) == ("lake", "lake", "cleaned_events")
    assert table["meta"]["dagster"]["asset_key"] == ["cleaned_events"]


def test_windowed_models_use_dbt_incremental_except_where_measured():
    """Windowed models are dbt incremental delete+insert models keyed on the day column the publish
    counts rows by, except the increments (docs/dbt-machinery.md "Increments" says why dbt's strategies
    do not do their job): fct_events loads by lake part, the nine folding models record their state."""
    dbt_models()  # prepares the manifest
    models = {
        node["name"]: node["config"]
        for node in json.loads(build_dbt_project(SETTINGS).manifest_path.read_text())["nodes"].values()
        if node["resource_type"] == "model"
    }
    custom = {name: config for name, config in models.items() if config["materialized"] == "window_table"}
    folding = {
        "int_session_days",
        "int_user_days",
        "int_product_days",
        "int_campaign_touches",
        "int_campaign_days",
        "fct_order_items",
        "fct_sessions",
        "fct_orders",
        "dim_users",
    }
    assert set(custom) == {"fct_events", *folding}
    assert custom["fct_events"]["increment"] == "lake_parts"
    for name in folding:
        assert isinstance(custom[name]["increment"], dict), name
        assert [h["sql"] for h in custom[name]["post-hook"]] == ["{{ increment_record() }}"], name
    doc = (DBT_PROJECT_DIR.parent / "docs" / "dbt-machinery.md").read_text()
    assert all(f"`{name}`" in doc for name in custom)
    incremental = {name: config for name, config in models.items() if config["materialized"] == "incremental"}
    assert len(incremental) == 11
    for name, config in incremental.items():
        assert config["incremental_strategy"] == "delete+insert", name
        assert config["on_schema_change"] == "fail", name
        assert config["unique_key"] == config.get("window_column") and config["unique_key"], name
