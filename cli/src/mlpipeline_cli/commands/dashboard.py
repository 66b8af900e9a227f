"""``dashboard``: the console URL of the pipeline's CloudWatch dashboard (stack output
``DashboardUrl``, which ``MLPipeline.add_outputs`` creates when ``monitoring.dashboard`` is on)."""

from __future__ import annotations

from mlpipeline_cdk.contract import outputs

from .._aws import CliError
from .._context import Context


def cmd_dashboard(context: Context) -> int:
    pipeline = context.pipeline
    url = pipeline.outputs().get(outputs.DASHBOARD_URL)
    if url is None:
        raise CliError(
            f"stack {pipeline.stack_name} has no output {outputs.DASHBOARD_URL}: its pipeline "
            "has no dashboard (monitoring.dashboard is off), or its stack does not call "
            "add_outputs()"
        )
    print(url)
    return 0
