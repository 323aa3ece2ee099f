"""A code location for the pool fault tests: one asset in the ``duckdb`` pool that holds its slot.

It runs with the project's executor (the run worker's heartbeat) and Dagster fix, as the real code
location does; the step writes its process id where the test finds it, then holds the slot.
"""

import os
import time
from pathlib import Path

from dagster import Config, Definitions, asset, define_asset_job

from shopper_assets import dagster_fixes
from shopper_assets.run_health import in_process_with_heartbeat

dagster_fixes.apply()


class HoldConfig(Config):
    tag: str
    hold_s: float = 3600.0


@asset(pool="duckdb")
def holds_the_pool(config: HoldConfig) -> None:
    """Say which process holds the slot, then hold it for ``hold_s``."""
    Path(os.environ["POOL_FAULTS_DIR"], f"{config.tag}.pid").write_text(str(os.getpid()))
    time.sleep(config.hold_s)


defs = Definitions(
    assets=[holds_the_pool],
    jobs=[define_asset_job("hold", [holds_the_pool])],
    executor=in_process_with_heartbeat,
)
