"""Hyperparameter tuning: the settings' checks, the tuning branch of the state machine, its request
against botocore's SageMaker model, its names, its IAM, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import cfnlint.api
import pytest
from aws_cdk import aws_ec2 as ec2
from botocore.validate import ParamValidator
from cdk_nag import AwsSolutionsChecks

from mlpipeline_cdk import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    MLPipeline,
    NetworkSettings,
    TrainingSettings,
    TuningSettings,
)
from mlpipeline_cdk.contract import run_input as contract
from mlpipeline_cdk.steps._tuning import NO_COMPLETED_TRIAL, TUNING_FAILED
from mlpipeline_cli.asl import render_definition

from conftest import ROOT, new_app

CODE = str(ROOT / "training_code")
MNIST_TUNING = TuningSettings(
    parameter_ranges={
        "lr": ContinuousRange(0.0005, 0.05, scaling="Logarithmic"),
        "batch-size": CategoricalRange([32, 64, 128]),
    },
    max_jobs=6,
    max_parallel_jobs=2,
)


def _create(tuning: Any, training: TrainingSettings | None = None, **props: Any) -> MLPipeline:
    stack = cdk.Stack(new_app(), "S")
    return MLPipeline(
        stack,
        "P",
        source_dir=CODE,
        entry_point="mnist.py",
        training=training or TrainingSettings(hyperparameters={"epochs": 2, "lr": 0.01}),
        tuning=tuning,
        **props,
    )


def _synth(tuning: TuningSettings, name_prefix: str = "mlpipeline") -> cdk.cx_api.CloudAssembly:
    app = new_app()
    stack = cdk.Stack(app, "Tuned")
    MLPipeline(
        stack,
        "P",
        source_dir=CODE,
        entry_point="mnist.py",
        name_prefix=name_prefix,
        training=TrainingSettings(hyperparameters={"epochs": 2, "lr": 0.01}),
        tuning=tuning,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app.synth()


@pytest.fixture(scope="module")
def assembly() -> cdk.cx_api.CloudAssembly:
    return _synth(MNIST_TUNING)


@pytest.fixture(scope="module")
def template(assembly: cdk.cx_api.CloudAssembly) -> dict[str, Any]:
    return dict(assembly.get_stack_by_name("Tuned").template)


@pytest.fixture(scope="module")
def asl(template: dict[str, Any]) -> dict[str, Any]:
    return render_definition(template)


# --- the settings ---------------------------------------------------------------------------


C, N, K = ContinuousRange, IntegerRange, CategoricalRange


@pytest.mark.parametrize(
    ("tuning", "message"),
    [
        (TuningSettings(), "tuning.parameter_ranges={}: must name at least one hyperparameter"),
        (
            TuningSettings(parameter_ranges={"lr": C(0.1, 0.01)}),
            "tuning.parameter_ranges['lr']=ContinuousRange(min_value=0.1, max_value=0.01, "
            "scaling='Auto'): min_value must be below max_value",
        ),
        (
            TuningSettings(parameter_ranges={"epochs": N(3, 3)}),
            "tuning.parameter_ranges['epochs']=IntegerRange(min_value=3, max_value=3, "
            "scaling='Auto'): min_value must be below max_value (the range is empty",
        ),
        (
            TuningSettings(parameter_ranges={"lr": C(0, 0.1, scaling="Logarithmic")}),
            "Logarithmic scaling needs min_value above 0",
        ),
        (
            TuningSettings(parameter_ranges={"m": C(0.5, 1.5, scaling="ReverseLogarithmic")}),
            "ReverseLogarithmic scaling needs 0 <= min_value and max_value < 1",
        ),
        (
            TuningSettings(parameter_ranges={"epochs": N(1, 5, scaling="ReverseLogarithmic")}),
            "tuning.parameter_ranges['epochs'].scaling='ReverseLogarithmic': must be one of "
            "Auto, Linear, Logarithmic",
        ),
        (
            TuningSettings(parameter_ranges={"sagemaker_program": K(["a.py", "b.py"])}),
            "tuning.parameter_ranges='sagemaker_program': names starting with 'sagemaker_'",
        ),
        (
            TuningSettings(parameter_ranges={"_tuning_objective_metric": K(["x"])}),
            "tuning.parameter_ranges='_tuning_objective_metric': names starting with",
        ),
        (
            TuningSettings(parameter_ranges={"lr": C(0.001, 0.1)}, max_jobs=2, max_parallel_jobs=3),
            "tuning.max_parallel_jobs=3: must be at most max_jobs (2)",
        ),
        (
            TuningSettings(parameter_ranges={"lr": C(0.001, 0.1)}, max_jobs=751),
            "tuning.max_jobs=751: must be from 1 to 750 with Bayesian",
        ),
        (
            TuningSettings(parameter_ranges={"lr": C(0.001, 0.1)}, max_parallel_jobs=101),
            "tuning.max_parallel_jobs=101: must be a whole number from 1 to 100",
        ),
        (
            TuningSettings(parameter_ranges={"lr": C(0.001, 0.1)}, objective_metric="accuracy"),
            "tuning.objective_metric='accuracy': must be one of train:loss, test:loss, "
            "test:accuracy",
        ),
        (
            TuningSettings(parameter_ranges={"lr": C(0.001, 0.1)}, objective_type="Max"),
            "tuning.objective_type='Max': must be one of Maximize, Minimize",
        ),
        (
            TuningSettings(parameter_ranges={"lr": C(0.001, 0.1)}, strategy="Grid"),
            "tuning.strategy='Grid': Grid search takes categorical ranges only (lr are not)",
        ),
        (
            TuningSettings(parameter_ranges={"b": K(["1", "2"])}, strategy="Grid", max_jobs=3),
            "tuning.max_jobs=3: Grid search runs every combination of the categorical values, 2",
        ),
        (
            TuningSettings(
                parameter_ranges={"lr": C(0.001, 0.1)}, strategy="Hyperband", early_stopping="Auto"
            ),
            "tuning.early_stopping='Auto': must be Off with Hyperband",
        ),
        (
            TuningSettings(parameter_ranges={"epochs": N(1, 5)}, strategy="Hyperband"),
            "tuning.strategy='Hyperband': Hyperband needs the number of epochs as a static "
            "hyperparameter",
        ),
        (
            TuningSettings(parameter_ranges={"b": K([])}),
            "tuning.parameter_ranges['b']=[]: must have 1 to 30 values",
        ),
        (
            TuningSettings(parameter_ranges={"b": K(["1", 1])}),
            "tuning.parameter_ranges['b']=['1', 1]: values must be distinct",
        ),
        (
            TuningSettings(parameter_ranges={f"h{i}": C(0.0, 1.0) for i in range(31)}),
            "may tune at most 30 hyperparameters",
        ),
        (
            TuningSettings(parameter_ranges={"lr": (0.001, 0.1)}),  # type: ignore[dict-item]
            "tuning.parameter_ranges['lr']=(0.001, 0.1): must be a ContinuousRange, IntegerRange "
            "or CategoricalRange",
        ),
        ({"lr": C(0.001, 0.1)}, "tuning={'lr': "),
    ],
)
def test_bad_tuning_settings_are_refused_naming_the_setting(tuning: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        _create(tuning)
    assert message in str(raised.value)


def test_more_than_100_hyperparameters_in_all_are_refused() -> None:
    many = {f"h{i}": "1" for i in range(95)}
    with pytest.raises(ValueError, match="at most 100 hyperparameters in all"):
        _create(
            TuningSettings(parameter_ranges={"lr": C(0.001, 0.1)}),
            TrainingSettings(hyperparameters=many),
        )


def test_hyperband_takes_the_epochs_of_the_training_hyperparameters() -> None:
    _create(TuningSettings(parameter_ranges={"lr": C(0.001, 0.1)}, strategy="Hyperband"))


def test_grid_runs_every_combination_unless_told_otherwise() -> None:
    grid = TuningSettings(
        parameter_ranges={"a": K([1, 2]), "b": K(["x", "y", "z"])}, strategy="Grid"
    )
    assert grid.job_counts() == (6, 2)
    assert grid.max_jobs_bounds() == (6, 6)
    _create(grid)


# --- names ------------------------------------------------------------------------------------

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")


@pytest.mark.parametrize(
    "prefix", ["m", "mlpipeline", "a" * 11, "a" * 12, "team-a-" + "x" * 19, "team-b-" + "x" * 19]
)
def test_tuning_job_names_fit_sagemakers_limit_for_every_prefix(prefix: str) -> None:
    pipeline = _create(MNIST_TUNING, name_prefix=prefix)
    branch = pipeline.training.tuning
    assert branch is not None
    definition = cdk.Stack.of(pipeline).resolve(branch.name.to_state_json())
    template = definition["Parameters"]["name.$"]
    # The name depends on two fresh UUIDs only, never on the execution's name.
    assert "$$.Execution" not in template
    stem = re.match(r"States\.Format\('([^{]*)-\{\}\{\}'", template)
    assert stem is not None, template
    for uuid in ("00000000", "ffffffff"), ("0a1b2c3d", "ffffffffffff"):
        name = f"{stem.group(1)}-{uuid[0]}{'e' * 12}"
        assert len(name) <= 32 and _NAME.fullmatch(name), name
    assert stem.group(1) == branch.stem


def test_two_long_prefixes_keep_apart() -> None:
    a = _create(MNIST_TUNING, name_prefix="team-a-" + "x" * 19).training.tuning
    b = _create(MNIST_TUNING, name_prefix="team-b-" + "x" * 19).training.tuning
    assert a is not None and b is not None and a.stem != b.stem


# --- the state machine ------------------------------------------------------------------------


def _sample(value: Any) -> Any:
    """Parameters with their JSONPath values replaced by what they hold at run time."""
    samples = {
        "HyperParameterTuningJobName.$": "mlpipeline-0a1b2c3dffffffffffff",
        "TrainingImage.$": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5",
        "S3Uri.$": "s3://data/training-data/",
        "ResourceConfig.$": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition.$": {"MaxRuntimeInSeconds": 3600},
        "EnableManagedSpotTraining.$": False,
        "StaticHyperParameters.$": {"epochs": "2", "sagemaker_program": "mnist.py"},
        "MaxNumberOfTrainingJobs.$": 6,
        "MaxParallelTrainingJobs.$": 2,
        "Value.$": "0" * 64,
    }
    if isinstance(value, list):
        return [_sample(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k.removesuffix(".$"): samples[k] if k in samples else _sample(v) for k, v in value.items()
    }


def test_the_tuning_request_satisfies_botocores_sagemaker_model(asl: dict[str, Any]) -> None:
    tune = asl["States"]["Tune"]
    assert tune["Resource"].endswith(":states:::sagemaker:createHyperParameterTuningJob.sync")
    request = _sample(tune["Parameters"])
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateHyperParameterTuningJob").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    config = request["HyperParameterTuningJobConfig"]
    assert config["ParameterRanges"] == {
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.0005", "MaxValue": "0.05", "ScalingType": "Logarithmic"}
        ],
        "CategoricalParameterRanges": [{"Name": "batch-size", "Values": ["32", "64", "128"]}],
    }
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "test:accuracy",
    }


def test_the_best_trial_is_described_into_training_like_a_single_job(
    asl: dict[str, Any],
) -> None:
    states = asl["States"]
    assert states["TrainingResourcesChosen"]["Next"] == "TrainOrTune"
    choice = states["TrainOrTune"]
    assert choice["Choices"][0]["Next"] == "NameTuningJob" and choice["Default"] == "Train"
    assert states["HasBestTrial"]["Choices"][0]["Next"] == "DescribeBestTrainingJob"
    describe = states["DescribeBestTrainingJob"]
    assert describe["ResultSelector"] == states["Train"]["ResultSelector"]
    assert describe["ResultPath"] == states["Train"]["ResultPath"] == "$.training"
    assert describe["Next"] == states["Train"]["Next"]


def test_a_failed_tuning_job_or_one_with_no_completed_trial_fails_the_run_clearly(
    asl: dict[str, Any],
) -> None:
    states = asl["States"]
    errors = {
        states[n]["Parameters"]["Error"]
        for n in ("TuningJobFailed", "TuningEndedWithoutTrial", "NoTrialCompleted")
    }
    assert errors == {TUNING_FAILED, NO_COMPLETED_TRIAL}
    for name in ("TuningJobFailed", "TuningEndedWithoutTrial", "NoTrialCompleted"):
        assert states[name]["Next"] == "NotifyFailure"


def test_run_input_tuning_is_checked_by_the_state_machine_with_the_contracts_messages(
    asl: dict[str, Any],
) -> None:
    states = asl["States"]
    causes = {states[n]["Parameters"]["Cause"] for n in states if n.startswith("RejectTuning")}
    assert contract.TUNING_ENABLED_MESSAGE in causes
    assert contract.TUNING_MAX_PARALLEL_JOBS_MESSAGE in causes
    assert contract.TUNING_PARALLEL_ABOVE_JOBS in causes
    assert contract.tuning_max_jobs_message(1, 750) in causes
    assert contract.BY_NAME[contract.TUNING].message in causes
    defaults = states["ApplyRunDefaults"]["Parameters"]["defaults"]
    assert defaults["tuning"] == {"enabled": True, "maxJobs": 6, "maxParallelJobs": 2}
    tuned = states["RejectTunedHyperparameters"]["Parameters"]["Cause"]
    assert tuned.startswith("hyperparameters: lr, batch-size are tuned")


def test_a_pipeline_without_tuning_takes_no_tuning_input() -> None:
    pipeline = _create(None)
    asl = render_definition(cdk.assertions.Template.from_stack(cdk.Stack.of(pipeline)).to_json())
    assert "Tune" not in asl["States"]
    assert "tuning" not in asl["States"]["ApplyRunDefaults"]["Parameters"]["defaults"]


def test_contract_check_refuses_bad_tuning_input() -> None:
    check = contract.check
    assert check({"tuning": {"enabled": False}}) == []
    assert check({"tuning": {"maxJobs": 8, "maxParallelJobs": 2}}) == []
    assert check({"tuning": []}) == [contract.BY_NAME[contract.TUNING].message]
    assert check({"tuning": {"jobs": 2}}) == [contract.BY_NAME[contract.TUNING].message]
    assert check({"tuning": {"enabled": "no"}}) == [contract.TUNING_ENABLED_MESSAGE]
    assert check({"tuning": {"maxJobs": 2.5}}) == [contract.tuning_max_jobs_message()]
    assert check({"tuning": {"maxParallelJobs": 0}}) == [contract.TUNING_MAX_PARALLEL_JOBS_MESSAGE]
    assert check({"tuning": {"maxJobs": 2, "maxParallelJobs": 3}}) == [
        contract.TUNING_PARALLEL_ABOVE_JOBS
    ]


# --- IAM, cdk-nag, cfn-lint -------------------------------------------------------------------


def _state_machine_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        and "StateMachineRole" in json.dumps(resource["Properties"]["Roles"])
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_state_machine_may_run_tuning_jobs_named_after_its_stem_only(
    template: dict[str, Any],
) -> None:
    by_sid = {s.get("Sid"): s for s in _state_machine_statements(template)}
    tuning = by_sid["RunTuningJobs"]
    assert set(tuning["Action"]) == {
        "sagemaker:AddTags",
        "sagemaker:CreateHyperParameterTuningJob",
        "sagemaker:DescribeHyperParameterTuningJob",
        "sagemaker:StopHyperParameterTuningJob",
    }
    assert json.dumps(tuning["Resource"]).endswith(':hyper-parameter-tuning-job/mlpipeline-*"]]}')
    rule = json.dumps(by_sid["FollowTuningJobEvents"]["Resource"])
    assert "rule/StepFunctionsGetEventsForSageMakerTuningJobsRule" in rule


def test_a_tuning_pipeline_passes_cdk_nag_with_narrow_acknowledgements(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    suppressed = {v["ruleName"] for v in nag["suppressedViolations"]}
    assert any("hyper-parameter-tuning-job/mlpipeline-*" in r for r in suppressed)


def test_a_long_prefix_tuning_pipeline_passes_cdk_nag() -> None:
    assembly = _synth(MNIST_TUNING, name_prefix="team-a-" + "x" * 19)
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert nag["conclusion"] == "success" and nag["violations"] == []


def test_cfn_lint_finds_nothing_in_a_tuning_pipeline(template: dict[str, Any]) -> None:
    matches = cfnlint.api.lint(json.dumps(template), regions=["us-east-1", "eu-west-1"])
    assert [str(m) for m in matches] == []


def test_every_trial_gets_the_single_jobs_vpc_isolation_encryption_and_spot_settings() -> None:
    stack = cdk.Stack(new_app(), "Isolated")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    MLPipeline(
        stack,
        "P",
        source_dir=CODE,
        entry_point="mnist.py",
        training=TrainingSettings(hyperparameters={"epochs": 2}, spot=True),
        network=NetworkSettings(
            vpc=vpc, enable_network_isolation=True, encrypt_inter_container_traffic=True
        ),
        tuning=MNIST_TUNING,
    )
    asl = render_definition(cdk.assertions.Template.from_stack(stack).to_json())
    train = asl["States"]["Train"]["Parameters"]
    trial = asl["States"]["Tune"]["Parameters"]["TrainingJobDefinition"]
    for key in (
        "VpcConfig",
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining.$",
        "InputDataConfig",  # the code channel of an isolated job included
        "OutputDataConfig",
        "ResourceConfig.$",
        "StoppingCondition.$",
        "AlgorithmSpecification",
        "RoleArn",
    ):
        assert trial[key] == train[key], key
    assert [c["ChannelName"] for c in trial["InputDataConfig"]] == ["training", "code"]
    # One CheckpointConfig would serve every trial: parallel trials would resume from each
    # other's checkpoints, so trials get none.
    assert "CheckpointConfig" not in trial
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateHyperParameterTuningJob").input_shape
    report = ParamValidator().validate(_sample(asl["States"]["Tune"]["Parameters"]), shape)
    assert not report.has_errors(), report.generate_report()
