"""Application Auto Scaling of SageMaker endpoint variants in the emulator: what it refuses as AWS
does (a variant of no endpoint, deregistering nothing, an update changing a registered variant's
instance type) and the instance count a registration puts within bounds."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.emulator.runs.helpers import REGION, SAGEMAKER_ROLE

# Slow: endpoints come up in the emulator.
pytestmark = pytest.mark.slow

ENDPOINT = "mnist-endpoint"
RESOURCE_ID = f"endpoint/{ENDPOINT}/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6"


@pytest.fixture
def scaling(aws: None) -> Any:
    return boto3.client("application-autoscaling", region_name=REGION)


def serve_on(sagemaker: Any, scaling: Any, instance_type: str) -> None:
    """An endpoint serving on ``instance_type``, its variant registered for 1..2 instances."""
    sagemaker.create_model(
        ModelName="older",
        ExecutionRoleArn=SAGEMAKER_ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://artifacts/older/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="older",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "older",
                "InstanceType": instance_type,
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="older")
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=RESOURCE_ID,
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=2,
    )


def test_registering_a_variant_of_no_endpoint_is_refused(scaling: Any) -> None:
    with pytest.raises(ClientError) as raised:
        scaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=RESOURCE_ID,
            ScalableDimension=DIMENSION,
            MinCapacity=1,
            MaxCapacity=2,
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_deregistering_nothing_is_object_not_found(scaling: Any) -> None:
    with pytest.raises(ClientError) as raised:
        scaling.deregister_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=RESOURCE_ID, ScalableDimension=DIMENSION
        )
    assert raised.value.response["Error"]["Code"] == "ObjectNotFoundException"


def test_an_update_changing_a_registered_variants_instance_type_fails(
    sagemaker: Any, scaling: Any
) -> None:
    serve_on(sagemaker, scaling, "ml.c5.large")
    sagemaker.create_endpoint_config(
        EndpointConfigName="bigger",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "older",
                "InstanceType": "ml.c5.xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    with pytest.raises(ClientError, match="changes its instance type"):
        sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="bigger")
    scaling.deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=RESOURCE_ID, ScalableDimension=DIMENSION
    )
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="bigger")


def test_registering_puts_the_instance_count_within_bounds(sagemaker: Any, scaling: Any) -> None:
    serve_on(sagemaker, scaling, "ml.c5.large")
    scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=RESOURCE_ID,
        ScalableDimension=DIMENSION,
        MinCapacity=2,
        MaxCapacity=4,
    )
    (variant,) = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    assert variant["DesiredInstanceCount"] == 2
