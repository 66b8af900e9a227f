"""A registered version served end to end: a state machine writes the evaluation report, registers
the version, creates the model from the version, deploys it to an endpoint; the endpoint then
answers a prediction through sagemaker-runtime with the version's model."""

from __future__ import annotations

import json
from typing import Any

import boto3

from mlpipeline_emulator import InvocationRequest, InvocationResult, ScriptedRuntime
from tests.emulator.runs.helpers import ACCOUNT, REGION, SAGEMAKER_ROLE, RunMachine, machine, task

SDK = "arn:aws:states:::aws-sdk"
SM = "arn:aws:states:::sagemaker"
GROUP = "mnist-models"
BUCKET = "artifacts"
MODEL_DATA = "s3://artifacts/models/train-7/output/model.tar.gz"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312"


def _definition(key_arn: str) -> dict[str, Any]:
    deployed = {"Variable": "$.endpoint.EndpointStatus", "StringEquals": "InService"}
    return machine(
        "WriteEvaluationReport",
        WriteEvaluationReport=task(
            f"{SDK}:s3:putObject",
            {
                "Bucket": BUCKET,
                "Key": "evaluations/run-7.json",
                "Body.$": "States.JsonToString($.evaluation)",
                "ContentType": "application/json",
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": key_arn,
            },
            ResultPath=None,
            Next="RegisterModelPackage",
        ),
        RegisterModelPackage=task(
            f"{SDK}:sagemaker:createModelPackage",
            {
                "ModelPackageGroupName": GROUP,
                "ModelApprovalStatus": "Approved",
                "ModelPackageDescription": "run-7",
                "InferenceSpecification": {
                    "Containers": [
                        {
                            "Image": IMAGE,
                            "ModelDataUrl": MODEL_DATA,
                            "Environment": {"SAGEMAKER_PROGRAM": "mnist.py"},
                        }
                    ],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                    "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
                },
                "ModelMetrics": {
                    "ModelQuality": {
                        "Statistics": {
                            "ContentType": "application/json",
                            "S3Uri": f"s3://{BUCKET}/evaluations/run-7.json",
                        }
                    }
                },
                "CustomerMetadataProperties": {"mlpipeline:approval-mode": "automatic"},
            },
            ResultPath="$.package",
            Next="CreateModel",
        ),
        CreateModel=task(
            f"{SM}:createModel",
            {
                "ModelName": "mnist-run-7",
                "ExecutionRoleArn": SAGEMAKER_ROLE,
                "PrimaryContainer": {"ModelPackageName.$": "$.package.ModelPackageArn"},
            },
            ResultPath=None,
            Next="CreateEndpointConfig",
        ),
        CreateEndpointConfig=task(
            f"{SM}:createEndpointConfig",
            {
                "EndpointConfigName": "mnist-run-7",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "mnist-run-7",
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                    }
                ],
            },
            ResultPath=None,
            Next="CreateEndpoint",
        ),
        CreateEndpoint=task(
            f"{SM}:createEndpoint",
            {"EndpointName": "mnist", "EndpointConfigName": "mnist-run-7"},
            ResultPath=None,
            Next="DescribeEndpoint",
        ),
        DescribeEndpoint=task(
            f"{SDK}:sagemaker:describeEndpoint",
            {"EndpointName": "mnist"},
            ResultPath="$.endpoint",
            Next="InService?",
        ),
        **{
            "InService?": {
                "Type": "Choice",
                "Choices": [deployed | {"Next": "Deployed"}],
                "Default": "Wait",
            },
            "Wait": {"Type": "Wait", "Seconds": 0, "Next": "DescribeEndpoint"},
            "Deployed": {"Type": "Succeed"},
        },
    )


def test_a_registered_version_is_deployed_and_answers_predictions(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]

    def predict(request: InvocationRequest) -> InvocationResult:
        (deployment,) = [d for d in runtime.deployments if d.endpoint_name == request.endpoint_name]
        (container,) = deployment.variants[0].containers
        answer = {"prediction": 7, "model": container.model_data_url, "image": container.image}
        return InvocationResult(body=json.dumps(answer).encode(), content_type="application/json")

    runtime.respond_with(predict)

    execution = run_machine(_definition(key_arn), {"evaluation": {"accuracy": 0.98}})

    assert execution.status == "SUCCEEDED", execution.cause
    version = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/1"
    assert execution.output["package"] == {"ModelPackageArn": version}
    model = sagemaker.describe_model(ModelName="mnist-run-7")
    assert model["PrimaryContainer"] == {"ModelPackageName": version}
    described = sagemaker.describe_model_package(ModelPackageName=version)
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == (
        f"s3://{BUCKET}/evaluations/run-7.json"
    )

    answer = boto3.client("sagemaker-runtime", region_name=REGION).invoke_endpoint(
        EndpointName="mnist", Body=b'{"instances": [[0.0]]}', ContentType="application/json"
    )
    assert json.loads(answer["Body"].read()) == {
        "prediction": 7,
        "model": MODEL_DATA,
        "image": IMAGE,
    }
