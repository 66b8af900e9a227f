"""The state machine definition, rendered to plain ASL and asserted as data."""

from __future__ import annotations

from typing import Any

import pytest

from mlpipeline_cdk.asl import render_definition
from mlpipeline_cdk.metrics import METRIC_DEFINITIONS


@pytest.fixture(scope="module")
def asl(ml_template_json: dict[str, Any]) -> dict[str, Any]:
    return render_definition(ml_template_json)


def _walk(asl: dict[str, Any]) -> list[str]:
    order, name = [], asl["StartAt"]
    while name:
        order.append(name)
        name = asl["States"][name].get("Next")
    return order


def test_states_run_train_model_config_endpoint_in_order(asl: dict[str, Any]) -> None:
    assert _walk(asl) == ["Train", "CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    assert asl["States"]["CreateEndpoint"]["End"] is True


def test_each_state_calls_its_sagemaker_integration(asl: dict[str, Any]) -> None:
    resources = {name: state["Resource"] for name, state in asl["States"].items()}
    assert resources == {
        "Train": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "CreateModel": "arn:aws:states:::sagemaker:createModel",
        "CreateEndpointConfig": "arn:aws:states:::sagemaker:createEndpointConfig",
        "CreateEndpoint": "arn:aws:states:::sagemaker:createEndpoint",
    }


def test_training_job_parameters(asl: dict[str, Any]) -> None:
    params = asl["States"]["Train"]["Parameters"]
    assert params["TrainingJobName.$"] == "States.Format('{}-{}', 'mnist', States.UUID())"
    assert params["RoleArn"].startswith("arn:aws:iam::123456789012:role/PipelineSageMakerRole")
    assert params["AlgorithmSpecification"] == {
        "TrainingInputMode": "File",
        "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        "pytorch-training:2.6.0-cpu-py312-ubuntu22.04-sagemaker",
        "MetricDefinitions": list(METRIC_DEFINITIONS),
    }
    assert params["ResourceConfig"]["InstanceCount"] == 2
    assert params["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert params["ResourceConfig"]["VolumeSizeInGB"] == 30
    assert params["ResourceConfig"]["VolumeKmsKeyId"].startswith("arn:aws:kms:")
    assert params["OutputDataConfig"]["S3OutputPath"].endswith("/models/")
    assert params["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
    (channel,) = params["InputDataConfig"]
    assert channel["ChannelName"] == "training"
    assert channel["DataSource"]["S3DataSource"]["S3DataType"] == "S3Prefix"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"].startswith("s3://pipelinedatabucket")
    assert channel["DataSource"]["S3DataSource"]["S3Uri"].endswith("/training-data/")


def test_hyperparameters_are_strings_naming_the_script_and_its_archive(
    asl: dict[str, Any],
) -> None:
    hyperparameters = asl["States"]["Train"]["Parameters"]["HyperParameters"]
    assert all(isinstance(v, str) for v in hyperparameters.values())
    assert hyperparameters["epochs"] == "6"
    assert hyperparameters["sagemaker_program"] == "mnist.py"
    assert hyperparameters["sagemaker_submit_directory"].startswith(
        "s3://cdk-hnb659fds-assets-123456789012-us-east-1/"
    )
    assert hyperparameters["sagemaker_submit_directory"].endswith(".gz")
    assert hyperparameters["sagemaker_region"] == "us-east-1"


def test_training_result_keeps_job_name_and_model_artifacts(asl: dict[str, Any]) -> None:
    train = asl["States"]["Train"]
    assert train["ResultPath"] == "$.training"
    assert train["ResultSelector"] == {
        "name.$": "$.TrainingJobName",
        "modelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
    }


def test_model_serves_from_the_inference_image_with_code_from_the_model_archive(
    asl: dict[str, Any],
) -> None:
    params = asl["States"]["CreateModel"]["Parameters"]
    assert params["ModelName.$"] == "States.Format('{}-{}', 'mnist', States.UUID())"
    container = params["PrimaryContainer"]
    assert container["Image"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        "pytorch-inference:2.6.0-cpu-py312-ubuntu22.04-sagemaker"
    )
    assert container["ModelDataUrl.$"] == "$.training.modelArtifacts"
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "mnist.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"


def test_endpoint_config_and_endpoint_chain_the_generated_names(asl: dict[str, Any]) -> None:
    config = asl["States"]["CreateEndpointConfig"]
    (variant,) = config["Parameters"]["ProductionVariants"]
    assert variant["ModelName.$"] == "$.model.name"
    assert variant["InstanceType"] == "ml.m5.large"
    assert variant["InitialInstanceCount"] == 1
    # The key id (a Ref of the pipeline key), which SageMaker accepts as well as an ARN.
    assert config["Parameters"]["KmsKeyId"].startswith("pipelinekey")
    assert config["ResultSelector"]["name.$"] == (
        "States.ArrayGetItem(States.StringSplit($.EndpointConfigArn, '/'), 1)"
    )
    endpoint = asl["States"]["CreateEndpoint"]["Parameters"]
    assert endpoint == {
        "EndpointName": "mnist-endpoint",
        "EndpointConfigName.$": "$.endpointConfig.name",
    }
