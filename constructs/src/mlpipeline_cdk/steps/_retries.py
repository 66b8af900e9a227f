"""Which SageMaker errors a run retries, and how, for each kind of Step Functions task.

Step Functions names a failed SageMaker call differently for its two integrations:

- The optimized integration (``arn:aws:states:::sagemaker:*``) calls SageMaker through the AWS
  SDK for Java and names the error after the SDK's exception class: ``SageMaker.<Shape>Exception``
  for the error shapes of the API model (``ResourceLimitExceeded``, ``ResourceInUse``,
  ``ResourceNotFound``, ``ConflictException``) and ``SageMaker.AmazonSageMakerException`` for every
  other error code, throttling (``ThrottlingException``) and invalid requests
  (``ValidationException``) alike. The cause is the exception's message, which carries the error
  code: ``<message> (Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException;
  Request ID: ...; Proxy: null)`` (aws/aws-sdk-java,
  aws-java-sdk-core/src/main/java/com/amazonaws/AmazonServiceException.java, ``getMessage``).
  So throttling is told from an invalid request only by the cause.
  https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html
- The AWS SDK integration (``arn:aws:states:::aws-sdk:sagemaker:*``) names errors
  ``ServiceName.ErrorName`` in PascalCase with an ``Exception`` suffix always added
  (``SageMaker.ResourceNotFoundException``); an error code the API model does not declare
  (``ValidationException``, ``ThrottlingException``) is ``SageMaker.SageMakerException``, and its
  cause (``<message> (Service: SageMaker, Status Code: 400, Request ID: ...)``) has no error code.
  https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
  ("If an AWS SDK integration encounters an error ...") and
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html

SageMaker's own error codes for throttling and transient faults (``ThrottlingException``,
``InternalFailure``, ``ServiceUnavailable``) are its common errors:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html

Hence:

- Optimized tasks catch ``SageMaker.AmazonSageMakerException`` and look at the error code in the
  cause: throttling and transient faults wait (random backoff, growing) and try again, drawing
  on a budget of :data:`THROTTLE_BUDGET` retries per run; anything else (an invalid request)
  fails the run at once.
- AWS SDK tasks only read or delete (DescribeEndpoint, ListTags, DeleteEndpoint): they retry
  ``SageMaker.SageMakerException`` a few times with backoff (:func:`add_sdk_retry`), as nothing
  in its cause tells throttling apart from an invalid request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .failure import FailureHandler

#: What the optimized integration names every error code the API model does not declare.
OPTIMIZED_UNDECLARED_ERROR: Final = "SageMaker.AmazonSageMakerException"
#: What the AWS SDK integration names every error code the API model does not declare.
SDK_UNDECLARED_ERROR: Final = "SageMaker.SageMakerException"
#: SageMaker error codes worth another attempt (common errors of every SageMaker API).
TRANSIENT_ERROR_CODES: Final = ("ThrottlingException", "InternalFailure", "ServiceUnavailable")
#: Throttled or transient requests a run retries in all, across its optimized SageMaker tasks.
THROTTLE_BUDGET: Final = 6
#: Upper bound of the random wait before retry n (1-based), in seconds: full jitter.
_BACKOFF_CAPS: Final = (5, 10, 20, 40, 60, 60)

assert len(_BACKOFF_CAPS) >= THROTTLE_BUDGET


def transient_cause() -> sfn.Condition:
    """True when ``$.error.Cause`` of an optimized task names a transient error code."""
    return sfn.Condition.or_(
        *(
            sfn.Condition.string_matches("$.error.Cause", f"*; Error Code: {code};*")
            for code in TRANSIENT_ERROR_CODES
        )
    )


def add_sdk_retry(state: sfn.TaskStateBase | sfn.CustomState) -> None:
    """Retry an ``aws-sdk:sagemaker`` read or delete: 4 more attempts, about 40 s at most."""
    state.add_retry(
        errors=[SDK_UNDECLARED_ERROR],
        interval=Duration.seconds(2),
        max_attempts=4,
        backoff_rate=2,
        max_delay=Duration.seconds(20),
        jitter_strategy=sfn.JitterType.FULL,
    )


class ThrottleRetry:
    """A wait-and-try-again loop for optimized SageMaker tasks, shared by the tasks of a scope.

    :meth:`add` catches ``SageMaker.AmazonSageMakerException`` from a task into ``$.error``; when
    the cause names a transient error code and the run's budget is not used up, the run waits a
    random time under a growing cap and calls the task again; otherwise it goes to ``failure``.
    The count lives in ``$.throttling`` (``attempts``, ``seconds``) and carries over from one
    task to the next: the budget is per run. ``$.retryTask`` names the task to call again.
    """

    def __init__(self, scope: Construct, prefix: str, failure: FailureHandler) -> None:
        self._scope = scope
        self._prefix = prefix
        self._failure = failure
        self._resume = sfn.Choice(scope, f"{prefix}RetryTask")
        counted = sfn.Choice(scope, f"{prefix}Counted")
        first = sfn.Pass(
            scope,
            f"{prefix}FirstRetry",
            parameters={"attempts": 1},
            result_path="$.throttling",
        )
        count = sfn.Pass(
            scope,
            f"{prefix}CountRetry",
            parameters={
                "attempts": sfn.JsonPath.math_add(
                    sfn.JsonPath.number_at("$.throttling.attempts"), 1
                )
            },
            result_path="$.throttling",
        )
        budget = sfn.Choice(scope, f"{prefix}BudgetLeft")
        backoff = sfn.Pass(
            scope,
            f"{prefix}Backoff",
            parameters={
                "attempts": sfn.JsonPath.number_at("$.throttling.attempts"),
                # Wait a random whole number of seconds from 1 to the cap of this attempt.
                "seconds.$": "States.MathRandom(1, States.ArrayGetItem(States.Array("
                + ", ".join(str(c) for c in (0, *_BACKOFF_CAPS))
                + "), $.throttling.attempts))",
            },
            result_path="$.throttling",
        )
        wait = sfn.Wait(
            scope, f"{prefix}Wait", time=sfn.WaitTime.seconds_path("$.throttling.seconds")
        )
        self.entry = counted
        counted.when(sfn.Condition.is_present("$.throttling.attempts"), count).otherwise(first)
        first.next(budget)
        count.next(budget)
        budget.when(
            sfn.Condition.number_less_than_equals("$.throttling.attempts", THROTTLE_BUDGET),
            backoff,
        ).otherwise(failure.entry)
        backoff.next(wait).next(self._resume)
        self._resume.otherwise(failure.entry)

    def retry(self, state: sfn.State, name: str) -> sfn.IChainable:
        """States that mark ``state`` as the one to call again and enter the loop."""
        mark = sfn.Pass(
            self._scope,
            f"{self._prefix}Mark{name}",
            result=sfn.Result.from_string(name),
            result_path="$.retryTask",
        )
        self._resume.when(sfn.Condition.string_equals("$.retryTask", name), state)
        return mark.next(self.entry)

    def add(
        self,
        state: sfn.TaskStateBase | sfn.CustomState,
        name: str,
        *,
        otherwise: sfn.IChainable | None = None,
        errors: Sequence[str] = (OPTIMIZED_UNDECLARED_ERROR,),
    ) -> None:
        """Catch ``errors`` from the optimized task ``state``: transient ones are retried,
        the rest go to ``otherwise`` (default: the failure handler). Call before other catches."""
        classify = sfn.Choice(self._scope, f"{self._prefix}Classify{name}")
        classify.when(transient_cause(), self.retry(state, name)).otherwise(
            otherwise or self._failure.entry
        )
        state.add_catch(classify, errors=list(errors), result_path="$.error")
