"""The state machine's building blocks, as Step Functions fragments a team can reuse and rearrange.

A run's state is one JSON document; each fragment reads and writes its own keys:

``$.input``
    The execution input as given.
``$.config``
    The run configuration: the construct's defaults overlaid with the input (see
    :class:`PrepareRun` for the keys and their rules).
``$.run``
    Values derived from the configuration: ``hyperparameters`` (strings, as SageMaker takes
    them) and ``stoppingCondition``.
``$.training``
    ``jobName``, ``modelArtifacts`` (S3 URI of ``model.tar.gz``) and ``metrics`` (the job's
    ``FinalMetricDataList``), written by :class:`TrainModel`: of its training job, or with
    ``tuning`` settings of the best trial of its tuning job.
``$.tuningJob``, ``$.tuning``
    The tuning job's ``name`` and its ``description`` (DescribeHyperParameterTuningJob), when
    the run tunes.
``$.evaluation``
    ``accuracy`` and ``threshold``, written by :class:`EvaluateModel`.
``$.modelPackage``
    ``arn``, ``version`` and ``status`` of the model package version the run registered
    (:class:`RegisterModel`) or was asked to deploy (:class:`FindModelPackage`).
``$.model``, ``$.endpointConfig``, ``$.endpoint``
    Written by :class:`DeployToEndpoint`.
``$.error``
    ``{"Error": ..., "Cause": ...}`` of a failed run, read by :class:`FailureHandler`.
"""

from .deployment import DeployToEndpoint
from .evaluation import EvaluateModel
from .failure import FailureHandler
from .prepare import RUN_INPUT_KEYS, PrepareRun, RunDefaults
from .registry import FindModelPackage, RegisterModel
from .training import TrainModel

__all__ = [
    "RUN_INPUT_KEYS",
    "DeployToEndpoint",
    "EvaluateModel",
    "FailureHandler",
    "FindModelPackage",
    "PrepareRun",
    "RegisterModel",
    "RunDefaults",
    "TrainModel",
]
