"""Turn an execution's input into a checked run configuration, before anything is created."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ..contract import run_input as contract
from ..contract.registry import APPROVAL_MODES, LATEST
from ..contract.run_input import RUN_INPUT_KEYS
from ..instance_types import TRAINING_INSTANCE_TYPES
from ._rollout_input import check_rollout_input
from ._tuning_input import TuningDefaults, check_tuning_input
from .failure import FailureHandler

__all__ = ["RUN_INPUT_KEYS", "PrepareRun", "RunDefaults"]


@dataclass(frozen=True)
class RunDefaults:
    """What a run uses for each key its input leaves out."""

    training_instance_type: str
    training_instance_count: int
    training_data_uri: str
    max_runtime_seconds: int
    spot: bool
    accuracy_threshold: float
    #: ``automatic`` or ``manual`` (:mod:`~mlpipeline_cdk.contract.registry`).
    approval: str = "automatic"
    #: Strings, as SageMaker takes them; a run's ``hyperparameters`` are laid over these.
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    #: Set by the pipeline (script, code archive, ...); a run cannot override them.
    reserved_hyperparameters: Mapping[str, str] = field(default_factory=dict)
    #: A pipeline with tuning settings takes the run input ``tuning``.
    tuning: TuningDefaults | None = None
    #: A pipeline that deploys with guarded rollouts takes the run input ``rollout``; this is
    #: its ``rollout`` settings as run input (``RolloutSettings.as_input``).
    rollout: Mapping[str, Any] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The run input keys this pipeline takes."""
        optional = {contract.TUNING: self.tuning, contract.ROLLOUT: self.rollout}
        return tuple(k for k in RUN_INPUT_KEYS if optional.get(k, True))

    def as_input_defaults(self) -> dict[str, Any]:
        tuning = {contract.TUNING: self.tuning.as_input()} if self.tuning else {}
        rollout = {contract.ROLLOUT: dict(self.rollout)} if self.rollout else {}
        return {
            **tuning,
            **rollout,
            "hyperparameters": {},
            "trainingInstanceType": self.training_instance_type,
            "trainingInstanceCount": self.training_instance_count,
            "trainingDataUri": self.training_data_uri,
            "maxRuntimeSeconds": self.max_runtime_seconds,
            "spot": self.spot,
            "accuracyThreshold": self.accuracy_threshold,
            "approval": self.approval,
            # Empty: the run trains (the key must be present, so that unknown keys show).
            "modelPackage": "",
            "onApproval": False,
        }


def _not_an_object(json_path: str) -> sfn.Condition:
    """True when the JSON text at ``json_path`` (``States.JsonToString`` of a value) is not an
    object's: every JSON object, and nothing else, is written starting with ``{`` (strings,
    numbers, booleans, null and arrays, the empty one included, are not). A Choice alone cannot
    tell ``[]`` from ``{}``, and the intrinsics that merge objects fail on anything else with
    ``States.Runtime``, which no Catch sees."""
    return sfn.Condition.not_(sfn.Condition.string_matches(json_path, "{*"))


class PrepareRun(sfn.StateMachineFragment):
    """Checks the execution input and writes ``$.config`` and ``$.run``.

    The input is a JSON object whose keys are all optional (:data:`RUN_INPUT_KEYS`):

    - ``hyperparameters``: object of string values, laid over the pipeline's;
    - ``trainingInstanceType``: an instance type SageMaker offers for training
      (:data:`~mlpipeline_cdk.instance_types.TRAINING_INSTANCE_TYPES`);
    - ``trainingInstanceCount``: whole number, 1 to 100;
    - ``trainingDataUri``: ``s3://`` URI under ``allowed_data_uri_prefix``;
    - ``maxRuntimeSeconds``: whole number, 1 to 2,419,200 (28 days);
    - ``spot``: boolean, managed spot training (the job may then wait up to twice its runtime);
    - ``accuracyThreshold``: number from 0 to 1;
    - ``approval``: ``automatic`` or ``manual``;
    - ``modelPackage``: ``latest`` or the ARN of a version of one of the model package groups
      whose versions start with one of ``model_package_prefixes``: the run deploys it instead of
      training;
    - ``tuning`` (pipelines with tuning settings only): ``enabled``, ``maxJobs``,
      ``maxParallelJobs`` laid over the settings' (see :mod:`mlpipeline_cdk.tuning`);
    - ``rollout`` (pipelines that deploy with guarded rollouts): ``strategy``, its percentages
      and wait times laid over the settings' (see :mod:`mlpipeline_cdk.rollout_settings`).

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
        model_package_prefixes: Sequence[str] = (),
        model_package_groups: str = "the pipeline's model package group",
    ) -> None:
        """
        :param model_package_prefixes: ARN prefixes (``...:model-package/<group>/``) of the
            versions a run may deploy; none: ``modelPackage`` must be left out.
        :param model_package_groups: How the message on a bad ``modelPackage`` names them.
        """
        super().__init__(scope, construct_id)
        self._model_package_prefixes = tuple(model_package_prefixes)
        self._model_package_groups = model_package_groups
        self._failure = failure

        apply_defaults = sfn.Pass(
            self,
            "ApplyRunDefaults",
            parameters={
                "input": sfn.JsonPath.entire_payload,
                "inputJson": sfn.JsonPath.json_to_string(sfn.JsonPath.entire_payload),
                "defaults": defaults.as_input_defaults(),
                "trainingInstanceTypes": list(TRAINING_INSTANCE_TYPES),
                "baseHyperparameters": dict(defaults.hyperparameters),
                "reservedHyperparameters": dict(defaults.reserved_hyperparameters),
            },
        )
        check_shape = sfn.Choice(self, "CheckInputIsObject")
        not_an_object = _not_an_object("$.inputJson")
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
                "trainingInstanceTypes": sfn.JsonPath.list_at("$.trainingInstanceTypes"),
            },
        )
        describe_hyperparameters = sfn.Pass(
            self,
            "DescribeHyperparameters",
            parameters={
                "json": sfn.JsonPath.json_to_string(
                    sfn.JsonPath.object_at("$.config.hyperparameters")
                )
            },
            result_path="$.hyperparametersShape",
        )
        check_hyperparameters = sfn.Choice(self, "CheckHyperparametersIsObject")
        hyperparameters_not_object = _not_an_object("$.hyperparametersShape.json")
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
                "instanceTypeOffered": sfn.JsonPath.array_contains(
                    sfn.JsonPath.list_at("$.trainingInstanceTypes"),
                    sfn.JsonPath.string_at("$.config.trainingInstanceType"),
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
                "instanceTypeOffered": sfn.JsonPath.string_at("$.inspect.instanceTypeOffered"),
            },
            result_path="$.inspect",
        )
        validate = sfn.Choice(self, "ValidateRunInput")
        for rule, state_id, cause in self._rules(allowed_data_uri_prefix, defaults.keys):
            validate.when(
                rule, failure.reject(self, state_id, error=contract.INVALID_INPUT, cause=cause)
            )

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
                error=contract.INVALID_INPUT,
                cause=contract.HYPERPARAMETER_NOT_STRING,
            )
        )
        check_values.item_processor(value_is_string)
        failure.catch(check_values, errors=[contract.INVALID_INPUT])

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
                error=contract.INVALID_INPUT,
                cause=contract.NOT_AN_OBJECT,
            ),
        ).otherwise(merge)
        merge.next(describe_hyperparameters).next(check_hyperparameters)
        check_hyperparameters.when(
            hyperparameters_not_object,
            failure.reject(
                self,
                "RejectHyperparametersNotObject",
                error=contract.INVALID_INPUT,
                cause=contract.BY_NAME[contract.HYPERPARAMETERS].message,
            ),
        ).otherwise(resolve)
        resolve.next(inspect).next(count_keys).next(validate)
        validate.otherwise(check_values)
        after_values: sfn.INextable = check_values
        if defaults.tuning is not None:
            start, end = check_tuning_input(self, defaults=defaults.tuning, failure=failure)
            after_values.next(start)
            after_values = end
        if defaults.rollout is not None:
            start, end = check_rollout_input(self, defaults=defaults.rollout, failure=failure)
            after_values.next(start)
            after_values = end
        after_values.next(choose_capacity)
        choose_capacity.when(
            sfn.Condition.boolean_equals("$.config.spot", True), spot_capacity
        ).otherwise(on_demand_capacity)
        spot_capacity.next(self._done)
        on_demand_capacity.next(self._done)
        self._start = apply_defaults

    def _model_package_rule(self) -> sfn.Condition:
        path = f"$.config.{contract.MODEL_PACKAGE}"
        allowed = [
            sfn.Condition.string_equals(path, ""),
            sfn.Condition.string_equals(path, LATEST),
            *(sfn.Condition.string_matches(path, f"{p}*") for p in self._model_package_prefixes),
        ]
        if not self._model_package_prefixes:
            allowed = allowed[:1]
        return sfn.Condition.and_(sfn.Condition.is_string(path), sfn.Condition.or_(*allowed))

    def _rules(
        self, allowed_data_uri_prefix: str, run_input_keys: tuple[str, ...]
    ) -> list[tuple[sfn.Condition, str, str]]:
        """One Choice rule per key of :data:`~mlpipeline_cdk.contract.run_input.KEYS` (and one
        for unknown keys), true when the input breaks it; with the key's message as cause."""
        keys = contract.BY_NAME
        # States.Format renders a whole number as "2" and a fraction as "2.5"; the text tells
        # a whole number from a fraction, which no Choice comparison does.
        texts = {
            contract.TRAINING_INSTANCE_COUNT: "$.inspect.countText",
            contract.MAX_RUNTIME_SECONDS: "$.inspect.runtimeText",
        }

        def valid(key: contract.RunInputKey) -> sfn.Condition:
            path = f"$.config.{key.name}"
            if key.kind == "boolean":
                return sfn.Condition.is_boolean(path)
            if key.name == contract.APPROVAL:
                return sfn.Condition.and_(
                    sfn.Condition.is_string(path),
                    sfn.Condition.or_(
                        *(sfn.Condition.string_equals(path, m) for m in APPROVAL_MODES)
                    ),
                )
            if key.name == contract.MODEL_PACKAGE:
                return self._model_package_rule()
            if key.name == contract.TRAINING_INSTANCE_TYPE:
                # One SageMaker offers for training: CreateTrainingJob refuses any other
                # (botocore's sagemaker model, TrainingInstanceType enum).
                return sfn.Condition.and_(
                    sfn.Condition.is_string(path),
                    sfn.Condition.boolean_equals("$.inspect.instanceTypeOffered", True),
                )
            if key.kind == "string":
                return sfn.Condition.and_(
                    sfn.Condition.is_string(path),
                    sfn.Condition.string_matches(path, f"{allowed_data_uri_prefix}*"),
                )
            assert key.minimum is not None and key.maximum is not None, key.name
            conditions = [
                sfn.Condition.is_numeric(path),
                sfn.Condition.number_greater_than_equals(path, key.minimum),
                sfn.Condition.number_less_than_equals(path, key.maximum),
            ]
            if key.kind == "whole":
                conditions.append(
                    sfn.Condition.not_(sfn.Condition.string_matches(texts[key.name], "*.*"))
                )
            return sfn.Condition.and_(*conditions)

        rules = [
            (
                sfn.Condition.not_(
                    sfn.Condition.number_equals("$.inspect.keyCount", len(run_input_keys))
                ),
                "RejectUnknownKeys",
                sfn.JsonPath.format(
                    contract.unknown_keys_message("{}", run_input_keys),
                    sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.input")),
                ),
            )
        ]
        for name in (
            contract.TRAINING_INSTANCE_TYPE,
            contract.TRAINING_INSTANCE_COUNT,
            contract.TRAINING_DATA_URI,
            contract.MAX_RUNTIME_SECONDS,
            contract.SPOT,
            contract.ACCURACY_THRESHOLD,
            contract.APPROVAL,
            contract.MODEL_PACKAGE,
            contract.ON_APPROVAL,
        ):
            key = keys[name]
            rules.append(
                (
                    sfn.Condition.not_(valid(key)),
                    f"Reject{name[0].upper()}{name[1:]}",
                    key.message.format(
                        prefix=allowed_data_uri_prefix, groups=self._model_package_groups
                    ),
                )
            )
        return rules

    @property
    def start_state(self) -> sfn.State:
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self._done]
