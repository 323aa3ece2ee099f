"""Deployment files are valid as written (checked statically: no Docker engine runs in CI)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_docker_compose_config_is_valid(tmp_path):
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed; .ci/run installs it with apt-get")
        pytest.skip("docker-compose not installed (CI installs it)")
    env_file = tmp_path / ".env"  # the stack needs its passwords (tests/faults/test_deployment_defaults.py)
    env_file.write_text(
        "POSTGRES_PASSWORD=a-real-secret-1\nSHOPPER_READER_PASSWORD=a-real-secret-2\nMINIO_ROOT_PASSWORD=a-real-secret-1\n"
    )
    result = subprocess.run(
        [binary, "--env-file", str(env_file), "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/pytest"
    assert command in readme and command in ci


def test_dagster_yaml_limits_the_duckdb_pool():
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1


def _prod_instance():
    spec = importlib.util.spec_from_file_location("prod_instance", ROOT / "deploy" / "prod_instance.py")
    prod_instance = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prod_instance)
    return prod_instance


def test_the_prod_instance_is_dagster_yaml_plus_postgres_storage():
    """deploy/dagster.prod.yaml is generated from dagster.yaml (deploy/prod_instance.py): the committed file
    is what the script writes, and its only settings of its own are the storage, the run slots of the
    lake pool's runs and the launcher (runs start in the code container, not forked on the local machine)."""
    prod_instance = _prod_instance()
    written = (ROOT / "deploy" / "dagster.prod.yaml").read_text()
    assert written == prod_instance.render((ROOT / "dagster.yaml").read_text()), "run python deploy/prod_instance.py"
    local, prod = yaml.safe_load((ROOT / "dagster.yaml").read_text()), yaml.safe_load(written)
    assert "storage" not in local
    assert prod.pop("storage") == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    assert prod["concurrency"]["runs"].pop("max_concurrent_runs") == prod_instance.LAKE_POOL_LIMIT + 2
    local["concurrency"]["runs"].pop("max_concurrent_runs")
    local_launcher, prod_launcher = local.pop("run_launcher"), prod.pop("run_launcher")
    assert (local_launcher["module"], local_launcher["class"]) == ("shopper_assets.fork_launcher", "ForkingRunLauncher")
    assert (prod_launcher["module"], prod_launcher["class"]) == ("shopper_assets.run_health", "HeartbeatRunLauncher")
    assert prod_launcher["config"] == local_launcher["config"]
    assert prod == local


def test_local_and_prod_instances_schedule_runs_alike():
    """Pools (default limit 1, run buffer), threaded sensors, the freeing of dead runs' slots and the freshness
    daemon are the same locally and in docker-compose; prod only has more run slots (its lake pool)."""
    local = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    prod = yaml.safe_load((ROOT / "deploy" / "dagster.prod.yaml").read_text())
    for section in ("sensors", "run_coordinator", "run_monitoring", "freshness"):
        assert local[section] == prod[section], section
    assert local["concurrency"]["pools"] == prod["concurrency"]["pools"]
    assert prod["concurrency"]["runs"]["max_concurrent_runs"] > local["concurrency"]["runs"]["max_concurrent_runs"]
    assert local["sensors"]["use_threads"]


def test_the_prod_daemon_gives_the_lake_pool_its_slots_and_dbt_keeps_one(tmp_path):
    """A named pool's limit lives in the instance's storage, not its file: the daemon of docker-compose sets the
    lake pool's at start. On an instance of the prod file (SQLite storage instead of Postgres), that command
    gives "lake" its slots while "dbt" keeps the default limit of 1 (one dbt build at a time)."""
    from dagster import DagsterInstance

    prod_instance = _prod_instance()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert any(prod_instance.POOL_LIMIT_COMMAND in part for part in compose["services"]["daemon"]["command"])
    assert prod_instance.LAKE_POOL_LIMIT > 1
    prod = yaml.safe_load((ROOT / "deploy" / "dagster.prod.yaml").read_text())
    del prod["storage"], prod["run_launcher"]  # SQLite storage; the default launcher
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(prod))
    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    subprocess.run([str(dagster), *prod_instance.POOL_LIMIT_COMMAND.split()[1:]], env=env, check=True, timeout=120)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.event_log_storage.get_pool_limits()  # the command wrote a limit
        limits = {p.name: p.limit for p in instance.event_log_storage.get_pool_limits()}
        assert limits["lake"] == prod_instance.LAKE_POOL_LIMIT
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1  # "dbt" is not configured
        assert "dbt" not in limits


def test_instance_retries_only_the_sensors_lake_runs(tmp_path):
    """run_retries is on (local and prod); only runs tagged dagster/max_retries, the sensors' lake runs, retry."""
    from dagster import DagsterInstance

    from shopper_assets.automation.lake_runs import lake_run_requests

    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 0
    prod = yaml.safe_load((ROOT / "deploy" / "dagster.prod.yaml").read_text())
    assert prod["run_retries"] == {"enabled": True}
    (request,) = lake_run_requests([datetime(2026, 11, 20, 5)], "kafka:test")
    assert int(request.tags["dagster/max_retries"]) >= 1


def test_the_read_side_services_read_postgres_as_the_reader_on_localhost():
    """The API and the dashboard run in prod mode on Postgres with the read-only role, published on
    127.0.0.1 by default; Postgres creates that role at first start."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name, port, command in (("api", 8000, "serve"), ("dashboard", 8501, "dashboard")):
        service = services[name]
        assert service["command"][:2] == ["shopper", command]
        (published,) = service["ports"]
        assert published == f"${{SHOPPER_BIND_ADDRESS:-127.0.0.1}}:{port}:{port}"
        env = service["environment"]
        assert env["SHOPPER_ENV"] == "prod"
        assert env["SHOPPER_PG_URL"].startswith("postgresql://${SHOPPER_READER_USER:-shopper_reader}:")
        assert not {k for k in env if k.startswith(("AWS_", "KAFKA_", "POSTGRES_"))}  # no pipeline credentials
    postgres = services["postgres"]
    assert "./deploy/postgres-reader.sh:/docker-entrypoint-initdb.d/20-reader-role.sh:ro" in postgres["volumes"]
    assert "SHOPPER_READER_PASSWORD" in postgres["environment"]
