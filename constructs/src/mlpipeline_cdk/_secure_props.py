"""Lay a caller's ``*_props`` over the secure defaults, saying which defaults it switches off."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct

from . import defaults

#: Which kind of secure settings each ``*_props`` setting overrides (buckets otherwise).
_KINDS = {"encryption_key_props": "key", "failure_topic_props": "topic"}


def lay_over(
    scope: IConstruct, props: dict[str, Any], overrides: Mapping[str, Any] | None, setting: str
) -> dict[str, Any]:
    """``props`` with ``overrides`` laid over them; a warning annotation on ``scope`` names each
    secure default that an override switches off. ``setting`` is the override's name, e.g.
    ``storage.data_bucket_props``."""
    given = overrides or {}
    kind = _KINDS.get(setting.rsplit(".", 1)[-1], "bucket")
    for default in defaults.switched_off(props, given, kind=kind):
        key = default.split("=", 1)[0]
        cdk.Annotations.of(scope).add_warning_v2(
            "mlpipeline:SecureDefaultOverridden",
            f"{setting}[{key!r}]={given[key]!r} switches off the secure default {default}",
        )
    return {**props, **given}
