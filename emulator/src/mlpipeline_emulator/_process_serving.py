"""Endpoints that really serve: the model archive of the endpoint's container unpacked, its
inference handlers imported from ``model/code`` and called as SageMaker's PyTorch inference
toolkit calls them, in this process (no model server, no container)."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import itertools
import shutil
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from . import _process_s3 as s3
from .runtime import (
    ContainerSpec,
    EndpointSpec,
    HostingOutcome,
    InvocationRequest,
    InvocationResult,
    ModelError,
)

#: sagemaker_inference.content_types: request bodies of these types reach input_fn as text.
UTF8_TYPES: Final = frozenset({"application/json", "text/csv"})
_ANY: Final = "*/*"
_DEFAULT_ACCEPT: Final = "application/json"
_CONTAINER_MODEL_DIR: Final = PurePosixPath("/opt/ml/model")
_HANDLERS: Final = ("input_fn", "predict_fn", "output_fn")

_module_numbers = itertools.count(1)
#: Imports change sys.path and sys.modules for the whole process; one at a time.
_import_lock = threading.Lock()


class DeploymentError(Exception):
    """The deployment did not come up; the message is the endpoint's FailureReason."""


@dataclass
class Deployment:
    """One endpoint's loaded model and the handlers that serve it."""

    endpoint_name: str
    config_name: str
    account_id: str
    region: str
    directory: Path
    module_name: str
    model: Any
    transform: Callable[[Any, Any, str | None, str], Any]
    default_accept: str

    def retire(self, keep_directory: bool) -> None:
        sys.modules.pop(self.module_name, None)
        if not keep_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def _call(function: Callable[..., Any], *args: Any) -> Any:
    """Call a handler with or without the context argument, by its parameter count (the
    toolkit's ``_run_handler_function``). There is no model server context here: ``None``."""
    count = len(inspect.signature(function).parameters)
    if count == len(args):
        return function(*args)
    if count == len(args) + 1:
        return function(*args, None)
    name = getattr(function, "__name__", repr(function))
    raise TypeError(f"{name} takes {count} arguments but {len(args)} were given.")


def _stand_ins(code_dir: Path) -> list[str]:
    """Modules of this process that would stand in for a neighbour of the entry point: named like
    a ``.py`` file in ``code_dir`` but imported from elsewhere, outside Python's own and the
    installed libraries (say the same script imported earlier from its source folder). A model
    server's fresh worker has imported no such module, so it imports the neighbour from
    ``code_dir``; here they are set aside while the entry point imports."""
    neighbours = {path.stem for path in code_dir.glob("*.py")}
    libraries = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    found = []
    for other, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if other.split(".", 1)[0] not in neighbours or not origin:
            continue
        resolved = Path(origin).resolve()
        if not any(resolved.is_relative_to(library) for library in libraries):
            found.append(other)
    return found


def _import_user_module(code_dir: Path, program: str) -> tuple[str, ModuleType]:
    """Import ``code_dir/program`` as a module of its own: a unique name per deployment, so that
    two endpoints (or an endpoint and its update) never share module state. ``code_dir`` is on
    ``sys.path`` while it imports, so the module can import its neighbours.

    SageMaker's PyTorch inference toolkit does the same: ``_set_python_path`` in
    ``sagemaker_pytorch_serving_container/torchserve.py`` puts ``code_dir``
    (``/opt/ml/model/code``) first on ``PYTHONPATH`` before it starts the model server, whose
    workers then import the entry point, and the entry point its neighbours, from there."""
    path = code_dir / program
    stem = PurePosixPath(program).stem
    if not path.is_file():
        present = ", ".join(sorted(p.name for p in code_dir.iterdir())) if code_dir.is_dir() else ""
        raise ModuleNotFoundError(
            f"No module named '{stem}': {program} is not in the model archive's code/ folder "
            f"(it holds: {present or 'nothing'})"
        )
    name = f"{stem}__endpoint_{next(_module_numbers)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    with _import_lock:
        shadowed = {other: sys.modules.pop(other) for other in _stand_ins(code_dir)}
        before = set(sys.modules)
        sys.path.insert(0, str(code_dir))
        sys.modules[name] = module  # dataclasses and pickle look modules up by name
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            with contextlib.suppress(ValueError):  # unless the module took it out itself
                sys.path.remove(str(code_dir))
            # Neighbours it imported belong to this deployment, not to the process.
            for other in set(sys.modules) - before - {name}:
                origin = getattr(sys.modules[other], "__file__", None) or ""
                if origin and Path(origin).resolve().is_relative_to(code_dir.resolve()):
                    del sys.modules[other]
            sys.modules.update(shadowed)
    return name, module


def _transform(module: ModuleType) -> Callable[[Any, Any, str | None, str], Any]:
    """``transform_fn``, or ``input_fn`` → ``predict_fn`` → ``output_fn``, as the toolkit picks
    them. The toolkit's default handlers (used when a module lacks one) are not emulated."""
    transform_fn = getattr(module, "transform_fn", None)
    handlers = {name: getattr(module, name, None) for name in _HANDLERS}
    if transform_fn is not None:
        if any(handlers.values()):
            raise ValueError(
                "Cannot use transform_fn implementation in conjunction with input_fn, "
                "predict_fn, and/or output_fn implementation"
            )
        return lambda model, body, content_type, accept: _call(
            transform_fn, model, body, content_type, accept
        )
    missing = [name for name, handler in handlers.items() if handler is None]
    if missing:
        raise NotImplementedError(
            f"{module.__name__.split('__endpoint_')[0]} defines no {', '.join(missing)}; the "
            "local runtime does not emulate the inference toolkit's default handlers"
        )
    input_fn, predict_fn, output_fn = (handlers[name] for name in _HANDLERS)

    def transform(model: Any, body: Any, content_type: str | None, accept: str) -> Any:
        data = _call(input_fn, body, content_type)  # type: ignore[arg-type]
        prediction = _call(predict_fn, data, model)  # type: ignore[arg-type]
        return _call(output_fn, prediction, accept)  # type: ignore[arg-type]

    return transform


class Hosting:
    """Deploys, serves and takes down endpoints; every method is safe to call from any thread."""

    def __init__(
        self,
        *,
        endpoints_dir: Path,
        logs_dir: Path,
        keep_workdirs: bool,
        s3_endpoint_url: str | None,
    ) -> None:
        self.endpoints_dir = endpoints_dir
        self.logs_dir = logs_dir
        self.keep_workdirs = keep_workdirs
        self.s3_endpoint_url = s3_endpoint_url
        self._lock = threading.Lock()
        self._deployments: dict[str, Deployment] = {}

    def log_path(self, endpoint_name: str) -> Path:
        """The endpoint's log (CloudWatch's ``/aws/sagemaker/Endpoints/<name>``)."""
        return self.logs_dir / f"{endpoint_name}.log"

    def _log(self, endpoint_name: str, text: str) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._lock, self.log_path(endpoint_name).open("a", encoding="utf-8") as log:
            log.write(f"{stamp} {text.rstrip()}\n")

    # --- deploy ------------------------------------------------------------------------------

    def deploy(self, endpoint: EndpointSpec) -> HostingOutcome:
        name = endpoint.endpoint_name
        self._log(name, f"deploying endpoint configuration {endpoint.endpoint_config_name}")
        try:
            deployment = self._load(endpoint)
        except DeploymentError as failed:
            self._log(name, f"deployment failed: {failed}")
            return HostingOutcome.failed(str(failed))
        with self._lock:
            previous = self._deployments.get(name)
            self._deployments[name] = deployment
        if previous is not None:
            previous.retire(self.keep_workdirs)
        self._log(name, f"serving endpoint configuration {endpoint.endpoint_config_name}")
        return HostingOutcome.in_service()

    def _load(self, endpoint: EndpointSpec) -> Deployment:
        if len(endpoint.variants) != 1 or len(endpoint.variants[0].containers) != 1:
            raise DeploymentError(
                "The local process runtime serves one production variant with one container; "
                f"endpoint configuration {endpoint.endpoint_config_name} has "
                f"{len(endpoint.variants)} variants and "
                f"{sum(len(v.containers) for v in endpoint.variants)} containers"
            )
        variant = endpoint.variants[0]
        container = variant.containers[0]
        self.endpoints_dir.mkdir(parents=True, exist_ok=True)
        directory = Path(
            tempfile.mkdtemp(prefix=f"{endpoint.endpoint_name}-", dir=self.endpoints_dir)
        )
        try:
            model_dir = directory / "model"
            client = s3.s3_client(
                endpoint.region, s3.moto_endpoint_url(self.s3_endpoint_url), endpoint.account_id
            )
            self._download_model(client, container, directory, model_dir)
            code_dir = self._code_dir(client, container, directory, model_dir)
            program = container.environment.get("SAGEMAKER_PROGRAM", "")
            try:
                module_name, module = _import_user_module(code_dir, program)
                try:
                    transform = _transform(module)
                    model = _call(_model_fn(module), str(model_dir))
                except BaseException:
                    sys.modules.pop(module_name, None)
                    raise
            except Exception as error:
                self._log(endpoint.endpoint_name, traceback.format_exc())
                raise DeploymentError(
                    f"The primary container for production variant {variant.variant_name} did "
                    "not pass the ping health check. Please check CloudWatch logs for this "
                    f"endpoint. (Local process runtime: {type(error).__name__}: {error})"
                ) from error
        except BaseException:
            if not self.keep_workdirs:
                shutil.rmtree(directory, ignore_errors=True)
            raise
        return Deployment(
            endpoint_name=endpoint.endpoint_name,
            config_name=endpoint.endpoint_config_name,
            account_id=endpoint.account_id,
            region=endpoint.region,
            directory=directory,
            module_name=module_name,
            model=model,
            transform=transform,
            default_accept=container.environment.get(
                "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", _DEFAULT_ACCEPT
            ),
        )

    @staticmethod
    def _download_model(
        client: Any, container: ContainerSpec, directory: Path, model_dir: Path
    ) -> None:
        uri = container.model_data_url
        if not uri:
            raise DeploymentError(
                "The local process runtime serves a model archive: the model needs a ModelDataUrl"
            )
        archive = directory / "model.tar.gz"
        try:
            s3.download_file(client, uri, archive)
        except (ClientError, BotoCoreError, ValueError) as error:
            bucket, key = s3.split_uri(uri) if uri.startswith("s3://") else ("", uri)
            raise DeploymentError(
                f"Failed to download model data(bucket: {bucket}, key: {key}). Please ensure that "
                "there is an object located at the URL and that the role passed to CreateModel "
                f"has permissions to download the object. ({error})"
            ) from error
        try:
            s3.extract(archive, model_dir)
        except (OSError, ValueError) as error:
            raise DeploymentError(f"Failed to extract model data from {uri}: {error}") from error
        finally:
            archive.unlink(missing_ok=True)

    @staticmethod
    def _code_dir(client: Any, container: ContainerSpec, directory: Path, model_dir: Path) -> Path:
        """Where the handlers are: ``SAGEMAKER_SUBMIT_DIRECTORY`` under ``/opt/ml/model`` (the
        archive's ``code/`` by default), or an ``s3://`` tar.gz unpacked into ``model/code``."""
        submit = container.environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        if submit.startswith("s3://"):
            archive = directory / "sourcedir.tar.gz"
            try:
                s3.download_file(client, submit, archive)
                s3.extract(archive, model_dir / "code")
            except (ClientError, BotoCoreError, OSError, ValueError) as error:
                raise DeploymentError(
                    f"Failed to download SAGEMAKER_SUBMIT_DIRECTORY {submit}: {error}"
                ) from error
            return model_dir / "code"
        path = PurePosixPath(submit or f"{_CONTAINER_MODEL_DIR}/code")
        if not path.is_relative_to(_CONTAINER_MODEL_DIR):
            raise DeploymentError(
                f"SAGEMAKER_SUBMIT_DIRECTORY {submit!r}: the local process runtime finds code in "
                f"the model archive ({_CONTAINER_MODEL_DIR}/...) or in an s3:// tar.gz"
            )
        return model_dir / path.relative_to(_CONTAINER_MODEL_DIR)

    # --- serve and take down -----------------------------------------------------------------

    def invoke(self, request: InvocationRequest) -> InvocationResult:
        with self._lock:
            deployment = self._deployments.get(request.endpoint_name)
        if deployment is None:
            raise ModelError(
                f"Endpoint {request.endpoint_name} is not deployed on this local process runtime"
            )
        accept = request.accept
        if not accept or accept == _ANY:
            accept = deployment.default_accept
        content_type = request.content_type
        try:
            body: str | bytes = request.body
            if content_type in UTF8_TYPES:
                body = request.body.decode("utf-8")
            result = deployment.transform(deployment.model, body, content_type, accept)
            response_type = accept
            if isinstance(result, tuple):
                result, response_type = result
            if isinstance(result, str):
                result = result.encode("utf-8")
            if not isinstance(result, (bytes, bytearray)):
                raise TypeError(
                    f"the handlers returned {type(result).__name__}; the model server sends "
                    "bytes or str"
                )
        except Exception as error:
            trace = traceback.format_exc()
            self._log(request.endpoint_name, f"invocation failed:\n{trace}")
            # What the model server answers (500, the message then the stack trace) as
            # SageMaker's runtime reports it to the caller.
            raise ModelError(
                f'Received server error (500) from primary with message "{error}\n{trace}". '
                f"See https://{deployment.region}.console.aws.amazon.com/cloudwatch/home?region="
                f"{deployment.region}#logEventViewer:group=/aws/sagemaker/Endpoints/"
                f"{deployment.endpoint_name} in account {deployment.account_id} for more "
                "information."
            ) from error
        return InvocationResult(body=bytes(result), content_type=str(response_type))

    def undeploy(self, endpoint_name: str) -> None:
        with self._lock:
            deployment = self._deployments.pop(endpoint_name, None)
        if deployment is not None:
            deployment.retire(self.keep_workdirs)
            self._log(endpoint_name, "endpoint deleted")

    def undeploy_all(self) -> None:
        with self._lock:
            deployments = list(self._deployments.values())
            self._deployments.clear()
        for deployment in deployments:
            deployment.retire(self.keep_workdirs)


def _model_fn(module: ModuleType) -> Callable[..., Any]:
    model_fn = getattr(module, "model_fn", None)
    if model_fn is None:
        raise NotImplementedError(
            "the module defines no model_fn; the local runtime does not emulate the inference "
            "toolkit's default model_fn"
        )
    return model_fn  # type: ignore[no-any-return]
