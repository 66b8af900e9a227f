"""Turn an execution's input into a checked run configuration, before anything is created."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .failure import FailureHandler

#: The keys an execution's input may have, all optional.
RUN_INPUT_KEYS: Final = (
    "hyperparameters",
    "trainingInstanceType",
    "trainingInstanceCount",
    "trainingDataUri",
    "maxRuntimeSeconds",
    "spot",
    "accuracyThreshold",
)
MAX_RUNTIME_SECONDS: Final = 28 * 24 * 3600
#: Above this, a job's instance count is almost certainly a typo (the service quota decides).
MAX_INSTANCE_COUNT: Final = 100


@dataclass(frozen=True)
class RunDefaults:
    """What a run uses for each key its input leaves out."""

    training_instance_type: str
    training_instance_count: int
    training_data_uri: str
    max_runtime_seconds: int
    spot: bool
    accuracy_threshold: float
    #: Strings, as SageMaker takes them; a run's ``hyperparameters`` are laid over these.
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    #: Set by the pipeline (script, code archive, ...); a run cannot override them.
    reserved_hyperparameters: Mapping[str, str] = field(default_factory=dict)

    def as_input_defaults(self) -> dict[str, Any]:
        return {
            "hyperparameters": {},
            "trainingInstanceType": self.training_instance_type,
            "trainingInstanceCount": self.training_instance_count,
            "trainingDataUri": self.training_data_uri,
            "maxRuntimeSeconds": self.max_runtime_seconds,
            "spot": self.spot,
            "accuracyThreshold": self.accuracy_threshold,
        }


def _not_an_object(path: str) -> sfn.Condition:
    """True when ``path`` holds a string, number, boolean, null or a non-empty array."""
    return sfn.Condition.or_(
        sfn.Condition.is_string(path),
        sfn.Condition.is_numeric(path),
        sfn.Condition.is_boolean(path),
        sfn.Condition.is_null(path),
        sfn.Condition.is_present(f"{path}[0]"),
    )


class PrepareRun(sfn.StateMachineFragment):
    """Checks the execution input and writes ``$.config`` and ``$.run``.

    The input is a JSON object whose keys are all optional (:data:`RUN_INPUT_KEYS`):

    - ``hyperparameters``: object of string values, laid over the pipeline's;
    - ``trainingInstanceType``: ``ml.*`` instance type;
    - ``trainingInstanceCount``: whole number, 1 to 100;
    - ``trainingDataUri``: ``s3://`` URI under ``allowed_data_uri_prefix``;
    - ``maxRuntimeSeconds``: whole number, 1 to 2,419,200 (28 days);
    - ``spot``: boolean, managed spot training (the job may then wait up to twice its runtime);
    - ``accuracyThreshold``: number from 0 to 1.

    Anything else fails the execution with ``InvalidInput`` and a cause naming the rule, before
    any SageMaker call.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: RunDefaults,
        allowed_data_uri_prefix: str,
        failure: FailureHandler,
    ) -> None:
        super().__init__(scope, construct_id)
        self._failure = failure

        apply_defaults = sfn.Pass(
            self,
            "ApplyRunDefaults",
            parameters={
                "input": sfn.JsonPath.entire_payload,
                "defaults": defaults.as_input_defaults(),
                "baseHyperparameters": dict(defaults.hyperparameters),
                "reservedHyperparameters": dict(defaults.reserved_hyperparameters),
            },
        )
        check_shape = sfn.Choice(self, "CheckInputIsObject")
        not_an_object = _not_an_object("$.input")
        merge = sfn.Pass(
            self,
            "MergeRunInput",
            parameters={
                "input": sfn.JsonPath.string_at("$.input"),
                "config": sfn.JsonPath.json_merge(
                    sfn.JsonPath.object_at("$.defaults"), sfn.JsonPath.object_at("$.input")
                ),
                "baseHyperparameters": sfn.JsonPath.object_at("$.baseHyperparameters"),
                "reservedHyperparameters": sfn.JsonPath.object_at("$.reservedHyperparameters"),
            },
        )
        check_hyperparameters = sfn.Choice(self, "CheckHyperparametersIsObject")
        hyperparameters_not_object = _not_an_object("$.config.hyperparameters")
        # Reserved keys are merged last, so a run cannot replace the script or its archive.
        resolve = sfn.Pass(
            self,
            "ResolveHyperparameters",
            parameters={
                "hyperparameters": sfn.JsonPath.json_merge(
                    sfn.JsonPath.json_merge(
                        sfn.JsonPath.object_at("$.baseHyperparameters"),
                        sfn.JsonPath.object_at("$.config.hyperparameters"),
                    ),
                    sfn.JsonPath.object_at("$.reservedHyperparameters"),
                )
            },
            result_path="$.run",
        )
        inspect = sfn.Pass(
            self,
            "InspectRunInput",
            parameters={
                "values": sfn.JsonPath.list_at("$.config.*"),
                "hyperparameterValues": sfn.JsonPath.list_at("$.run.hyperparameters.*"),
                "countText": sfn.JsonPath.format(
                    "{}", sfn.JsonPath.string_at("$.config.trainingInstanceCount")
                ),
                "runtimeText": sfn.JsonPath.format(
                    "{}", sfn.JsonPath.string_at("$.config.maxRuntimeSeconds")
                ),
            },
            result_path="$.inspect",
        )
        count_keys = sfn.Pass(
            self,
            "CountRunInputKeys",
            parameters={
                "keyCount": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.inspect.values")),
                "hyperparameterValues": sfn.JsonPath.list_at("$.inspect.hyperparameterValues"),
                "countText": sfn.JsonPath.string_at("$.inspect.countText"),
                "runtimeText": sfn.JsonPath.string_at("$.inspect.runtimeText"),
            },
            result_path="$.inspect",
        )
        validate = sfn.Choice(self, "ValidateRunInput")
        for rule, state_id, cause in self._rules(allowed_data_uri_prefix):
            validate.when(rule, failure.reject(self, state_id, error="InvalidInput", cause=cause))

        check_values = sfn.Map(
            self,
            "CheckHyperparameterValues",
            items_path="$.inspect.hyperparameterValues",
            result_path=sfn.JsonPath.DISCARD,
        )
        value_is_string = sfn.Choice(self, "IsHyperparameterValueString")
        value_is_string.when(
            sfn.Condition.is_string("$"), sfn.Pass(self, "HyperparameterValueIsString")
        )
        value_is_string.otherwise(
            sfn.Fail(
                self,
                "HyperparameterValueIsNotString",
                error="InvalidInput",
                cause="hyperparameters: every value must be a string, as SageMaker takes them, "
                'e.g. {"epochs": "2"}',
            )
        )
        check_values.item_processor(value_is_string)
        failure.catch(check_values, errors=["InvalidInput"])

        choose_capacity = sfn.Choice(self, "ChooseCapacity")
        spot_capacity = sfn.Pass(
            self,
            "UseSpotCapacity",
            parameters={
                "MaxRuntimeInSeconds": sfn.JsonPath.number_at("$.config.maxRuntimeSeconds"),
                "MaxWaitTimeInSeconds": sfn.JsonPath.math_add(
                    sfn.JsonPath.number_at("$.config.maxRuntimeSeconds"),
                    sfn.JsonPath.number_at("$.config.maxRuntimeSeconds"),
                ),
            },
            result_path="$.run.stoppingCondition",
        )
        on_demand_capacity = sfn.Pass(
            self,
            "UseOnDemandCapacity",
            parameters={
                "MaxRuntimeInSeconds": sfn.JsonPath.number_at("$.config.maxRuntimeSeconds")
            },
            result_path="$.run.stoppingCondition",
        )
        # The inspection results served their purpose; they do not travel further.
        self._done = sfn.Pass(
            self,
            "RunConfigured",
            parameters={
                "input": sfn.JsonPath.object_at("$.input"),
                "config": sfn.JsonPath.object_at("$.config"),
                "run": sfn.JsonPath.object_at("$.run"),
            },
        )

        apply_defaults.next(check_shape)
        check_shape.when(
            not_an_object,
            failure.reject(
                self,
                "RejectInputNotObject",
                error="InvalidInput",
                cause="the run input must be a JSON object, e.g. {} or "
                '{"hyperparameters": {"epochs": "2"}}',
            ),
        ).otherwise(merge)
        merge.next(check_hyperparameters)
        check_hyperparameters.when(
            hyperparameters_not_object,
            failure.reject(
                self,
                "RejectHyperparametersNotObject",
                error="InvalidInput",
                cause='hyperparameters must be an object of strings, e.g. {"epochs": "2"}',
            ),
        ).otherwise(resolve)
        resolve.next(inspect).next(count_keys).next(validate)
        validate.otherwise(check_values)
        check_values.next(choose_capacity)
        choose_capacity.when(
            sfn.Condition.boolean_equals("$.config.spot", True), spot_capacity
        ).otherwise(on_demand_capacity)
        spot_capacity.next(self._done)
        on_demand_capacity.next(self._done)
        self._start = apply_defaults

    @staticmethod
    def _rules(allowed_data_uri_prefix: str) -> list[tuple[sfn.Condition, str, str]]:
        config = "$.config"

        def whole_number_between(path: str, text: str, low: int, high: int) -> sfn.Condition:
            return sfn.Condition.not_(
                sfn.Condition.and_(
                    sfn.Condition.is_numeric(path),
                    sfn.Condition.number_greater_than_equals(path, low),
                    sfn.Condition.number_less_than_equals(path, high),
                    sfn.Condition.not_(sfn.Condition.string_matches(text, "*.*")),
                )
            )

        return [
            (
                sfn.Condition.not_(
                    sfn.Condition.number_equals("$.inspect.keyCount", len(RUN_INPUT_KEYS))
                ),
                "RejectUnknownKeys",
                sfn.JsonPath.format(
                    f"the run input may only have the keys {', '.join(RUN_INPUT_KEYS)}; got {{}}",
                    sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.input")),
                ),
            ),
            (
                sfn.Condition.not_(
                    sfn.Condition.and_(
                        sfn.Condition.is_string(f"{config}.trainingInstanceType"),
                        sfn.Condition.string_matches(f"{config}.trainingInstanceType", "ml.*.*"),
                    )
                ),
                "RejectTrainingInstanceType",
                "trainingInstanceType must be a SageMaker instance type such as ml.m5.xlarge",
            ),
            (
                whole_number_between(
                    f"{config}.trainingInstanceCount",
                    "$.inspect.countText",
                    1,
                    MAX_INSTANCE_COUNT,
                ),
                "RejectTrainingInstanceCount",
                f"trainingInstanceCount must be a whole number from 1 to {MAX_INSTANCE_COUNT}",
            ),
            (
                sfn.Condition.not_(
                    sfn.Condition.and_(
                        sfn.Condition.is_string(f"{config}.trainingDataUri"),
                        sfn.Condition.string_matches(
                            f"{config}.trainingDataUri", f"{allowed_data_uri_prefix}*"
                        ),
                    )
                ),
                "RejectTrainingDataUri",
                f"trainingDataUri must be an S3 URI under {allowed_data_uri_prefix}",
            ),
            (
                whole_number_between(
                    f"{config}.maxRuntimeSeconds",
                    "$.inspect.runtimeText",
                    1,
                    MAX_RUNTIME_SECONDS,
                ),
                "RejectMaxRuntimeSeconds",
                f"maxRuntimeSeconds must be a whole number from 1 to {MAX_RUNTIME_SECONDS}",
            ),
            (
                sfn.Condition.not_(sfn.Condition.is_boolean(f"{config}.spot")),
                "RejectSpot",
                "spot must be true or false",
            ),
            (
                sfn.Condition.not_(
                    sfn.Condition.and_(
                        sfn.Condition.is_numeric(f"{config}.accuracyThreshold"),
                        sfn.Condition.number_greater_than_equals(f"{config}.accuracyThreshold", 0),
                        sfn.Condition.number_less_than_equals(f"{config}.accuracyThreshold", 1),
                    )
                ),
                "RejectAccuracyThreshold",
                "accuracyThreshold must be a number from 0 to 1",
            ),
        ]

    @property
    def start_state(self) -> sfn.State:
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self._done]
