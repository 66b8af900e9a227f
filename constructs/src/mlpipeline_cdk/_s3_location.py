"""An S3 location for the SageMaker tasks whose grants are exactly what the job needs.

``tasks.S3Location.from_bucket`` grants ``grantWrite`` (which includes deleting objects) for an
output location, and ``from_json_expression`` grants reads on every bucket (``*``). These locations
grant reads on a prefix, or puts on a prefix, of one bucket, while the URI may still come from the
state's data.
"""

from __future__ import annotations

import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions_tasks as tasks


class ScopedS3Location(tasks.S3Location):
    """``uri`` (literal or a JSONPath) inside ``bucket``/``key_prefix``, with matching grants."""

    def __init__(self, bucket: s3.IBucket, key_prefix: str, *, uri: str | None = None) -> None:
        super().__init__()
        self._bucket = bucket
        self._key_prefix = key_prefix
        self._uri = uri if uri is not None else bucket.s3_url_for_object(key_prefix)

    @jsii.member(jsii_name="bind")
    def bind(
        self,
        task: iam.IGrantable,
        *,
        for_reading: bool | None = None,
        for_writing: bool | None = None,
    ) -> tasks.S3LocationConfig:
        objects = f"{self._key_prefix}*"
        if for_reading:
            self._bucket.grant_read(task, objects)
        if for_writing:
            self._bucket.grant_put(task, objects)
        return tasks.S3LocationConfig(uri=self._uri)
