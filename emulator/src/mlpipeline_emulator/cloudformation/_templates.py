"""TemplateURL on the emulator's own endpoint. The CDK CLI hands CloudFormation
``http://127.0.0.1:PORT/BUCKET/KEY`` (a path-style URL on the S3 endpoint it was given); moto
reads the first label of the host name as the bucket."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any
from urllib.parse import unquote, urlparse

from moto.s3.models import s3_backends


def template_from_url(template_url: str, account_id: str, partition: str) -> str:
    """Read a template from the emulated S3: path-style on an IP address or ``localhost`` (the
    emulator's own endpoint, as the CLI builds it), else as moto reads AWS's S3 URLs."""
    url = urlparse(template_url)
    if _is_local_host(url.hostname or ""):
        bucket, _, key = unquote(url.path).lstrip("/").partition("/")
        obj = s3_backends[account_id][partition].get_object(bucket, key)
        if obj is None:
            raise ValueError(f"no template at {template_url}")
        return str(obj.value.decode("utf-8"))
    from moto.cloudformation.utils import get_stack_from_s3_url

    return str(get_stack_from_s3_url(template_url, account_id=account_id, partition=partition))


def _is_local_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def get_stack_from_s3_url(self: Any, template_url: str) -> str:
    """``CloudFormationResponse._get_stack_from_s3_url``."""
    return template_from_url(template_url, self.current_account, self.partition)
