"""moto's CloudFormation, made to deploy what the CDK synthesizes: the bootstrap stack and any
app's stacks.

The CDK CLI deploys with change sets, from a template it uploads to the bootstrap bucket, and the
stacks it deploys carry resource types and properties that moto (5.2) skips or handles unlike
CloudFormation. :func:`install_cloudformation_support` patches moto in this process, once. Each
module says what CloudFormation does and what moto does instead:

- :mod:`._templates`: TemplateURL on the emulator's own endpoint.
- :mod:`._stacks`: outputs and exports after a change set, deletions of what is not there,
  resource lists and list parameters as CloudFormation describes them.
- :mod:`._stack_events`: resource events, and failures as stack states (no HTTP 500s).
- :mod:`._resource_types`: ``AWS::S3::BucketPolicy``, ``AWS::SNS::TopicPolicy`` and
  ``AWS::CDK::Metadata``, which moto skips; updates of resources without properties, or of types
  moto cannot update.
- :mod:`._model_package_groups`: ``AWS::SageMaker::ModelPackageGroup`` and its resource policy.
- :mod:`._alarms`: ``AWS::CloudWatch::Alarm`` (metric alarms, such as a pipeline's rollout
  alarms).
- :mod:`._buckets`: the bucket configuration moto leaves out (versioning, public access block,
  ownership, lifecycle, logging, notifications, canned ACL).
- :mod:`._bucket_policies`: the CDK's TLS-only bucket policies over the emulator's plain HTTP.
- :mod:`._services`: state machines the Step Functions API can find and run, log groups with
  their KMS key, KMS keys with a usable policy.
- :mod:`._custom_resources` and :mod:`._sdk_calls`: AwsCustomResource, run in Python as its
  provider Lambda runs it (moto would need Docker, and never sends Update or Delete).

Resource handlers act through the services' APIs (boto3) where moto's APIs are faithful, as
CloudFormation's handlers do: against the emulator's own endpoint in a server, or moto's
in-process mock when no endpoint is given.
"""

from __future__ import annotations

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.responses import CloudFormationResponse
from moto.kms.models import Key
from moto.logs.models import LogGroup
from moto.s3.models import FakeBucket
from moto.stepfunctions import models as sfn_models

from . import _patching
from ._bucket_policies import (
    EMULATOR_REQUEST_CONTEXT,
    bucket_permission,
    transport_conditions_hold,
)
from ._buckets import create_bucket, lifecycle_rule, notification_configuration, update_bucket
from ._custom_resources import (
    AWS_CUSTOM_RESOURCE_PROVIDER_ID,
    PHYSICAL_RESOURCE_ID_REFERENCE,
    AwsCustomResource,
    ProviderResponse,
    create_custom,
    flatten,
    run_aws_custom_resource,
    update_custom,
)
from ._patching import patch, patch_create, patch_update
from ._resource_types import parse_and_update_resource, parse_resource, resource_class_from_type
from ._sdk_calls import ApiCallError, CallApi, boto3_call_api, botocore_service_name
from ._services import (
    create_key,
    create_log_group,
    create_state_machine,
    delete_state_machine,
    update_key,
    update_state_machine,
)
from ._stack_events import ResourceFailedError
from ._stacks import (
    delete_change_set,
    delete_stack,
    execute_change_set,
    parameter_list,
    stack_resources,
)
from ._templates import get_stack_from_s3_url, template_from_url

__all__ = [
    "AWS_CUSTOM_RESOURCE_PROVIDER_ID",
    "EMULATOR_REQUEST_CONTEXT",
    "PHYSICAL_RESOURCE_ID_REFERENCE",
    "ApiCallError",
    "AwsCustomResource",
    "CallApi",
    "ProviderResponse",
    "ResourceFailedError",
    "boto3_call_api",
    "botocore_service_name",
    "flatten",
    "install_cloudformation_support",
    "lifecycle_rule",
    "notification_configuration",
    "run_aws_custom_resource",
    "template_from_url",
    "transport_conditions_hold",
    "uninstall_cloudformation_support",
]


def install_cloudformation_support(endpoint_url: str | None = None) -> None:
    """Patch moto in this process (once, however often this is called).

    :param endpoint_url: Where the resource handlers reach the emulated services: the moto
        server's own endpoint (``http://127.0.0.1:PORT``) when moto runs as a server. Default:
        AWS's endpoints, which ``mock_aws`` intercepts in process.
    """
    _patching.set_endpoint(endpoint_url)
    with _patching.install_lock():
        if _patching.is_installed():
            return
        _install()


def _install() -> None:
    patch(CloudFormationResponse, "_get_stack_from_s3_url", get_stack_from_s3_url)
    backend = cfn_models.CloudFormationBackend
    patch(backend, "execute_change_set", execute_change_set)
    patch(backend, "delete_stack", delete_stack)
    patch(backend, "delete_change_set", delete_change_set)
    patch(cfn_models.Stack, "stack_resources", property(stack_resources))
    patch(cfn_models.Stack, "parameter_list", property(parameter_list))
    patch(cfn_parsing, "resource_class_from_type", resource_class_from_type)
    patch(cfn_parsing, "parse_resource", parse_resource)
    patch(cfn_parsing, "parse_and_update_resource", parse_and_update_resource)
    patch(FakeBucket, "get_permission", bucket_permission)
    for owner, create, update in (
        (CustomModel, create_custom, update_custom),
        (FakeBucket, create_bucket, update_bucket),
        (sfn_models.StateMachine, create_state_machine, update_state_machine),
        (LogGroup, create_log_group, None),
        (Key, create_key, update_key),
    ):
        patch_create(owner, create)
        if update is not None:
            patch_update(owner, update)
    patch(
        sfn_models.StateMachine,
        "delete_from_cloudformation_json",
        classmethod(delete_state_machine),
    )


def uninstall_cloudformation_support() -> None:
    """Restore moto as it was."""
    with _patching.install_lock():
        _patching.restore_all()
    _patching.set_endpoint(None)
