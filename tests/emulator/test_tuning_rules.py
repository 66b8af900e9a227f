"""CreateHyperParameterTuningJob through the request gate (botocore's model, then SageMaker's
documented rules), and how trials' hyperparameters are drawn per strategy and scale."""

from __future__ import annotations

import copy
import math
import statistics
from typing import Any

import pytest

from mlpipeline_emulator import _request_gate
from mlpipeline_emulator._request_rules import RefusedRequestError
from mlpipeline_emulator._tuning_search import parse_ranges, trial_values
from tests.emulator.runs.test_tuning_jobs import tuning_request

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def refused(request: dict[str, Any]) -> str:
    with pytest.raises(RefusedRequestError) as caught:
        _request_gate.check("CreateHyperParameterTuningJob", request)
    assert caught.value.code == "ValidationException"
    return caught.value.message


def with_ranges(**ranges: Any) -> dict[str, Any]:
    return tuning_request(ParameterRanges=ranges)


def test_the_tests_request_passes() -> None:
    _request_gate.check("CreateHyperParameterTuningJob", tuning_request())


def test_botocores_model_applies_a_tuning_job_name_is_32_characters_at_most() -> None:
    message = refused(tuning_request(name="t" * 33))

    assert "at 'hyperParameterTuningJobName' failed to satisfy constraint" in message
    assert "length less than or equal to 32" in message


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "lr", "MinValue": "0", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
                ]
            },
            "ContinuousParameterRanges 'lr': Logarithmic scaling works only for ranges whose "
            "values are all > 0.",
        ),
        (
            {
                "IntegerParameterRanges": [
                    {
                        "Name": "n",
                        "MinValue": "1",
                        "MaxValue": "9",
                        "ScalingType": "ReverseLogarithmic",
                    }
                ]
            },
            "IntegerParameterRanges 'n': ReverseLogarithmic scaling is for continuous ranges only.",
        ),
        (
            {
                "ContinuousParameterRanges": [
                    {
                        "Name": "m",
                        "MinValue": "0.5",
                        "MaxValue": "1",
                        "ScalingType": "ReverseLogarithmic",
                    }
                ]
            },
            "ContinuousParameterRanges 'm': ReverseLogarithmic scaling works only within "
            "0 <= x < 1.0.",
        ),
        (
            {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.1", "MaxValue": "0.01"}]},
            "ContinuousParameterRanges 'lr': MinValue (0.1) must not be greater than MaxValue "
            "(0.01).",
        ),
        (
            {
                "IntegerParameterRanges": [
                    {"Name": "batch-size", "MinValue": "1.5", "MaxValue": "9"}
                ]
            },
            "IntegerParameterRanges 'batch-size': MinValue and MaxValue must each be an integer.",
        ),
    ],
)
def test_ranges_must_fit_their_scale(ranges: dict[str, Any], expected: str) -> None:
    assert refused(with_ranges(**ranges)) == f"ParameterRanges.{expected}"


def test_at_most_30_hyperparameters_in_all_ranges() -> None:
    request = with_ranges(
        IntegerParameterRanges=[
            {"Name": f"i{n}", "MinValue": "1", "MaxValue": "2"} for n in range(16)
        ],
        CategoricalParameterRanges=[{"Name": f"c{n}", "Values": ["a"]} for n in range(15)],
    )

    assert refused(request) == (
        "ParameterRanges: 31 hyperparameters to tune; at most 30 in all ranges together."
    )


def test_grid_takes_categorical_ranges_only() -> None:
    assert refused(tuning_request(Strategy="Grid")) == (
        "Strategy Grid supports categorical parameter ranges only; found integer or continuous "
        "ranges for batch-size, lr."
    )


def test_grid_limit_must_equal_its_combinations_when_given() -> None:
    request = tuning_request(
        Strategy="Grid",
        ParameterRanges={"CategoricalParameterRanges": [{"Name": "b", "Values": ["1", "2"]}]},
    )

    assert refused(request) == (
        "ResourceLimits.MaxNumberOfTrainingJobs (4) must equal the number of distinct "
        "categorical combinations (2) with Strategy Grid, or be left out."
    )
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 2
    _request_gate.check("CreateHyperParameterTuningJob", request)


def test_hyperband_needs_early_stopping_off_and_an_epochs_bound() -> None:
    auto = tuning_request(Strategy="Hyperband", TrainingJobEarlyStoppingType="Auto")
    unbounded = tuning_request(Strategy="Hyperband")
    del unbounded["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"]
    bounded = copy.deepcopy(unbounded)
    bounded["HyperParameterTuningJobConfig"]["StrategyConfig"] = {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 10}
    }

    assert refused(auto) == "TrainingJobEarlyStoppingType must be Off with Strategy Hyperband."
    assert refused(unbounded).startswith(
        "HyperbandStrategyConfig.MaxResource is not given and cannot be inferred"
    )
    _request_gate.check("CreateHyperParameterTuningJob", bounded)
    _request_gate.check("CreateHyperParameterTuningJob", tuning_request(Strategy="Hyperband"))


def test_a_strategy_config_is_for_hyperband_only() -> None:
    request = tuning_request(
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 10}}
    )

    assert refused(request) == "StrategyConfig is for Strategy Hyperband only, not Random."


def test_the_objective_must_be_one_of_the_metric_definitions() -> None:
    request = tuning_request(
        HyperParameterTuningJobObjective={"Type": "Maximize", "MetricName": "validation:acc"}
    )

    assert refused(request) == (
        "The objective metric 'validation:acc' is not one of the training job definition's "
        "MetricDefinitions (test:accuracy, test:loss)."
    )


def test_spot_trials_need_a_long_enough_wait() -> None:
    request = tuning_request()
    request["TrainingJobDefinition"]["EnableManagedSpotTraining"] = True

    assert refused(request) == (
        "StoppingCondition.MaxWaitTimeInSeconds is required when EnableManagedSpotTraining is true."
    )


def test_a_volume_key_with_local_storage_is_refused_in_the_definitions_resource_config() -> None:
    request = tuning_request()
    request["TrainingJobDefinition"]["ResourceConfig"].update(
        InstanceType="ml.g5.xlarge", VolumeKmsKeyId=KEY
    )

    assert refused(request).startswith(
        "You can't request a VolumeKmsKeyId when using an instance type with local storage "
        "(ml.g5.xlarge)"
    )


def test_what_the_emulator_cannot_run_is_refused_with_a_message_that_says_so() -> None:
    request = tuning_request()
    del request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    request["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "old"}],
        "WarmStartType": "TransferLearning",
    }

    assert refused(request) == (
        "WarmStartConfig is not emulated by mlpipeline_emulator. mlpipeline_emulator needs "
        "ResourceLimits.MaxNumberOfTrainingJobs with Strategy Random."
    )


# --- drawing trials -------------------------------------------------------------------------


def draws(ranges: dict[str, Any], count: int = 400, seed: int = 1) -> list[dict[str, str]]:
    values = trial_values("Random", parse_ranges(ranges), seed)
    return [next(values) for _ in range(count)]


def test_logarithmic_scaling_draws_evenly_in_the_log() -> None:
    lrs = [
        float(d["lr"])
        for d in draws(
            {
                "ContinuousParameterRanges": [
                    {
                        "Name": "lr",
                        "MinValue": "0.0001",
                        "MaxValue": "0.1",
                        "ScalingType": "Logarithmic",
                    }
                ]
            }
        )
    ]

    assert all(0.0001 <= v <= 0.1 for v in lrs)
    # Evenly in log10: the median near 10^-2.5, far below the linear midpoint 0.05.
    assert statistics.median(math.log10(v) for v in lrs) == pytest.approx(-2.5, abs=0.25)


def test_reverse_logarithmic_scaling_crowds_values_near_one() -> None:
    values = [
        float(d["m"])
        for d in draws(
            {
                "ContinuousParameterRanges": [
                    {
                        "Name": "m",
                        "MinValue": "0.0",
                        "MaxValue": "0.999",
                        "ScalingType": "ReverseLogarithmic",
                    }
                ]
            }
        )
    ]

    assert all(0.0 <= v <= 0.999 for v in values)
    assert statistics.median(values) > 0.9


def test_integer_ranges_draw_integers_within_their_bounds_both_included() -> None:
    sizes = {
        int(d["b"])
        for d in draws(
            {"IntegerParameterRanges": [{"Name": "b", "MinValue": "2", "MaxValue": "5"}]}
        )
    }
    logarithmic = {
        int(d["b"])
        for d in draws(
            {
                "IntegerParameterRanges": [
                    {"Name": "b", "MinValue": "2", "MaxValue": "5", "ScalingType": "Logarithmic"}
                ]
            }
        )
    }

    assert sizes == logarithmic == {2, 3, 4, 5}


def test_a_random_seed_repeats_the_same_trials() -> None:
    ranges = tuning_request()["HyperParameterTuningJobConfig"]["ParameterRanges"]

    assert draws(ranges, 5, seed=3) == draws(ranges, 5, seed=3)
    assert draws(ranges, 5, seed=3) != draws(ranges, 5, seed=4)
