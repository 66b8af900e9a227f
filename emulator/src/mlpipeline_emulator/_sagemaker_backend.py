"""The patches that turn moto's SageMaker into the local SageMaker, applied and removed as one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from . import _autoscaling as autoscaling
from . import _endpoints as endpoints
from . import _model_registry as registry
from . import _package_models as package_models
from . import _request_gate as gate
from . import _training_jobs as training
from . import _tuning_api as tuning
from ._state import LOCK

_MISSING: Final = object()


@dataclass(frozen=True)
class _Patch:
    owner: type
    name: str
    build: Callable[[Any], Any]


_PATCHES: Final = (
    _Patch(SageMakerResponse, "_dispatch", gate.wrap_dispatch),
    _Patch(SageMakerModelBackend, "create_training_job", training.wrap_create_training_job),
    _Patch(SageMakerModelBackend, "describe_training_job", training.wrap_describe_training_job),
    _Patch(SageMakerModelBackend, "stop_training_job", lambda _: training.stop_training_job),
    _Patch(
        SageMakerModelBackend,
        "create_model",
        lambda original: registry.wrap_create_model(endpoints.wrap_create_model(original)),
    ),
    _Patch(SageMakerModelBackend, "create_endpoint_config", endpoints.wrap_create_endpoint_config),
    _Patch(SageMakerModelBackend, "create_endpoint", endpoints.wrap_create_endpoint),
    _Patch(SageMakerModelBackend, "update_endpoint", lambda _: endpoints.update_endpoint),
    _Patch(SageMakerModelBackend, "describe_endpoint", endpoints.wrap_describe_endpoint),
    _Patch(SageMakerModelBackend, "delete_endpoint", endpoints.wrap_delete_endpoint),
    _Patch(
        SageMakerResponse, "create_training_job", lambda _: training.respond_create_training_job
    ),
    _Patch(SageMakerResponse, "stop_training_job", lambda _: training.respond_stop_training_job),
    _Patch(SageMakerResponse, "update_endpoint", lambda _: endpoints.respond_update_endpoint),
    _Patch(SageMakerResponse, "create_model", lambda _: package_models.respond_create_model),
    _Patch(SageMakerResponse, "describe_model", lambda _: package_models.respond_describe_model),
    _Patch(SageMakerModelBackend, "create_model_package", registry.wrap_create_model_package),
    _Patch(SageMakerModelBackend, "update_model_package", lambda _: registry.update_model_package),
    _Patch(SageMakerModelBackend, "describe_model_package", registry.wrap_describe_model_package),
    _Patch(
        SageMakerModelBackend,
        "describe_model_package_group",
        registry.wrap_describe_model_package_group,
    ),
    _Patch(SageMakerModelBackend, "list_model_packages", registry.wrap_list_model_packages),
    _Patch(
        SageMakerResponse,
        "put_model_package_group_policy",
        lambda _: registry.respond_put_model_package_group_policy,
    ),
    _Patch(
        SageMakerResponse,
        "get_model_package_group_policy",
        lambda _: registry.respond_get_model_package_group_policy,
    ),
    _Patch(
        SageMakerResponse,
        "delete_model_package_group_policy",
        lambda _: registry.respond_delete_model_package_group_policy,
    ),
    *(_Patch(owner, name, build) for owner, name, build in tuning.PATCHES),
    *(_Patch(owner, name, build) for owner, name, build in autoscaling.PATCHES),
    _Patch(SageMakerRuntimeResponse, "invoke_endpoint", endpoints.wrap_invoke_endpoint),
    # InvokeEndpoint's Body is a blob, "in the format specified in the ContentType request
    # header. Amazon SageMaker AI passes all of the data in the body to the model" (botocore
    # data/sagemaker-runtime/2017-05-13/service-2.json.gz, InvokeEndpointInput.Body, shape
    # BodyBlob; docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html).
    # moto decodes every request body as UTF-8 unless the response class keeps it raw
    # (moto/core/responses.py, BaseResponse.use_raw_body), which answered an application/x-npy
    # body with a 500.
    _Patch(SageMakerRuntimeResponse, "use_raw_body", lambda _: True),
)
_originals: dict[tuple[type, str], Any] = {}


def patch() -> None:
    """Apply every patch once; applying again changes nothing."""
    with LOCK:
        for p in _PATCHES:
            key = (p.owner, p.name)
            if key in _originals:
                continue
            original = p.owner.__dict__.get(p.name, _MISSING)
            _originals[key] = original
            setattr(p.owner, p.name, p.build(original))


def unpatch() -> None:
    """Restore moto's own methods."""
    with LOCK:
        for (owner, name), original in _originals.items():
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _originals.clear()
