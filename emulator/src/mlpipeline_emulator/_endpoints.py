"""Endpoints that take time: ``Creating`` or ``Updating`` while the runtime deploys them, then
``InService`` or ``Failed`` (a failed update rolls back to the configuration the endpoint served);
UpdateEndpoint; unique model, configuration and endpoint names; InvokeEndpoint answered by the
runtime."""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import unquote, urlparse

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    FakeEndpointConfig,
    Model,
    SageMakerModelBackend,
    sagemaker_backends,
)
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from . import _autoscaling as autoscaling
from . import _capture, _request_rules, _rollouts, _serverless
from . import _endpoint_metrics as endpoint_metrics
from . import _package_models as package_models
from ._state import LOCK, Endpoint, active_runtime, installed_runtime, start_daemon
from .runtime import (
    EndpointSpec,
    HostingOutcome,
    InvocationRequest,
    ModelError,
    VariantSpec,
)

_IN_PROGRESS: Final = frozenset(
    {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed"}
)


class _RuntimeValidationError(ServiceException):
    code = "ValidationError"


class _RuntimeModelError(ServiceException):
    code = "ModelError"


def wrap_create_model(original: Callable[..., Model]) -> Callable[..., Model]:
    def create_model(self: SageMakerModelBackend, **kwargs: Any) -> Model:
        name = kwargs["model_name"]
        with LOCK:
            if name in self._models:
                arn = arn_formatter("model", name, self.account_id, self.region_name)
                raise ValidationError(message=f'Cannot create already existing model "{arn}".')
            definitions = list(kwargs.get("containers") or [])
            if kwargs.get("primary_container"):
                definitions.insert(0, kwargs["primary_container"])
            package_models.resolve(self, name, definitions)
            return original(self, **kwargs)

    return create_model


def wrap_create_endpoint_config(
    original: Callable[..., FakeEndpointConfig],
) -> Callable[..., FakeEndpointConfig]:
    def create_endpoint_config(self: SageMakerModelBackend, **kwargs: Any) -> FakeEndpointConfig:
        name = kwargs["endpoint_config_name"]
        with LOCK:
            if name in self.endpoint_configs:
                arn = FakeEndpointConfig.arn_formatter(name, self.account_id, self.region_name)
                raise ValidationError(
                    message=f'Cannot create already existing endpoint configuration "{arn}".'
                )
            return original(self, **kwargs)

    return create_endpoint_config


def _endpoint_arn(backend: SageMakerModelBackend, name: str) -> str:
    return str(FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name))


def _config_or_error(backend: SageMakerModelBackend, config_name: str) -> FakeEndpointConfig:
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
    return config


def _endpoint_spec(
    backend: SageMakerModelBackend,
    endpoint_name: str,
    config: FakeEndpointConfig,
    previous_config_name: str | None,
) -> EndpointSpec:
    variants = []
    for variant in config.production_variants:
        model: Model = backend.describe_model(variant["ModelName"])
        variants.append(
            VariantSpec(
                variant_name=str(variant["VariantName"]),
                model_name=str(variant["ModelName"]),
                containers=package_models.served_containers(backend, model),
                instance_type=variant.get("InstanceType"),
                initial_instance_count=variant.get("InitialInstanceCount"),
                execution_role_arn=model.execution_role_arn,
            )
        )
    return EndpointSpec(
        endpoint_name=endpoint_name,
        endpoint_arn=_endpoint_arn(backend, endpoint_name),
        endpoint_config_name=config.endpoint_config_name,
        variants=tuple(variants),
        account_id=backend.account_id,
        region=backend.region_name,
        previous_config_name=previous_config_name,
    )


def _is_current_endpoint(backend: SageMakerModelBackend, endpoint: Endpoint) -> bool:
    return backend.endpoints.get(endpoint.endpoint_name) is endpoint


def _deploy(
    backend: SageMakerModelBackend,
    endpoint: Endpoint,
    spec: EndpointSpec,
    config_variants: list[dict[str, Any]],
) -> None:
    try:
        outcome = active_runtime().deploy(spec)
    except Exception as error:
        outcome = HostingOutcome.failed(f"InternalServerError: {type(error).__name__}: {error}")
    retired: list[str] = []
    with LOCK:
        if not _is_current_endpoint(backend, endpoint):
            return  # deleted meanwhile
        if outcome.succeeded:
            endpoint.endpoint_config_name = spec.endpoint_config_name
            endpoint.production_variants = endpoint._process_production_variants(config_variants)
            endpoint.data_capture_config = _capture.described(backend, spec.endpoint_config_name)
            endpoint.endpoint_status = "InService"
            endpoint.failure_reason = None
            retired = _rollouts.forget(spec.endpoint_arn, spec.endpoint_name)
        else:
            reason = outcome.failure_reason or "The endpoint failed to deploy."
            # A failed update rolls back: the endpoint serves its previous configuration.
            endpoint.endpoint_status = "InService" if spec.previous_config_name else "Failed"
            endpoint.failure_reason = reason
        endpoint.last_modified_time = utcnow()
    for host in retired:
        _rollouts.undeploy(host)


def _start_deployment(
    backend: SageMakerModelBackend,
    endpoint: Endpoint,
    config: FakeEndpointConfig,
    previous_config_name: str | None,
) -> None:
    spec = _endpoint_spec(backend, endpoint.endpoint_name, config, previous_config_name)
    variants = copy.deepcopy(config.production_variants)
    start_daemon(
        f"endpoint-{endpoint.endpoint_name}", lambda: _deploy(backend, endpoint, spec, variants)
    )


def wrap_create_endpoint(original: Callable[..., FakeEndpoint]) -> Callable[..., FakeEndpoint]:
    def create_endpoint(
        self: SageMakerModelBackend,
        endpoint_name: str,
        endpoint_config_name: str,
        tags: list[dict[str, str]] | None = None,
    ) -> FakeEndpoint:
        with LOCK:
            if endpoint_name in self.endpoints:
                raise ValidationError(
                    message="Cannot create already existing endpoint "
                    f'"{_endpoint_arn(self, endpoint_name)}".'
                )
            config = _config_or_error(self, endpoint_config_name)
            endpoint = original(
                self,
                endpoint_name=endpoint_name,
                endpoint_config_name=endpoint_config_name,
                tags=tags,
            )
            endpoint.endpoint_status = "Creating"
            endpoint.failure_reason = None
            endpoint.data_capture_config = _capture.described(self, endpoint_config_name)
            try:
                _start_deployment(self, endpoint, config, previous_config_name=None)
            except Exception:
                del self.endpoints[endpoint_name]
                raise
            return endpoint

    return create_endpoint


def update_endpoint(
    self: SageMakerModelBackend,
    endpoint_name: str,
    endpoint_config_name: str,
    deployment_config: dict[str, Any] | None = None,
) -> FakeEndpoint:
    with LOCK:
        endpoint = self.endpoints.get(endpoint_name)
        arn = _endpoint_arn(self, endpoint_name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        if endpoint.endpoint_status in _IN_PROGRESS:
            raise ValidationError(message=f'Cannot update in-progress endpoint "{arn}".')
        if endpoint.endpoint_status == "Failed":
            raise ValidationError(message=f'Cannot update failed endpoint "{arn}".')
        config = _config_or_error(self, endpoint_config_name)
        current = self.endpoint_configs.get(endpoint.endpoint_config_name)
        _serverless.check_update(arn, current, config)
        autoscaling.check_update(self, endpoint, config)
        previous = endpoint.endpoint_config_name
        if deployment_config and deployment_config.get("BlueGreenUpdatePolicy"):
            _rollouts.check(deployment_config)
            _rollouts.start(
                _rollouts.Rollout(
                    endpoint=endpoint,
                    spec=_endpoint_spec(self, endpoint_name, config, previous),
                    config_variants=copy.deepcopy(config.production_variants),
                    deployment_config=copy.deepcopy(deployment_config),
                    is_current=lambda: _is_current_endpoint(self, endpoint),
                    data_capture_config=_capture.described(self, endpoint_config_name),
                ),
                previous,
            )
        else:
            _start_deployment(self, endpoint, config, previous_config_name=previous)
        endpoint.endpoint_status = "Updating"
        endpoint.last_modified_time = utcnow()
        return endpoint


def wrap_describe_endpoint(original: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    def describe_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> Any:
        with LOCK:
            described = copy.deepcopy(original(self, endpoint_name))
            return {**described, **_rollouts.describe_extras(described["EndpointArn"])}

    return describe_endpoint


def wrap_delete_endpoint(original: Callable[..., None]) -> Callable[..., None]:
    def delete_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> None:
        with LOCK:
            original(self, endpoint_name)
            autoscaling.forget_endpoint(self, endpoint_name)
        runtime = installed_runtime()
        if runtime is not None:
            # DeleteEndpoint succeeds whatever the host makes of it.
            with contextlib.suppress(Exception):
                runtime.undeploy(endpoint_name)
        for host in _rollouts.forget(_endpoint_arn(self, endpoint_name), endpoint_name):
            _rollouts.undeploy(host)

    return delete_endpoint


def respond_update_endpoint(self: SageMakerResponse) -> ActionResult:
    backend: Any = self.sagemaker_backend  # with the methods patched in
    endpoint = backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        deployment_config=self._get_param("DeploymentConfig"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


#: InvokeEndpoint's members sent as headers (sagemaker-runtime's API model), by header name.
_INVOKE_HEADERS: Final = {
    "ContentType": "Content-Type",
    "Accept": "Accept",
    "CustomAttributes": "X-Amzn-SageMaker-Custom-Attributes",
    "TargetModel": "X-Amzn-SageMaker-Target-Model",
    "TargetVariant": "X-Amzn-SageMaker-Target-Variant",
    "TargetContainerHostname": "X-Amzn-SageMaker-Target-Container-Hostname",
    "InferenceId": "X-Amzn-SageMaker-Inference-Id",
    "InferenceComponentName": "X-Amzn-SageMaker-Inference-Component",
}


_INFERENCE_ID: Final = _INVOKE_HEADERS["InferenceId"]


def _check_invocation(response: SageMakerRuntimeResponse, endpoint_name: str) -> None:
    """InvokeEndpoint checked against sagemaker-runtime's API model (lengths, patterns, the
    6 MB body) and refused with its modeled ``ValidationError`` (HTTP 400)."""
    body = response.body if isinstance(response.body, bytes) else str(response.body or "").encode()
    request: dict[str, Any] = {"EndpointName": endpoint_name, "Body": body}
    for member, header in _INVOKE_HEADERS.items():
        value = response.headers.get(header)
        if value is not None:
            request[member] = value
    found = _request_rules.problems("InvokeEndpoint", request, service="sagemaker-runtime")
    if found:
        raise _RuntimeValidationError(_request_rules.validation_message(found))


def wrap_invoke_endpoint(original: Callable[..., Any]) -> Callable[..., Any]:
    def invoke_endpoint(self: SageMakerRuntimeResponse) -> Any:
        received = time.perf_counter()
        runtime = installed_runtime()
        if runtime is None:
            return original(self)
        # POST /endpoints/{EndpointName}/invocations
        endpoint_name = unquote(urlparse(self.path).path.split("/")[2])
        _check_invocation(self, endpoint_name)
        backend: SageMakerModelBackend = sagemaker_backends[self.current_account][self.region]
        with LOCK:
            endpoint = backend.endpoints.get(endpoint_name)
            serving = endpoint is not None and endpoint.endpoint_status in {
                "InService",
                "Updating",
                "RollingBack",
            }
            config_name = endpoint.endpoint_config_name if endpoint is not None else ""
            arn = _endpoint_arn(backend, endpoint_name)
        if not serving:
            raise _RuntimeValidationError(
                f"Endpoint {endpoint_name} of account {self.current_account} not found."
            )
        body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
        metrics = endpoint_metrics.invocation(
            self.current_account, self.region, endpoint_name, received=received
        )
        host, config_name = _rollouts.route(arn, endpoint_name, config_name)
        try:
            with metrics:
                result = runtime.invoke(
                    InvocationRequest(
                        endpoint_name=host,
                        endpoint_config_name=config_name,
                        body=body,
                        content_type=self.headers.get("Content-Type"),
                        accept=self.headers.get("Accept"),
                    )
                )
        except ModelError as error:
            raise _RuntimeModelError(str(error)) from error
        _capture.after_invocation(
            backend,
            config_name,
            endpoint=endpoint_name,
            request=(body, self.headers.get("Content-Type")),
            response=(result.body, result.content_type),
            inference_id=self.headers.get(_INFERENCE_ID),
        )
        return 200, {"Content-Type": result.content_type}, result.body

    return invoke_endpoint
