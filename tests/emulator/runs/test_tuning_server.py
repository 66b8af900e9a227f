"""Tuning jobs over HTTP: the calls the operator tool makes, against a server of the emulator."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome
from mlpipeline_emulator.server import LocalServer, serve
from tests.emulator.runs.helpers import REGION
from tests.emulator.runs.test_tuning_jobs import OBJECTIVE, finished, tuning_request


@pytest.fixture(scope="module")
def sagemaker() -> Iterator[Any]:
    runtime = ScriptedRuntime(training=TrainingOutcome.success({OBJECTIVE: 0.9}))
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.95}), job_name="*-002-*")
    with serve(0, runtime) as server:
        yield _client(server)


def _client(server: LocalServer) -> Any:
    return boto3.client(
        "sagemaker",
        region_name=REGION,
        endpoint_url=server.endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_a_tuning_job_over_http_is_described_and_its_trials_listed(sagemaker: Any) -> None:
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request("over-http"))

    job = finished(sagemaker, "over-http")
    trials = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="over-http",
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Descending",
        MaxResults=2,
    )

    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["BestTrainingJob"]["TrainingJobName"].startswith("over-http-002-")
    assert isinstance(job["HyperParameterTuningEndTime"], datetime.datetime)
    first, second = trials["TrainingJobSummaries"]
    assert first["TrainingJobName"] == job["BestTrainingJob"]["TrainingJobName"]
    assert second["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(0.9)
    assert isinstance(first["TrainingEndTime"], datetime.datetime)
    assert trials["NextToken"]


def test_stopping_an_unknown_tuning_job_over_http_is_resource_not_found(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as missing:
        sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="nothing")

    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
