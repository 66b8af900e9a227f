"""The CreateEndpointConfig task of a deployment, with what CDK's task cannot express: a
serverless production variant (``ServerlessConfig``) and request capture (``DataCaptureConfig``).

CDK's ``SageMakerCreateEndpointConfig`` has neither (its ``ProductionVariant`` requires an
instance type and count, and it takes no data capture). This task is that same optimized
integration (``arn:aws:states:::sagemaker:createEndpointConfig``, the same IAM statements, error
names and result), its request completed with the two members of botocore's SageMaker service
model: ``ProductionVariant.ServerlessConfig`` (``ProductionVariantServerlessConfig``), which
replaces ``InstanceType`` and ``InitialInstanceCount``, and ``CreateEndpointConfigInput
.DataCaptureConfig``. The optimized integration passes the API's request members through
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html: "Supported Amazon
SageMaker AI APIs and syntax", CreateEndpointConfig).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

#: What a serverless variant leaves out: "ServerlessConfig ... Specifies the serverless
#: configuration for an endpoint variant" instead of instances (ProductionVariant).
_INSTANCE_MEMBERS: Final = ("InstanceType", "InitialInstanceCount")


class EndpointConfigTask(tasks.SageMakerCreateEndpointConfig):
    """``SageMakerCreateEndpointConfig`` whose one production variant may be serverless and
    whose configuration may capture requests."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        serverless_config: Mapping[str, Any] | None = None,
        data_capture_config: Mapping[str, Any] | None = None,
        **props: Any,
    ) -> None:
        super().__init__(scope, construct_id, **props)
        self._serverless_config = dict(serverless_config) if serverless_config else None
        self._data_capture_config = dict(data_capture_config) if data_capture_config else None

    def to_state_json(
        self, state_machine_query_language: sfn.QueryLanguage | None = None
    ) -> Mapping[Any, Any]:
        state = dict(super().to_state_json(state_machine_query_language))
        if self._serverless_config is None and self._data_capture_config is None:
            return state
        parameters = dict(state["Parameters"])
        if self._serverless_config is not None:
            variants = []
            for variant in parameters["ProductionVariants"]:
                served = {k: v for k, v in dict(variant).items() if k not in _INSTANCE_MEMBERS}
                served["ServerlessConfig"] = self._serverless_config
                variants.append(served)
            parameters["ProductionVariants"] = variants
        if self._data_capture_config is not None:
            parameters["DataCaptureConfig"] = self._data_capture_config
        state["Parameters"] = parameters
        return state
