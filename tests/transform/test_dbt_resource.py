"""The dbt resource learns dbt's version without starting dbt, and agrees with dbt about it."""

from __future__ import annotations

import subprocess

from shopper_assets.transform import dbt_resource


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
