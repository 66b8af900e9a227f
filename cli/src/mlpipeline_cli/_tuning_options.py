"""``run``'s options for a pipeline with tuning settings: the run input ``tuning``
(:mod:`mlpipeline_cdk.contract.run_input`), checked with the contract's messages before
anything starts. The pipeline's own limits (its strategy's, Grid's number of combinations) are
checked by its state machine, which fails the run with the same words."""

from __future__ import annotations

import argparse
from typing import Any

from mlpipeline_cdk.contract import run_input as contract


def add_tuning_options(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group("tuning (pipelines with tuning settings)")
    group.add_argument(
        "--no-tuning",
        dest="tuning_enabled",
        action="store_false",
        default=None,
        help='train one job instead of tuning ({"tuning": {"enabled": false}})',
    )
    group.add_argument(
        "--max-jobs", type=int, metavar="N", help="trials of the tuning job, for this run"
    )
    group.add_argument(
        "--max-parallel-jobs", type=int, metavar="M", help="trials at once (at most --max-jobs)"
    )


def tuning_input(args: argparse.Namespace) -> dict[str, Any] | None:
    """The run input ``tuning`` the options ask for, or None when none was given."""
    tuning = {
        key: value
        for key, value in (
            (contract.TUNING_ENABLED, getattr(args, "tuning_enabled", None)),
            (contract.TUNING_MAX_JOBS, getattr(args, "max_jobs", None)),
            (contract.TUNING_MAX_PARALLEL_JOBS, getattr(args, "max_parallel_jobs", None)),
        )
        if value is not None
    }
    return tuning or None
