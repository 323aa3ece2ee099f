"""What ``shopper demo`` shows a newcomer (on the session's demo deployment): progress and a summary,
not Dagster's or dbt's logs; figures that agree; runs under named jobs that the UI's Overview lists."""

from __future__ import annotations

import re

from dagster import DagsterInstance

from tests.serving.conftest import EVENTS_PER_DAY, Deployment


def test_the_demo_prints_progress_and_a_summary_not_logs(demo: Deployment):
    out = demo.output
    for noise in ("Running with dbt", " - DEBUG - ", " - INFO - ", "Warning", "Traceback"):
        assert noise not in out and noise not in demo.errors, noise
    progress = [line for line in demo.errors.splitlines() if line.strip()]
    assert progress and all(line.startswith("generate:") for line in progress)  # the generator's bar, nothing else
    for step, job in ((2, "lake_job"), (3, "marts_job"), (4, "quality_job"), (5, "history_job")):
        assert re.search(rf"\[{step}/5\] .* \({job}\)\n  run \w{{8}}: success \(\d+\.\d s\)", out), out[:3000]
    assert "Result:           OK" in out


def test_the_dbt_tests_are_counted_by_model(demo: Deployment):
    total = int(re.search(r"dbt tests \((\d+)\) by model:", demo.output).group(1))
    per_model = re.findall(r"^    (\w+) +(\d+) of (\d+) passed$", demo.output, flags=re.M)
    assert {"kpi_daily", "fct_orders", "customer_ltv"} <= {model for model, _, _ in per_model}
    assert sum(int(n) for _, _, n in per_model) == total and all(p == n for _, p, n in per_model)
    passed, not_passed = map(int, re.search(r"Asset checks: (\d+) passed, (\d+) not passed", demo.output).groups())
    assert total < passed + not_passed  # the lake's and ad spend's checks besides


def test_the_header_counts_the_events_generated(demo: Deployment):
    """--events-per-day is a weekly average; the header gives the count the generator then writes."""
    announced = re.search(r"demo: 10 days, 2026-10-24 to 2026-11-02, ([\d,]+) events", demo.output).group(1)
    generated = re.search(r"^  ([\d,]+) lines, \d+ files", demo.output, flags=re.M).group(1)
    assert announced == generated and announced != f"{EVENTS_PER_DAY * 10:,}"


def test_the_printed_ui_command_keeps_the_data_root(demo: Deployment):
    (command,) = re.findall(r"^Open the UI: +(.+shopper ui) +\(http://127.0.0.1:3000", demo.output, flags=re.M)
    assert command.startswith(f"SHOPPER_DATA_DIR={demo.root} ")


def test_the_demos_runs_are_named_jobs_of_the_code_location(demo: Deployment):
    """Named jobs, and the code location's origin the Overview groups runs by (set through Dagster
    internals, demo.job_run: this fails if they change)."""
    with DagsterInstance.from_config(str(demo.root / "dagster_home")) as instance:
        runs = instance.get_runs()
    assert sorted(run.job_name for run in runs) == ["history_job", "lake_job", "marts_job", "quality_job"]
    for run in runs:
        origin = run.remote_job_origin
        assert origin is not None and origin.job_name == run.job_name
        assert origin.repository_origin.code_location_origin.location_name == "shopper_assets"
        assert origin.repository_origin.repository_name == "__repository__"
        assert run.is_success


def test_dagster_still_runs_jobs_in_process_without_a_code_location():
    """Why demo.job_run uses Dagster internals (docs/private-apis.md): a job run in process through the
    public API records no code-location origin, and the UI's Overview timeline leaves such runs out.
    When this fails, job_run can use ``execute_in_process`` on the demo's instance."""
    from dagster import job, op

    @op
    def one() -> int:
        return 1

    @job
    def probe():
        one()

    with DagsterInstance.ephemeral() as instance:
        result = probe.execute_in_process(instance=instance)
        run = instance.get_run_by_id(result.run_id)
    assert result.success and run is not None and run.remote_job_origin is None
