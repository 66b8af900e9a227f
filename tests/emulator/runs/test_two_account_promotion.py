"""Promotion across accounts, as the delivery pipeline does it: account A (staging) registers a
version whose model data is in its KMS-encrypted artifacts bucket and shares its model package
group, bucket and key with account B (production); B makes a model from A's version ARN, serves
it on an endpoint and gets a prediction. Without A's policies, B is refused as AWS refuses it.

The endpoint is served by the real process runtime (the model's own inference handlers); the
model is a tiny one without torch."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.s3.models import FakeBucket

from mlpipeline_emulator import ProcessRuntime, local_sagemaker
from mlpipeline_emulator.cloudformation._bucket_policies import bucket_permission
from tests.emulator.runs.helpers import ACCOUNT, MOTO_CONFIG, REGION
from tests.emulator.runs.test_cross_account import client_in

A, B = ACCOUNT, "222222222222"
GROUP = "staging-models"
BUCKET = "staging-artifacts"
MODEL_KEY = "models/train-1/output/model.tar.gz"
B_ROLE = f"arn:aws:iam::{B}:role/ProductionSageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"

#: A model with SageMaker's inference handlers: it multiplies by the factor it was trained to.
INFERENCE = textwrap.dedent(
    """
    import json
    import os


    def model_fn(model_dir):
        with open(os.path.join(model_dir, "factor.json")) as f:
            return json.load(f)["factor"]


    def input_fn(body, content_type):
        return json.loads(body)


    def predict_fn(data, factor):
        return [x * factor for x in data]


    def output_fn(prediction, accept):
        return json.dumps(prediction)
    """
)


def _archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in {"factor.json": '{"factor": 3}', "code/inference.py": INFERENCE}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The emulator's bucket policy check over its plain HTTP (its CloudFormation support
    # installs it in the daemon); moto's would take the CDK's TLS-only Deny as met.
    monkeypatch.setattr(FakeBucket, "get_permission", bucket_permission)
    with (
        closing(ProcessRuntime(workdir=tmp_path / "work")) as runtime,
        local_sagemaker(runtime),
        mock_aws(config=MOTO_CONFIG),
    ):
        yield


def _policy(*statements: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow_b(actions: Any, resources: Any, **extra: Any) -> dict[str, Any]:
    principal = {"AWS": f"arn:aws:iam::{B}:root"}
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": actions,
        "Resource": resources,
        **extra,
    }


def _stage_a(*, share: bool) -> str:
    """Account A: a KMS key, an encrypted artifacts bucket with the model, a group with an
    approved version; with ``share``, the policies that let B use them (as the construct's
    ``consumer_accounts`` grants). Returns the version's ARN."""
    kms, s3, sagemaker = (boto3.client(s, region_name=REGION) for s in ("kms", "s3", "sagemaker"))
    owner = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
    key_statements = [owner, _allow_b("kms:Decrypt", "*", Condition=via_s3)] if share else [owner]
    key = kms.create_key(Policy=_policy(*key_statements))["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=BUCKET)
    tls_only = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    bucket_statements = [tls_only]
    if share:
        bucket_statements.append(_allow_b("s3:GetObject", f"arn:aws:s3:::{BUCKET}/models/*"))
    s3.put_bucket_policy(Bucket=BUCKET, Policy=_policy(*bucket_statements))
    s3.put_object(
        Bucket=BUCKET,
        Key=MODEL_KEY,
        Body=_archive(),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key,
    )
    group = sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    version = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": f"s3://{BUCKET}/{MODEL_KEY}",
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                }
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    if share:
        versions = f"arn:aws:sagemaker:{REGION}:{A}:model-package/{GROUP}/*"
        actions = [
            "sagemaker:DescribeModelPackageGroup",
            "sagemaker:DescribeModelPackage",
            "sagemaker:ListModelPackages",
            "sagemaker:CreateModel",
        ]
        sagemaker.put_model_package_group_policy(
            ModelPackageGroupName=GROUP,
            ResourcePolicy=_policy(_allow_b(actions, [group["ModelPackageGroupArn"], versions])),
        )
    return str(version)


def _deploy_in_b(version: str) -> dict[str, Any]:
    """Account B: a model from A's version, an endpoint configuration and an endpoint; returns
    the endpoint once it settles."""
    sagemaker = client_in(B, "sagemaker")
    sagemaker.create_model(
        ModelName="production",
        PrimaryContainer={"ModelPackageName": version},
        ExecutionRoleArn=B_ROLE,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="production-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "production",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="production", EndpointConfigName="production-config")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName="production")
        if described["EndpointStatus"] != "Creating":
            return described
        time.sleep(0.05)
    raise AssertionError("the endpoint did not settle")


def test_production_serves_the_version_staging_approved(cloud: None) -> None:
    version = _stage_a(share=True)
    latest = client_in(B, "sagemaker").list_model_packages(
        ModelPackageGroupName=f"arn:aws:sagemaker:{REGION}:{A}:model-package-group/{GROUP}",
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in latest] == [version]
    endpoint = _deploy_in_b(version)
    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    assert f":{B}:endpoint/production" in endpoint["EndpointArn"]
    answer = client_in(B, "sagemaker-runtime").invoke_endpoint(
        EndpointName="production", Body=b"[1, 2]", ContentType="application/json"
    )
    assert json.loads(answer["Body"].read()) == [3, 6]
    # The endpoint is B's alone: A has none.
    assert boto3.client("sagemaker", region_name=REGION).list_endpoints()["Endpoints"] == []


def test_without_the_groups_policy_production_cannot_make_the_model(cloud: None) -> None:
    version = _stage_a(share=False)
    with pytest.raises(ClientError) as refused:
        _deploy_in_b(version)
    assert refused.value.operation_name == "CreateModel"
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_without_the_bucket_and_key_policies_the_endpoint_cannot_load_the_model(
    cloud: None,
) -> None:
    version = _stage_a(share=False)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    versions = f"arn:aws:sagemaker:{REGION}:{A}:model-package/{GROUP}/*"
    sagemaker.put_model_package_group_policy(  # the group is shared, its artifacts are not
        ModelPackageGroupName=GROUP,
        ResourcePolicy=_policy(_allow_b("sagemaker:CreateModel", versions)),
    )
    endpoint = _deploy_in_b(version)
    assert endpoint["EndpointStatus"] == "Failed"
    assert endpoint["FailureReason"].startswith(
        f"Failed to download model data(bucket: {BUCKET}, key: {MODEL_KEY})."
    )
    assert "AccessDenied" in endpoint["FailureReason"]
