"""The optimized Step Functions integration for SageMaker (``arn:aws:states:::sagemaker:*``),
for moto's ASL interpreter, which otherwise only forwards such tasks and cannot run ``.sync``.

What it does, after the Step Functions developer guide ("Create and manage Amazon SageMaker AI
jobs with Step Functions") and the AWS SDK behind the service:

- Resources: the optimized SageMaker APIs (CreateEndpoint, CreateEndpointConfig,
  CreateHyperParameterTuningJob, CreateLabelingJob, CreateModel, CreateProcessingJob,
  CreateTrainingJob, CreateTransformJob, UpdateEndpoint). Any other action, and
  ``.waitForTaskToken``, is refused when the state machine is created, as Step Functions refuses
  it. ``.sync`` is emulated for CreateTrainingJob and CreateHyperParameterTuningJob; the other
  ``.sync`` jobs, and CreateLabelingJob (which moto lacks), are refused with a message that says
  so rather than run wrongly.
- Parameters: PascalCase fields of the API's request, passed to SageMaker as they are; a field
  the request does not have is refused when the state machine is created.
- Request-response output: the API's response without ``ResponseMetadata``.
- ``createTrainingJob.sync`` output: the DescribeTrainingJob response once the job is
  ``Completed``, timestamps as epoch milliseconds. A job that ends ``Failed`` or ``Stopped``
  fails the task with ``States.TaskFailed`` and the DescribeTrainingJob response, as JSON, as the
  cause. A task that times out, or an execution that is stopped, stops the training job.
- ``createHyperParameterTuningJob.sync`` the same with the tuning job: the
  DescribeHyperParameterTuningJob response once it is ``Completed``; ``Failed`` or ``Stopped``
  fails the task with ``States.TaskFailed`` (Step Functions' error for a task that failed: "Error
  names", https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html) and
  the description as the cause; a timeout or a stop calls StopHyperParameterTuningJob (the
  documented IAM policy for this task allows ``sagemaker:StopHyperParameterTuningJob``:
  https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html).
- Service errors: ``SageMaker.<modeled exception>`` (``SageMaker.ResourceLimitExceededException``,
  ``SageMaker.ResourceInUseException``, ...) and ``SageMaker.AmazonSageMakerException`` for the
  unmodeled ones such as ``ValidationException``; the cause is the service's message followed by
  ``(Service: AmazonSageMaker; Status Code: 400; Error Code: ...; Request ID: ...; Proxy: null)``.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, cast

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import (
    HistoryEventExecutionDataDetails,
    HistoryEventType,
    TaskFailedEventDetails,
    TaskSubmittedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.parargs import Parameters
from moto.stepfunctions.parser.asl.component.common.payload.payloadvalue.payloadtmpl.payload_tmpl import (  # noqa: E501
    PayloadTmpl,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails as _EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.utils import camel_to_snake_case

from ._service_model import input_members, sagemaker_model

_SERVICE: Final = "sagemaker"
#: moto's EventDetails is a total TypedDict; moto itself fills one key at a time.
EventDetails: Any = _EventDetails
#: The module whose global ``state_task_service_for`` moto's interpreter calls.
_factory_module: Any = state_task_factory

#: The optimized SageMaker APIs, lowercased, and those with a documented ``.sync``.
_OPTIMIZED: Final = frozenset(
    {
        "createendpoint",
        "createendpointconfig",
        "createhyperparametertuningjob",
        "createlabelingjob",
        "createmodel",
        "createprocessingjob",
        "createtrainingjob",
        "createtransformjob",
        "updateendpoint",
    }
)
_DOCUMENTED_SYNC: Final = frozenset(
    {
        "createhyperparametertuningjob",
        "createlabelingjob",
        "createprocessingjob",
        "createtrainingjob",
        "createtransformjob",
    }
)


@dataclass(frozen=True)
class _SyncJob:
    """How ``.sync`` follows one kind of job: the request member naming it, the client's
    Describe and Stop methods, and the status member of the description."""

    name_member: str
    describe: str
    status_member: str
    stop: str


_SYNC_JOBS: Final = {
    "createtrainingjob": _SyncJob(
        "TrainingJobName", "describe_training_job", "TrainingJobStatus", "stop_training_job"
    ),
    "createhyperparametertuningjob": _SyncJob(
        "HyperParameterTuningJobName",
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobStatus",
        "stop_hyper_parameter_tuning_job",
    ),
}
_EMULATED_SYNC: Final = frozenset(_SYNC_JOBS)
#: Optimized APIs that moto's SageMaker does not implement at all.
_NOT_IN_MOTO: Final = frozenset({"createlabelingjob"})


_UNMODELED_EXCEPTION: Final = "AmazonSageMakerException"


@cache
def _java_exception_names() -> dict[str, str]:
    """Error code -> the exception class the service's AWS SDK for Java raises for it: the
    modeled error shapes get their own class; any other code is the service's base exception."""
    names = {}
    for shape in sagemaker_model().error_shapes:
        code = shape.metadata.get("error", {}).get("code", shape.name)
        names[code] = shape.name if shape.name.endswith("Exception") else f"{shape.name}Exception"
    return names


#: How often ``.sync`` asks for the training job's status. Step Functions takes minutes; a local
#: run wants it soon. Set by :func:`mlpipeline_emulator.install`.
sync_poll_seconds: float = 0.05


def error_name(code: str) -> str:
    """The Step Functions error for a SageMaker error code."""
    return f"SageMaker.{_java_exception_names().get(code, _UNMODELED_EXCEPTION)}"


def _iso_millis(value: Any) -> Any:
    """Timestamps as the AWS SDK integrations render them: ``2013-08-23T01:02:15.422Z``."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        utc = value.astimezone(datetime.UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dict):
        return {k: _iso_millis(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso_millis(v) for v in value]
    return value


def _epoch_millis(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _epoch_millis(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(v) for v in value]
    return value


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={cast(ResourceCondition, "sync")})

    # --- definition time ---------------------------------------------------------------------

    def _validate_service_integration_is_supported(self) -> None:
        action = str(self.resource.api_action).lower()
        condition = self.resource.condition
        arn = self.resource.resource_arn
        not_recognized = (
            f"The resource provided {arn} not recognized. The value is not a valid resource "
            "ARN, or the resource is not available in this region."
        )
        if action not in _OPTIMIZED:
            raise ValueError(not_recognized)
        if action in _NOT_IN_MOTO:
            raise ValueError(f"{arn}: not emulated by mlpipeline_emulator (moto lacks the API).")
        if condition == ResourceCondition.Sync and action not in _EMULATED_SYNC:
            if action in _DOCUMENTED_SYNC:
                raise ValueError(
                    f"{arn}: .sync is supported by Step Functions but not emulated by "
                    "mlpipeline_emulator (only createTrainingJob.sync and "
                    "createHyperParameterTuningJob.sync are)."
                )
            raise ValueError(not_recognized)
        if condition is not None and condition != ResourceCondition.Sync:
            raise ValueError(not_recognized)
        self._validate_fields()

    def _operation_name(self) -> str:
        action = str(self.resource.api_action)
        return action[0].upper() + action[1:]

    def _validate_fields(self) -> None:
        if not isinstance(self.parargs, Parameters):
            return  # JSONata Arguments are only known at run time.
        template = self.parargs.template_eval_component
        if not isinstance(template, PayloadTmpl):
            return
        members = input_members(self._operation_name())
        for binding in template.payload_bindings:
            if binding.field not in members:
                raise ValueError(f'The field "{binding.field}" is not supported by Step Functions')

    def _get_supported_parameters(self) -> set[str] | None:
        return set(input_members(self._operation_name()))

    # --- run time ----------------------------------------------------------------------------

    def _client(self, region: str, state_credentials: Any) -> Any:
        return boto_client_for(region=region, service=_SERVICE, state_credentials=state_credentials)

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        client = self._client(resource_runtime_part.region, state_credentials)
        call: Callable[..., dict[str, Any]] = getattr(
            client, camel_to_snake_case(str(self.resource.api_action))
        )
        response = call(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(_epoch_millis(response))

    def _after_eval_execution(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        # moto's callback integrations record TaskSubmitted, run the pattern, then TaskSucceeded;
        # this one records no TaskSucceeded for a job abandoned by a timeout or a stop.
        if self.resource.condition is not None:
            env.event_manager.add_event(
                context=env.event_history_context,
                event_type=HistoryEventType.TaskSubmitted,
                event_details=EventDetails(
                    taskSubmittedEventDetails=TaskSubmittedEventDetails(
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                        output=to_json_str(env.stack[-1]),
                        outputDetails=HistoryEventExecutionDataDetails(truncated=False),
                    )
                ),
            )
            if not env.is_mocked_mode():
                self._eval_integration_pattern(
                    env, resource_runtime_part, normalised_parameters, state_credentials
                )
                if not env.is_running():
                    return
        StateTaskService._after_eval_execution(
            self, env, resource_runtime_part, normalised_parameters, state_credentials
        )

    def _eval_integration_pattern(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        env.stack.pop()  # The Create call's own response; .sync answers with the job.
        client = self._client(resource_runtime_part.region, state_credentials)
        kind = _SYNC_JOBS[str(self.resource.api_action).lower()]
        named = {kind.name_member: normalised_parameters[kind.name_member]}
        while env.is_running():
            job = getattr(client, kind.describe)(**named)
            job.pop("ResponseMetadata", None)
            status = job[kind.status_member]
            if status in ("InProgress", "Stopping"):
                time.sleep(sync_poll_seconds)
                continue
            job = _epoch_millis(job)
            if status == "Completed":
                env.stack.append(job)
                return
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=to_json_str(job),
                        )
                    ),
                )
            )
        # The task timed out or the execution was stopped: Step Functions stops the job. The
        # task's outcome is no longer read; moto's own integrations leave None in its place.
        with contextlib.suppress(ClientError):
            getattr(client, kind.stop)(**named)
        env.stack.append(None)

    def _from_error(self, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            error = ex.response.get("Error", {})
            metadata = ex.response.get("ResponseMetadata", {})
            code = str(error.get("Code", "Unknown"))
            name = error_name(code)
            cause = (
                f"{error.get('Message', '')} (Service: AmazonSageMaker; "
                f"Status Code: {metadata.get('HTTPStatusCode', 400)}; Error Code: {code}; "
                f"Request ID: {metadata.get('RequestId', '')}; Proxy: null)"
            )
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(name),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=name,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        return super()._from_error(env=env, ex=ex)


class StateTaskServiceAwsSdkForSageMaker(state_task_service_aws_sdk.StateTaskServiceAwsSdk):
    """moto's ``aws-sdk`` integration, with SageMaker's timestamps rendered as ISO-8601 strings
    (moto leaves ``datetime`` objects in the state, which its DescribeExecution cannot encode)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        super()._eval_service_task(
            env, resource_runtime_part, normalised_parameters, state_credentials
        )
        if self.resource.api_name == _SERVICE:
            env.stack.append(_iso_millis(env.stack.pop()))


# --- installing into moto's interpreter --------------------------------------------------------

_original_factory: Callable[[str], Any] | None = None


def _state_task_service_for(service_name: str) -> Any:
    if service_name == _SERVICE:
        return StateTaskServiceSageMaker()
    if service_name == "aws-sdk":
        return StateTaskServiceAwsSdkForSageMaker()
    assert _original_factory is not None
    return _original_factory(service_name)


def patch() -> None:
    """Route ``sagemaker`` tasks to this integration, once. For ``aws-sdk:sagemaker`` tasks, name
    errors ``SageMaker.*`` as Step Functions does (moto says ``sagemaker.sagemakerException``)
    and render timestamps as strings."""
    global _original_factory
    if _original_factory is None:
        _original_factory = _factory_module.state_task_service_for
        _factory_module.state_task_service_for = _state_task_service_for
    state_task_service_aws_sdk._SERVICE_ERROR_NAMES[_SERVICE] = "SageMaker"


def unpatch() -> None:
    global _original_factory
    if _original_factory is not None:
        _factory_module.state_task_service_for = _original_factory
        _original_factory = None
    state_task_service_aws_sdk._SERVICE_ERROR_NAMES.pop(_SERVICE, None)
