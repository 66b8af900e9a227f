"""Installing and uninstalling the local SageMaker."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws
from moto.sagemaker.models import SageMakerModelBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

from mlpipeline_emulator import ScriptedRuntime, install, local_sagemaker, uninstall
from tests.emulator.runs.helpers import MOTO_CONFIG, REGION, SAGEMAKER_ROLE

JOB: dict[str, Any] = {
    "TrainingJobName": "job",
    "RoleArn": SAGEMAKER_ROLE,
    "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://artifacts/models"},
    "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
}


def job_status() -> str:
    with mock_aws(config=MOTO_CONFIG):
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_training_job(**JOB)
        return str(sagemaker.describe_training_job(TrainingJobName="job")["TrainingJobStatus"])


def test_install_twice_patches_once_and_switches_the_runtime() -> None:
    moto_create = SageMakerModelBackend.__dict__["create_training_job"]
    moto_factory = state_task_factory.state_task_service_for
    first, second = ScriptedRuntime(), ScriptedRuntime()
    try:
        assert install(first) is first
        patched_create = SageMakerModelBackend.__dict__["create_training_job"]
        patched_factory = state_task_factory.state_task_service_for
        assert install(second) is second

        assert SageMakerModelBackend.__dict__["create_training_job"] is patched_create
        assert state_task_factory.state_task_service_for is patched_factory
        assert patched_create is not moto_create
    finally:
        uninstall()
    assert SageMakerModelBackend.__dict__["create_training_job"] is moto_create
    assert state_task_factory.state_task_service_for is moto_factory
    assert not hasattr(SageMakerModelBackend, "update_endpoint")


def test_uninstall_restores_moto_behaviour() -> None:
    with local_sagemaker():
        assert job_status() == "InProgress"

    assert job_status() == "Completed"  # moto's own: done the moment it is created


def test_state_lives_in_moto_backends_and_resets_with_them() -> None:
    with local_sagemaker():
        for _ in range(2):  # a second mock_aws starts from empty backends
            assert job_status() == "InProgress"
