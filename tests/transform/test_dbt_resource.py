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
