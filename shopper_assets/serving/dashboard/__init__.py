"""The KPI dashboard (``shopper dashboard``): Streamlit pages over the published marts.

Streamlit because it is what Python analysts already use and read: a page is a plain function
over DataFrames, charts are Vega-Lite (Altair), and the server is one process. Every page reads one
snapshot of the published marts (serving/reader.py), so its tiles and charts come from one version.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line of the dashboard: headless, no telemetry, no file watcher."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--theme.base",
        "light",
    ]


def run_dashboard(host: str, port: int) -> int:
    """Become the Streamlit server (exec: one process, which a service manager or a test can stop)."""
    command = streamlit_command(host, port)
    os.execv(command[0], command)
    return 1  # pragma: no cover - execv does not return
