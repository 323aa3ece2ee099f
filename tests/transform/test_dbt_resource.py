"""The dbt resource: dbt's version without starting dbt, no adapter in process, a tidy target folder."""

from __future__ import annotations

import os
import subprocess

from shopper_assets.transform import dbt_resource
from shopper_assets.transform.resources import prune_invocations


def test_dbt_version_is_read_without_starting_dbt():
    resource = dbt_resource()
    printed = subprocess.run([resource.dbt_executable, "--version"], capture_output=True, text=True, check=True)
    assert f"installed: {resource._cli_version}" in printed.stdout


def test_dagster_dbt_still_reads_the_dbt_version_through_the_overridden_property():
    """dagster-dbt still asks ``_cli_version`` (else the override silently lapses and every run pays
    ``dbt --version`` again); docs/private-apis.md."""
    import inspect
    from functools import cached_property

    from dagster_dbt import DbtCliResource

    assert isinstance(inspect.getattr_static(DbtCliResource, "_cli_version"), cached_property)
    assert "self._cli_version" in inspect.getsource(DbtCliResource.cli)


def test_dagster_dbt_still_takes_no_environment_per_invocation():
    """Why ShopperDbtCliResource.cli sets os.environ while dbt starts: ``DbtCliResource.cli`` copies the
    process environment and takes none of its own. When this fails, pass ``extra_env`` to it instead."""
    import inspect

    from dagster_dbt import DbtCliResource

    parameters = inspect.signature(DbtCliResource.cli).parameters
    assert not {"env", "extra_env", "environment"} & set(parameters)
    assert "os.environ.copy()" in inspect.getsource(DbtCliResource.cli)


def test_the_extra_environment_reaches_dbt_and_leaves_the_process_as_it_was(tmp_path, monkeypatch):
    """extra_env and the SHOPPER_PG_* of SHOPPER_PG_URL are in the environment dbt starts with; this
    process' environment is as before (dbt replaced by ``true``: only its start matters)."""
    monkeypatch.setenv("SHOPPER_PG_URL", "postgresql://someone:secret@db.example:6543/shop")
    monkeypatch.delenv("SHOPPER_PG_HOST", raising=False)
    monkeypatch.setenv("SHOPPER_PG_PORT", "7000")  # already set: wins over the URL's
    started: list[dict[str, str]] = []
    real_popen = subprocess.Popen

    def popen(args, **kwargs):
        started.append(kwargs["env"])
        return real_popen(["true"], **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    resource = dbt_resource().model_copy(update={"extra_env": {"SHOPPER_PROBE": "from-extra-env"}})
    before = dict(os.environ)
    resource.cli(["parse"], target_path=tmp_path / "target", raise_on_error=False).process.wait()
    (env,) = started
    assert env["SHOPPER_PROBE"] == "from-extra-env"
    assert (env["SHOPPER_PG_HOST"], env["SHOPPER_PG_PORT"], env["SHOPPER_PG_PASSWORD"]) == (
        "db.example",
        "7000",
        "secret",
    )
    assert dict(os.environ) == before


def test_no_dbt_adapter_is_opened_in_the_dagster_process():
    """dagster-dbt still calls the hook this resource overrides (else the override silently lapses)."""
    import inspect

    from dagster_dbt import DbtCliResource

    assert "self._initialize_dbt_core_adapter(" in inspect.getsource(DbtCliResource.cli)
    assert dbt_resource()._initialize_dbt_core_adapter(["build"]) is None


def test_old_invocation_folders_are_pruned_once_idle(tmp_path):
    now = 1_000_000.0
    for i in range(5):  # invocation i last wrote at now - i hours
        folder = tmp_path / f"shopper_dbt_assets-run{i}"
        folder.mkdir()
        (folder / "dbt.log").write_text("log")
        os.utime(folder / "dbt.log", (now - i * 3600, now - i * 3600))
    (tmp_path / "compiled").mkdir()  # a plain dbt run's folder, not an invocation's
    (tmp_path / "partial_parse.msgpack").write_bytes(b"")

    deleted = prune_invocations(tmp_path, keep=2, idle_seconds=2.5 * 3600, now=now)

    assert sorted(f.name for f in deleted) == ["shopper_dbt_assets-run3", "shopper_dbt_assets-run4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "compiled",
        "partial_parse.msgpack",
        "shopper_dbt_assets-run0",
        "shopper_dbt_assets-run1",
        "shopper_dbt_assets-run2",  # beyond the newest 2, but written to within the idle time
    ]
