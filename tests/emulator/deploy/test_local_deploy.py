"""The real CDK CLI bootstraps, deploys and destroys the app's stack in the local emulator.

One emulator and one deployment for the module (the CLI is slow-ish). The tests run in file
order: those that look at the deployed stack first, then the ones that destroy it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlpipeline_cdk.contract.outputs import OUTPUT_KEYS
from mlpipeline_emulator.cdk import (
    bootstrap,
    cdk_environment,
    deploy,
    destroy,
    stack_outputs,
    synth,
)
from mlpipeline_emulator.session import (
    ACCOUNT,
    REGION,
    Emulator,
    ensure_emulator,
    start_emulator,
)

#: The real CDK CLI, and a real training run.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
STACK = "MLPipelineStack"


@dataclass
class Deployment:
    emulator: Emulator
    assembly: Path
    template: dict[str, Any]
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    timings: dict[str, float]
    cli_output: dict[str, str]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = start_emulator(state_dir=tmp_path_factory.mktemp("emulator"))
    try:
        yield emulator
    finally:
        emulator.stop()
        assert not emulator.is_running()


@pytest.fixture(scope="module")
def deployment(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    assembly = tmp_path_factory.mktemp("cdk.out")
    timings, cli_output = {}, {}
    for name, step in (("synth", synth), ("bootstrap", bootstrap), ("deploy", deploy)):
        begin = time.monotonic()
        if name == "synth":
            result = step(emulator, app_dir=ROOT, output=str(assembly), capture=True)
        elif name == "deploy":
            result = step(emulator, [STACK], app_dir=ROOT, assembly=str(assembly), capture=True)
        else:
            result = step(emulator, app_dir=ROOT, assembly=str(assembly), capture=True)
        timings[name] = time.monotonic() - begin
        cli_output[name] = result.stdout + result.stderr
    resources = emulator.client("cloudformation").list_stack_resources(StackName=STACK)
    return Deployment(
        emulator=emulator,
        assembly=assembly,
        template=json.loads((assembly / f"{STACK}.template.json").read_text()),
        outputs=stack_outputs(emulator, STACK),
        physical_ids={
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources["StackResourceSummaries"]
        },
        timings=timings,
        cli_output=cli_output,
    )


def logical_id(deployment: Deployment, resource_type: str, path_suffix: str) -> str:
    """The logical id of the template's ``resource_type`` whose cdk path ends with
    ``path_suffix``."""
    [found] = [
        key
        for key, resource in deployment.template["Resources"].items()
        if resource["Type"] == resource_type
        and resource.get("Metadata", {}).get("aws:cdk:path", "").endswith(path_suffix)
    ]
    return found


def resolve(value: Any, deployment: Deployment) -> Any:
    """The template's intrinsic functions, resolved independently of the emulator's CloudFormation:
    from the deployed resources' physical ids and the services' own descriptions."""
    pseudo = {
        "AWS::AccountId": ACCOUNT,
        "AWS::Region": REGION,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": STACK,
    }
    client = deployment.emulator.client
    template = deployment.template

    def ref(name: str) -> str:
        return pseudo[name] if name in pseudo else deployment.physical_ids[name]

    def get_att(name: str, attribute: str) -> str:
        assert attribute == "Arn", attribute
        kind = template["Resources"][name]["Type"]
        if kind == "AWS::IAM::Role":
            return str(client("iam").get_role(RoleName=ref(name))["Role"]["Arn"])
        if kind == "AWS::KMS::Key":
            return str(client("kms").describe_key(KeyId=ref(name))["KeyMetadata"]["Arn"])
        raise AssertionError(kind)

    functions: dict[str, Callable[[Any], Any]] = {
        "Ref": ref,
        "Fn::GetAtt": lambda args: get_att(*args),
        "Fn::Join": lambda args: args[0].join(walk(args[1])),
        "Fn::Sub": lambda text: re.sub(r"\$\{([^}]+)\}", lambda m: ref(m.group(1)), text),
        "Fn::FindInMap": lambda args: (
            lambda mapping, key, attribute: template["Mappings"][mapping][key][attribute]
        )(*walk(args)),
    }

    def walk(item: Any) -> Any:
        if isinstance(item, list):
            return [walk(i) for i in item]
        if not isinstance(item, dict):
            return item
        if len(item) == 1 and next(iter(item)) in functions:
            [(name, args)] = item.items()
            return functions[name](args)
        return {key: walk(child) for key, child in item.items()}

    return walk(value)


# --- Deployed -------------------------------------------------------------------------------------


def test_bootstrap_creates_the_toolkit_stack_the_deploy_needs(deployment: Deployment) -> None:
    client = deployment.emulator.client
    [toolkit] = client("cloudformation").describe_stacks(StackName="CDKToolkit")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in toolkit["Outputs"]}
    version = client("ssm").get_parameter(Name="/cdk-bootstrap/hnb659fds/version")["Parameter"]

    assert toolkit["StackStatus"] == "CREATE_COMPLETE"
    assert outputs["BucketName"] == f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
    assert int(version["Value"]) >= 6  # what the app's template requires
    assert client("s3").get_bucket_versioning(Bucket=outputs["BucketName"])["Status"] == "Enabled"


def test_stack_is_created_with_every_resource_of_the_template(deployment: Deployment) -> None:
    [stack] = deployment.emulator.client("cloudformation").describe_stacks(StackName=STACK)[
        "Stacks"
    ]
    resources = deployment.emulator.client("cloudformation").list_stack_resources(StackName=STACK)[
        "StackResourceSummaries"
    ]

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {r["LogicalResourceId"]: r["ResourceType"] for r in resources} == {
        key: resource["Type"] for key, resource in deployment.template["Resources"].items()
    }
    assert {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}
    assert all(deployment.physical_ids.values())
    # The CLI saw every resource created, as it reports a deployment to AWS.
    count = len(deployment.template["Resources"]) + 1
    assert f"{count}/{count} |" in deployment.cli_output["deploy"]
    assert re.search(r"CREATE_COMPLETE\s+\| AWS::S3::Bucket ", deployment.cli_output["deploy"])


def test_outputs_name_the_deployed_resources(deployment: Deployment) -> None:
    outputs, ids = deployment.outputs, deployment.physical_ids

    assert sorted(outputs) == sorted(OUTPUT_KEYS)
    assert (
        outputs["StateMachineArn"]
        == ids[logical_id(deployment, "AWS::StepFunctions::StateMachine", "/StateMachine/Resource")]
    )
    assert (
        outputs["DataBucketName"]
        == ids[logical_id(deployment, "AWS::S3::Bucket", "/DataBucket/Resource")]
    )
    assert (
        outputs["ArtifactsBucketName"]
        == ids[logical_id(deployment, "AWS::S3::Bucket", "/ArtifactsBucket/Resource")]
    )
    assert (outputs["DataPrefix"], outputs["EndpointName"]) == ("training-data/", "mnist-endpoint")


def test_the_dashboard_is_deployed_and_its_url_names_it(deployment: Deployment) -> None:
    name = deployment.physical_ids[
        logical_id(deployment, "AWS::CloudWatch::Dashboard", "/Pipeline/Dashboard/Resource")
    ]
    body = deployment.emulator.client("cloudwatch").get_dashboard(DashboardName=name)
    titles = [w["properties"].get("title") for w in json.loads(body["DashboardBody"])["widgets"]]
    assert {"Runs", "Accepted accuracy", "Invocations", "Errors"} <= set(titles)
    assert deployment.outputs["DashboardUrl"].endswith(
        f"/cloudwatch/home?region={REGION}#dashboards:name={name}"
    )


def test_state_machine_has_the_synthesized_definition_and_runs(deployment: Deployment) -> None:
    sfn = deployment.emulator.client("stepfunctions")
    resource = deployment.template["Resources"][
        logical_id(deployment, "AWS::StepFunctions::StateMachine", "/StateMachine/Resource")
    ]
    arn = deployment.outputs["StateMachineArn"]

    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(described["definition"]) == json.loads(
        resolve(resource["Properties"]["DefinitionString"], deployment)
    )
    assert described["roleArn"] == resolve(resource["Properties"]["RoleArn"], deployment)
    assert described["type"] == "STANDARD"
    assert described["tracingConfiguration"] == {"enabled": True}
    assert described["loggingConfiguration"]["level"] == "ALL"

    # It executes: input that is not an object ends the run in its validation, before SageMaker.
    execution = sfn.start_execution(stateMachineArn=arn, name="not-an-object", input='"text"')
    deadline = time.monotonic() + 30
    while (run := sfn.describe_execution(executionArn=execution["executionArn"]))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.1)
    assert (run["status"], run["error"]) == ("FAILED", "InvalidInput")


@pytest.mark.parametrize("bucket", ["DataBucket", "ArtifactsBucket"])
def test_data_buckets_are_configured_as_the_template_says(
    deployment: Deployment, bucket: str
) -> None:
    s3 = deployment.emulator.client("s3")
    key_arn = resolve(
        {"Fn::GetAtt": [logical_id(deployment, "AWS::KMS::Key", "/Key/Resource"), "Arn"]},
        deployment,
    )
    name = deployment.physical_ids[logical_id(deployment, "AWS::S3::Bucket", f"/{bucket}/Resource")]
    log_bucket = deployment.physical_ids[
        logical_id(deployment, "AWS::S3::Bucket", "/AccessLogsBucket/Resource")
    ]

    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"] == {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": key_arn,
                },
                "BucketKeyEnabled": True,
            }
        ]
    }
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert rule["NoncurrentVersionTransitions"] == [
        {"NoncurrentDays": 30, "StorageClass": "STANDARD_IA"}
    ]
    assert s3.get_bucket_logging(Bucket=name)["LoggingEnabled"]["TargetBucket"] == log_bucket
    policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
    assert {"Bool": {"aws:SecureTransport": "false"}} in [
        s.get("Condition") for s in policy["Statement"]
    ]


def test_access_log_bucket_uses_s3_managed_keys(deployment: Deployment) -> None:
    s3 = deployment.emulator.client("s3")
    name = deployment.physical_ids[
        logical_id(deployment, "AWS::S3::Bucket", "/AccessLogsBucket/Resource")
    ]

    [rule] = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_data_bucket_takes_training_data_under_its_tls_only_policy(
    deployment: Deployment,
) -> None:
    s3 = deployment.emulator.client("s3")
    bucket, prefix = deployment.outputs["DataBucketName"], deployment.outputs["DataPrefix"]

    s3.put_object(Bucket=bucket, Key=f"{prefix}sample.txt", Body=b"digits")

    assert s3.get_object(Bucket=bucket, Key=f"{prefix}sample.txt")["Body"].read() == b"digits"


def test_failure_topic_is_encrypted_and_refuses_plain_http(deployment: Deployment) -> None:
    topic = deployment.physical_ids[
        logical_id(deployment, "AWS::SNS::Topic", "/FailureTopic/Resource")
    ]
    key_arn = resolve(
        {"Fn::GetAtt": [logical_id(deployment, "AWS::KMS::Key", "/Key/Resource"), "Arn"]},
        deployment,
    )

    attributes = deployment.emulator.client("sns").get_topic_attributes(TopicArn=topic)[
        "Attributes"
    ]

    assert attributes["KmsMasterKeyId"] == key_arn
    assert "AllowPublishThroughSSLOnly" in [
        s.get("Sid") for s in json.loads(attributes["Policy"])["Statement"]
    ]


def test_log_groups_keep_the_key_and_retention_of_the_template(deployment: Deployment) -> None:
    logs = deployment.emulator.client("logs")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
    template_groups = [
        key
        for key, r in deployment.template["Resources"].items()
        if r["Type"] == "AWS::Logs::LogGroup"
    ]

    assert template_groups
    for key in template_groups:
        group = groups[deployment.physical_ids[key]]
        properties = resolve(deployment.template["Resources"][key]["Properties"], deployment)
        assert (group["kmsKeyId"], group["retentionInDays"]) == (
            properties["KmsKeyId"],
            properties["RetentionInDays"],
        )


def test_second_deploy_reuses_the_emulator_and_changes_nothing(deployment: Deployment) -> None:
    emulator, started = ensure_emulator(deployment.emulator.log_path.parent)
    assert (started, emulator.pid, emulator.port) == (
        False,
        deployment.emulator.pid,
        deployment.emulator.port,
    )

    # Twice: the CLI deletes its change set by name before each deployment, also when the
    # previous one already removed it.
    for _ in range(2):
        result = deploy(
            emulator, [STACK], app_dir=ROOT, assembly=str(deployment.assembly), capture=True
        )
        assert f"{STACK} (no changes)" in result.stdout + result.stderr
    [stack] = emulator.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack_outputs(emulator, STACK) == deployment.outputs


def test_cli_is_pointed_at_the_emulator_by_its_environment_only(deployment: Deployment) -> None:
    env = cdk_environment(
        deployment.emulator,
        {"AWS_PROFILE": "prod", "HOME": "/home/me", "AWS_ENDPOINT_URL_S3": "https://elsewhere"},
    )

    assert env["AWS_ENDPOINT_URL"] == deployment.emulator.endpoint_url
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_REGION"]) == ("testing", REGION)
    assert "AWS_PROFILE" not in env and "AWS_ENDPOINT_URL_S3" not in env
    assert env["HOME"] == "/home/me"


# --- Destroyed ------------------------------------------------------------------------------------


def _mlpipeline(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    """The project's own command line tool, pointed at the emulator."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "mlpipeline"),
            "--endpoint-url",
            deployment.emulator.endpoint_url,
            "--region",
            REGION,
            *args,
        ],
        env=cdk_environment(deployment.emulator, os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_run_trains_for_real_deploys_and_serves_predictions(
    deployment: Deployment, tmp_path: Path
) -> None:
    from scripts.mnist_data import write_dataset

    data = tmp_path / "digits"
    write_dataset(data)
    uploaded = _mlpipeline(deployment, "upload-data", str(data))
    assert uploaded.returncode == 0, uploaded.stderr
    # A tiny run: one epoch on one instance; the threshold is lowered for it.
    run = _mlpipeline(
        deployment,
        "run",
        "--hyperparameter",
        "epochs=1",
        "--instance-count",
        "1",
        "--threshold",
        "0.5",
        "--wait",
        "--json",
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    described = deployment.emulator.client("stepfunctions").describe_execution(
        executionArn=next(
            e["details"]["executionArn"] for e in events if e.get("type") == "execution_started"
        )
    )
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["endpointName"] == deployment.outputs["EndpointName"]
    assert output["endpointStatus"] == "InService"
    assert output["accuracy"] >= 0.5
    assert output["modelArtifacts"].startswith(f"s3://{deployment.outputs['ArtifactsBucketName']}/")

    predicted = _mlpipeline(
        deployment,
        "predict",
        "--reader",
        "scripts.mnist_data:read_idx",
        str(data / "t10k-images-idx3-ubyte.gz"),
        "--labels",
        str(data / "t10k-labels-idx1-ubyte.gz"),
        "--json",
    )
    assert predicted.returncode == 0, predicted.stderr
    report = json.loads(predicted.stdout)
    assert report["total"] == 1000
    assert report["accuracy"] >= 0.5
    first = report["predictions"][0]
    assert 0 <= first["label"] <= 9 and len(first["probabilities"]) == 10
    assert sum(first["probabilities"]) == pytest.approx(1.0, abs=1e-3)


@pytest.fixture(scope="module")
def destroyed(deployment: Deployment) -> Deployment:
    """The deployment after an endpoint exists under the stack's EndpointName (the real run
    created it; when that test was deselected, one is created here) and ``cdk destroy --force``
    ran."""
    sagemaker = deployment.emulator.client("sagemaker")
    try:
        sagemaker.describe_endpoint(EndpointName=deployment.outputs["EndpointName"])
    except ClientError:
        sagemaker.create_model(
            ModelName="mnist-model",
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
            PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/serve:1"},
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName="mnist-config",
            ProductionVariants=[
                {
                    "VariantName": "main",
                    "ModelName": "mnist-model",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sagemaker.create_endpoint(
            EndpointName=deployment.outputs["EndpointName"], EndpointConfigName="mnist-config"
        )
    begin = time.monotonic()
    result = destroy(
        deployment.emulator, [STACK], app_dir=ROOT, assembly=str(deployment.assembly), capture=True
    )
    deployment.timings["destroy"] = time.monotonic() - begin
    deployment.cli_output["destroy"] = result.stdout + result.stderr
    print("timings:", {k: round(v, 1) for k, v in deployment.timings.items()})
    return deployment


def test_destroy_deletes_the_stack(destroyed: Deployment) -> None:
    cloudformation = destroyed.emulator.client("cloudformation")

    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName=STACK)
    summaries = [
        s for s in cloudformation.list_stacks()["StackSummaries"] if s["StackName"] == STACK
    ]
    assert [s["StackStatus"] for s in summaries] == ["DELETE_COMPLETE"]


def test_destroy_deletes_the_endpoint_through_the_teardown_resource(destroyed: Deployment) -> None:
    sagemaker = destroyed.emulator.client("sagemaker")

    with pytest.raises(ClientError, match="Could not find endpoint"):
        sagemaker.describe_endpoint(EndpointName=destroyed.outputs["EndpointName"])
    # Only the endpoint: the models and their configurations are the runs' to clean up.
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"]


def test_destroy_keeps_what_the_template_retains(destroyed: Deployment) -> None:
    client = destroyed.emulator.client
    retained = {
        key
        for key, r in destroyed.template["Resources"].items()
        if r.get("DeletionPolicy") == "Retain"
    }
    by_type = {key: destroyed.template["Resources"][key]["Type"] for key in retained}

    assert sorted(set(by_type.values())) == [
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
        "AWS::S3::Bucket",
        "AWS::SageMaker::ModelPackageGroup",
    ]
    log_groups = {g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]}
    for key, kind in by_type.items():
        physical_id = destroyed.physical_ids[key]
        if kind == "AWS::S3::Bucket":
            client("s3").head_bucket(Bucket=physical_id)
        elif kind == "AWS::KMS::Key":
            assert client("kms").describe_key(KeyId=physical_id)["KeyMetadata"]["Enabled"]
        elif kind == "AWS::SageMaker::ModelPackageGroup":
            # Its versions are the record of what was trained and served.
            group = client("sagemaker").describe_model_package_group(
                ModelPackageGroupName=physical_id
            )
            assert group["ModelPackageGroupStatus"] == "Completed"
        else:
            assert physical_id in log_groups
    bucket, prefix = destroyed.outputs["DataBucketName"], destroyed.outputs["DataPrefix"]
    assert client("s3").get_object(Bucket=bucket, Key=f"{prefix}sample.txt")["Body"].read()
    skipped = re.findall(r"DELETE_SKIPPED\s+\| (\S+)", destroyed.cli_output["destroy"])
    assert sorted(skipped) == sorted(by_type.values())


def test_destroy_deletes_what_the_template_does_not_retain(destroyed: Deployment) -> None:
    client = destroyed.emulator.client
    roles = {r["RoleName"] for r in client("iam").list_roles()["Roles"]}
    functions = {f["FunctionName"] for f in client("lambda").list_functions()["Functions"]}

    with pytest.raises(ClientError, match=r"does not exist|StateMachineDoesNotExist"):
        client("stepfunctions").describe_state_machine(
            stateMachineArn=destroyed.outputs["StateMachineArn"]
        )
    for key, resource in destroyed.template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            assert destroyed.physical_ids[key] not in roles
        if resource["Type"] == "AWS::Lambda::Function":
            assert destroyed.physical_ids[key] not in functions
    assert client("sns").list_topics()["Topics"] == []
