"""The dbt resource learns dbt's version without starting dbt, and agrees with dbt about it."""

from __future__ import annotations

import subprocess

from shopper_assets.transform import dbt_resource


def test_dbt_version_is_read_without_starting_dbt():
    resource = dbt_resource()
    printed = subprocess.run([resource.dbt_executable, "--version"], capture_output=True, text=True, check=True)
    assert f"installed: {resource._cli_version}" in printed.stdout
