"""Models created from a model package: CreateModel whose container names ``ModelPackageName``.

After the SageMaker API Reference (ContainerDefinition, ``ModelPackageName``: "The name or Amazon
Resource Name (ARN) of the model package to use to create the model";
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html) and the
developer guide's "Deploy a Model from the Registry" (https://docs.aws.amazon.com/sagemaker/latest/
dg/model-registry-deploy.html: ``create_model(..., PrimaryContainer={"ModelPackageName":
model_version_arn})``, then an endpoint configuration and an endpoint as for any model):

- CreateModel resolves the package when the model is created: a ``PrimaryContainer`` or an entry
  of ``Containers`` whose ``ModelPackageName`` names a package that does not exist is refused
  with ``ValidationException``, the registry's answer for a missing package ("... does not
  exist.", as DescribeModelPackage answers it; moto created the model all the same). A versioned
  package is named by its ARN (``...:model-package/<group>/<version>``) or as
  ``<group>/<version>`` (botocore's ``VersionedArnOrName`` pattern allows both).
- The endpoint serves the package's containers (its ``InferenceSpecification.Containers``:
  ``Image``, ``ModelDataUrl``, ``Environment``). The container's own ``Environment`` is added to
  the package's: that is how the SageMaker Python SDK sets variables for a package's container
  (aws/sagemaker-python-sdk v2.257.0, src/sagemaker/model.py,
  ``ModelPackage._create_sagemaker_model``: ``container_def = {"ModelPackageName": ...}``, then
  ``container_def["Environment"] = self.env``).
- DescribeModel answers the container as the request gave it (``ModelPackageName``), with
  ``EnableNetworkIsolation`` as the request set it (moto answered ``false`` whatever the request
  said), and leaves out the ``Containers`` and ``VpcConfig`` the request did not give (moto
  answered ``[]`` and ``{}``; DescribeModel's members are optional: botocore's
  ``DescribeModelOutput``).

Not modelled: ``InferenceSpecificationName`` (a package's additional inference specifications);
what else may accompany ``ModelPackageName`` in a container, which neither the API reference nor
botocore's model states, is passed through unchecked. A version that is not ``Approved`` is
not refused: no AWS document says CreateModel refuses it (the SageMaker Python SDK approves such
a version before it creates the model, in the same method, without saying why).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import Model

from ._model_registry import _unknown_package, package_containers
from ._state import LOCK
from .runtime import ContainerSpec

Backend = Any
_RESOLVED: Final = "_mlpipeline_model_package_containers"


def _resolved(backend: Backend) -> dict[str, list[dict[str, Any]]]:
    resolved: dict[str, list[dict[str, Any]]] | None = backend.__dict__.get(_RESOLVED)
    if resolved is None:
        resolved = {}
        setattr(backend, _RESOLVED, resolved)
    return resolved


def _package_arn(backend: Backend, name: str) -> str:
    """``<group>/<version>`` as the version's ARN in the caller's account; an ARN as it is."""
    if name.startswith("arn:") or "/" not in name:
        return name
    return f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:model-package/{name}"


def _package_containers(backend: Backend, name: str) -> list[dict[str, Any]]:
    # SageMaker reads the version on the caller's behalf: CreateModel is what the caller (and,
    # across accounts, the group's policy) must allow, not DescribeModelPackage.
    try:
        return package_containers(backend, _package_arn(backend, name))
    except ValidationError as error:
        raise _unknown_package(name) from error


def _from_package(definition: Mapping[str, Any], package: dict[str, Any]) -> dict[str, Any]:
    environment = dict(package.get("Environment") or {})
    environment.update(definition.get("Environment") or {})
    return {
        "Image": package.get("Image"),
        "ModelDataUrl": package.get("ModelDataUrl"),
        "Environment": environment,
        "Mode": definition.get("Mode"),
    }


def resolve(backend: Backend, model_name: str, definitions: list[Mapping[str, Any]]) -> None:
    """Check the packages ``definitions`` name and keep what the model's endpoint serves
    (raises ``ValidationException`` for a package that does not exist)."""
    served: list[dict[str, Any]] = []
    for definition in definitions:
        name = definition.get("ModelPackageName")
        if not name:
            served.append(dict(definition))
            continue
        served += [_from_package(definition, c) for c in _package_containers(backend, str(name))]
    if any(d.get("ModelPackageName") for d in definitions):
        _resolved(backend)[model_name] = served
    else:
        _resolved(backend).pop(model_name, None)


def served_containers(backend: Backend, model: Model) -> tuple[ContainerSpec, ...]:
    """The containers an endpoint of ``model`` runs."""
    definitions = _resolved(backend).get(model.model_name)
    if definitions is None:
        definitions = list(model.containers or [])
        if model.primary_container:
            definitions.insert(0, model.primary_container)
    return tuple(
        ContainerSpec(
            image=d.get("Image"),
            model_data_url=d.get("ModelDataUrl"),
            environment={str(k): str(v) for k, v in (d.get("Environment") or {}).items()},
            mode=d.get("Mode"),
        )
        for d in definitions
    )


def respond_create_model(self: Any) -> ActionResult:
    backend: Any = self.sagemaker_backend  # with the methods patched in
    model = backend.create_model(
        model_name=self._get_param("ModelName"),
        execution_role_arn=self._get_param("ExecutionRoleArn"),
        primary_container=self._get_param("PrimaryContainer"),
        vpc_config=self._get_param("VpcConfig"),
        containers=self._get_param("Containers"),
        tags=self._get_param("Tags"),
    )
    with LOCK:
        model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
    return ActionResult(model.response_create)


def respond_describe_model(self: Any) -> ActionResult:
    backend: Any = self.sagemaker_backend
    with LOCK:
        model = backend.describe_model(self._get_param("ModelName"))
        response = dict(model.response_object)
    response.pop("Tags", None)  # not a member of DescribeModelOutput
    for member in ("Containers", "VpcConfig", "PrimaryContainer"):
        if not response.get(member):
            response.pop(member, None)
    return ActionResult(response)
