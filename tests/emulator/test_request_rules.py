"""The emulator's checks of SageMaker requests, unit by unit: Java patterns as AWS matches them,
each kind of API-model constraint and AWS's message format, SageMaker's documented cross-field
rules."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.session import get_session

from mlpipeline_emulator import _documented_rules, _java_regex, _request_rules
from mlpipeline_emulator._request_rules import RefusedRequestError

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def job(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": "mnist-1",
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://artifacts/models"},
        "ResourceConfig": {
            "InstanceCount": 1,
            "InstanceType": "ml.m5.xlarge",
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": {"epochs": "2"},
        "Tags": [{"Key": "project", "Value": "mnist"}],
    }
    request.update(overrides)
    return request


def refusal(operation: str, request: dict[str, Any]) -> RefusedRequestError:
    with pytest.raises(RefusedRequestError) as caught:
        _request_rules.check(operation, request)
    return caught.value


# --- Java patterns ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["sagemaker", "sagemaker-runtime"])
def test_every_pattern_of_the_models_compiles(service: str) -> None:
    model = get_session().get_service_model(service)
    patterns = {
        p for name in model.shape_names if (p := model.shape_for(name).metadata.get("pattern"))
    }
    assert patterns
    for pattern in patterns:
        _java_regex.compiled(pattern)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "mnist-1", True),
        (r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "mnist 1", False),  # a prefix match is not enough
        (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", "Étape 1: ü", True),  # Unicode categories
        (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", "run(1)!'x", False),
        (r"arn:[\p{Alnum}\-]+:x", "arn:aws-cn:x", True),
        (r"arn:[\p{Alnum}\-]+:x", "arn:é:x", False),  # \p{Alnum} is US-ASCII in Java
        (r"\w+", "é", False),  # so are \w \d \s
        (r"[\S]+", "a\u00a0b", True),  # Java's \S includes a no-break space
        (r".*", "a\rb", False),  # . stops at every line terminator
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "ok \U0001f600", True),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "no\x01", False),
        (r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,128}", "a-b", True),  # a quantified anchor
        (r"\p{ASCII}*", "text/csv", True),
        (r"\p{ASCII}*", "text/é", False),
        (r"\A\S[\p{Print}]*\z", "id 1", True),
        (r"\A\S[\p{Print}]*\z", "id\n", False),
    ],
)
def test_java_patterns_match_as_java_matches(pattern: str, value: str, expected: bool) -> None:
    assert _java_regex.matches(pattern, value) is expected


# --- the API model ----------------------------------------------------------------------------


def test_a_valid_request_passes() -> None:
    assert _request_rules.problems("CreateTrainingJob", job()) == []


def test_a_missing_required_member_is_null() -> None:
    request = job()
    del request["RoleArn"]
    refused = refusal("CreateTrainingJob", request)
    assert (refused.code, refused.status) == ("ValidationException", 400)
    assert refused.message == (
        "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_a_pattern_and_a_length_are_both_reported() -> None:
    name = "x y" * 30
    refused = refusal("CreateTrainingJob", job(TrainingJobName=name))
    assert refused.message == (
        f"2 validation errors detected: Value '{name}' at 'trainingJobName' failed to satisfy "
        "constraint: Member must have length less than or equal to 63; "
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )


def test_an_instance_type_sagemaker_does_not_train_on_is_refused_by_its_enum() -> None:
    resources = {"InstanceCount": 1, "InstanceType": "ml.t2.medium", "VolumeSizeInGB": 10}
    refused = refusal("CreateTrainingJob", job(ResourceConfig=resources))
    assert refused.message.startswith(
        "1 validation error detected: Value 'ml.t2.medium' at 'resourceConfig.instanceType' "
        "failed to satisfy constraint: Member must satisfy enum value set: [ml.m4.xlarge, "
    )


def test_a_number_out_of_range() -> None:
    refused = refusal("CreateTrainingJob", job(StoppingCondition={"MaxRuntimeInSeconds": 0}))
    assert refused.message == (
        "1 validation error detected: Value '0' at 'stoppingCondition.maxRuntimeInSeconds' "
        "failed to satisfy constraint: Member must have value greater than or equal to 1"
    )


def test_list_elements_are_named_by_position() -> None:
    tags = [{"Key": "a", "Value": "ok"}, {"Key": "b", "Value": "run(1)"}]
    refused = refusal("CreateTrainingJob", job(Tags=tags))
    assert refused.message == (
        "1 validation error detected: Value 'run(1)' at 'tags.2.member.value' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"
    )


def test_a_list_too_long() -> None:
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    refused = refusal("CreateTrainingJob", job(Tags=tags))
    assert refused.message.endswith(
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    )


def test_map_values_are_checked() -> None:
    refused = refusal("CreateTrainingJob", job(HyperParameters={"epochs": "9" * 2501}))
    assert refused.message.endswith(
        "at 'hyperParameters' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 2500]"
    )


def test_a_value_of_the_wrong_type_cannot_be_read() -> None:
    refused = refusal("CreateTrainingJob", job(StoppingCondition={"MaxRuntimeInSeconds": "600"}))
    assert refused.code == "SerializationException"
    assert "stoppingCondition.maxRuntimeInSeconds" in refused.message


def test_a_sensitive_value_is_left_out_of_the_message() -> None:
    model = get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateWorkforce").input_shape.members["OidcConfig"]
    assert shape.members["ClientSecret"].metadata.get("sensitive")
    oidc = {
        "ClientId": "id",
        "ClientSecret": "not a secret pattern \n",
        "Issuer": "https://issuer",
        "AuthorizationEndpoint": "https://a",
        "TokenEndpoint": "https://t",
        "UserInfoEndpoint": "https://u",
        "LogoutEndpoint": "https://l",
        "JwksUri": "https://j",
    }
    refused = refusal("CreateWorkforce", {"WorkforceName": "w", "OidcConfig": oidc})
    assert "Value at 'oidcConfig.clientSecret' failed to satisfy constraint" in refused.message
    assert "not a secret" not in refused.message


# --- documented cross-field rules -------------------------------------------------------------


@pytest.mark.parametrize("instance_type", ["ml.g5.xlarge", "ml.g4dn.xlarge", "ml.p4d.24xlarge"])
def test_a_volume_key_with_local_instance_storage_is_refused(instance_type: str) -> None:
    resources = {
        "InstanceCount": 1,
        "InstanceType": instance_type,
        "VolumeSizeInGB": 10,
        "VolumeKmsKeyId": KEY,
    }
    request = job(ResourceConfig=resources)
    _request_rules.check("CreateTrainingJob", request)  # the model alone accepts it
    with pytest.raises(RefusedRequestError) as caught:
        _documented_rules.check("CreateTrainingJob", request)
    assert caught.value.code == "ValidationException"
    assert caught.value.message.startswith(
        "You can't request a VolumeKmsKeyId when using an instance type with local storage"
    )


def test_a_volume_key_with_ebs_storage_is_accepted() -> None:
    resources = {
        "InstanceCount": 1,
        "InstanceType": "ml.m5.xlarge",
        "VolumeSizeInGB": 10,
        "VolumeKmsKeyId": KEY,
    }
    _documented_rules.check("CreateTrainingJob", job(ResourceConfig=resources))


def test_every_local_storage_family_is_a_training_family() -> None:
    model = get_session().get_service_model("sagemaker")
    families = {t.split(".")[1] for t in model.shape_for("TrainingInstanceType").enum}
    assert families >= _documented_rules.LOCAL_STORAGE_FAMILIES


@pytest.mark.parametrize(
    ("stopping", "message"),
    [
        ({"MaxRuntimeInSeconds": 600}, "MaxWaitTimeInSeconds is required"),
        ({"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 599}, "equal to or greater"),
    ],
)
def test_spot_training_needs_a_long_enough_wait(stopping: dict[str, int], message: str) -> None:
    request = job(EnableManagedSpotTraining=True, StoppingCondition=stopping)
    with pytest.raises(RefusedRequestError, match=message):
        _documented_rules.check("CreateTrainingJob", request)


def test_spot_training_with_a_wait_as_long_as_the_runtime_is_accepted() -> None:
    stopping = {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 600}
    _documented_rules.check(
        "CreateTrainingJob", job(EnableManagedSpotTraining=True, StoppingCondition=stopping)
    )


def test_a_volume_key_with_local_storage_is_refused_for_transform_and_tuning_jobs() -> None:
    transform = {
        "TransformJobName": "t",
        "ModelName": "m",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/i"}}
        },
        "TransformOutput": {"S3OutputPath": "s3://b/o"},
        "TransformResources": {
            "InstanceType": "ml.g4dn.xlarge",
            "InstanceCount": 1,
            "VolumeKmsKeyId": KEY,
        },
    }
    with pytest.raises(RefusedRequestError, match="can't request a VolumeKmsKeyId"):
        _documented_rules.check("CreateTransformJob", transform)
    transform["TransformResources"]["InstanceType"] = "ml.m5.xlarge"
    _documented_rules.check("CreateTransformJob", transform)

    config = {
        "InstanceConfigs": [
            {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5}
        ],
        "VolumeKmsKeyId": KEY,
    }
    tuning = {"TrainingJobDefinition": {"HyperParameterTuningResourceConfig": config}}
    with pytest.raises(RefusedRequestError, match=r"\(ml.g5.xlarge\)"):
        _documented_rules.check("CreateHyperParameterTuningJob", tuning)


def test_every_local_storage_family_of_transform_jobs_is_listed() -> None:
    model = get_session().get_service_model("sagemaker")
    families = {t.split(".")[1] for t in model.shape_for("TransformInstanceType").enum}
    ebs_only = {
        "c4",
        "c5",
        "c6i",
        "c7i",
        "inf2",
        "m4",
        "m5",
        "m6i",
        "m7i",
        "p2",
        "p3",
        "r6i",
        "r7i",
    }
    assert families - ebs_only <= _documented_rules.LOCAL_STORAGE_FAMILIES
