"""How the support patches moto, and what every patch shares: the record of what was replaced
(so that it can be restored and the original called), the services' clients, and one shape for
moto's resource create and update hooks."""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import boto3

_ABSENT: Final = object()

_lock = threading.Lock()
_install_lock = threading.Lock()
_installed: list[tuple[object, str, object]] = []
_endpoint_url: str | None = None
_clients: dict[tuple[str, str, str], Any] = {}


def install_lock() -> threading.Lock:
    """Held while patches are made or undone."""
    return _install_lock


def is_installed() -> bool:
    return bool(_installed)


def set_endpoint(endpoint_url: str | None) -> None:
    """Where :func:`client` sends requests from now on (``None``: AWS's endpoints, which
    ``mock_aws`` intercepts in process)."""
    global _endpoint_url
    with _lock:
        _endpoint_url = endpoint_url
        _clients.clear()


def patch(owner: object, name: str, replacement: object) -> None:
    """Replace ``owner.name``; a class's own attribute, or one it inherited (then restoring
    removes the replacement)."""
    original = vars(owner).get(name, _ABSENT)
    _installed.append((owner, name, original))
    setattr(owner, name, replacement)


def restore_all() -> None:
    """Undo every :func:`patch`, the last first."""
    while _installed:
        owner, name, original = _installed.pop()
        if original is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


def original(owner: object, name: str) -> Any:
    """The unpatched attribute, bound to ``owner`` if it is a classmethod."""
    for patched_owner, patched_name, replaced in _installed:
        if patched_owner is owner and patched_name == name:
            if replaced is _ABSENT:
                assert isinstance(owner, type)
                return getattr(super(owner, owner), name)
            if isinstance(replaced, classmethod):
                return types.MethodType(replaced.__func__, owner)
            return replaced
    raise LookupError(f"{name} is not patched")


def client(service: str, region: str) -> Any:
    """A boto3 client of the emulated ``service``, made once per service, region and account:
    it acts in the account of the CloudFormation request being served, as CloudFormation acts
    in the stack's account (:func:`.._accounts.acting_account`)."""
    from .._accounts import acting_account, credentials_for

    account = acting_account()
    key_id, secret = credentials_for(account)
    with _lock:
        key = (service, region, key_id)
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=_endpoint_url,
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
            )
        return _clients[key]


# --- moto's resource hooks, as one request object -----------------------------------------------


@dataclass(frozen=True)
class Create:
    """moto's ``create_from_cloudformation_json(resource_name, cloudformation_json, account_id,
    region_name, **kwargs)`` of the model class ``owner``."""

    owner: type
    resource_name: str
    cloudformation_json: dict[str, Any]
    account_id: str
    region_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.cloudformation_json.get("Properties", {}))

    def moto(self, properties: dict[str, Any] | None = None) -> Any:
        """moto's own create, with ``properties`` in place of the template's when given."""
        return original(self.owner, "create_from_cloudformation_json")(
            self.resource_name,
            _with_properties(self.cloudformation_json, properties),
            self.account_id,
            self.region_name,
            **self.kwargs,
        )


@dataclass(frozen=True)
class Update:
    """moto's ``update_from_cloudformation_json(original_resource, new_resource_name,
    cloudformation_json, account_id, region_name)`` of the model class ``owner``."""

    owner: type
    resource: Any
    new_resource_name: str
    cloudformation_json: dict[str, Any]
    account_id: str
    region_name: str

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.cloudformation_json.get("Properties", {}))

    def moto(self, properties: dict[str, Any] | None = None) -> Any:
        """moto's own update, with ``properties`` in place of the template's when given."""
        return original(self.owner, "update_from_cloudformation_json")(
            self.resource,
            self.new_resource_name,
            _with_properties(self.cloudformation_json, properties),
            self.account_id,
            self.region_name,
        )

    def as_create(self) -> Create:
        """The create of a replacement."""
        return Create(
            self.owner,
            self.new_resource_name,
            self.cloudformation_json,
            self.account_id,
            self.region_name,
        )


def _with_properties(
    cloudformation_json: dict[str, Any], properties: dict[str, Any] | None
) -> dict[str, Any]:
    if properties is None:
        return cloudformation_json
    return {**cloudformation_json, "Properties": properties}


def patch_create(owner: type, handler: Callable[[Create], Any]) -> None:
    """Route ``owner``'s CloudFormation create through ``handler``."""

    def create(
        cls: type,
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        return handler(
            Create(owner, resource_name, cloudformation_json, account_id, region_name, kwargs)
        )

    patch(owner, "create_from_cloudformation_json", classmethod(create))


def patch_update(owner: type, handler: Callable[[Update], Any]) -> None:
    """Route ``owner``'s CloudFormation update through ``handler``."""

    def update(
        cls: type,
        /,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        return handler(
            Update(
                owner,
                original_resource,
                new_resource_name,
                cloudformation_json,
                account_id,
                region_name,
            )
        )

    patch(owner, "update_from_cloudformation_json", classmethod(update))
