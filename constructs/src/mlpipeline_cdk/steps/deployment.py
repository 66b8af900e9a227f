"""Roll a registered model version out to a long-lived endpoint: create it or update it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ..autoscaling import AutoscalingSettings
from ..contract import run_output
from ..rollout_settings import RolloutSettings, deploy_timeout_warning
from . import _rollout
from ._endpoint_config import EndpointConfigTask
from ._retries import SDK_UNDECLARED_ERROR, ThrottleRetry, add_sdk_retry
from ._scaling import EndpointScaling
from ._supersede import Supersession
from .failure import FailureHandler, with_defaults

#: Endpoint states in which SageMaker refuses an update; the run waits them out.
_BUSY_STATES: Final = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
_FAILED_STATES: Final = ("Failed", "UpdateRollbackFailed", "OutOfService")


class DeployToEndpoint(sfn.StateMachineFragment):
    """Creates a model from the model package version ``$.modelPackage.arn`` and an endpoint
    configuration, then points ``endpoint_name`` at them.

    The endpoint keeps its name across runs: the first run creates it, later runs update it in
    place (SageMaker shifts traffic without downtime). A run that finds the endpoint busy waits;
    one that finds it ``Failed`` (it cannot be updated) deletes it and creates it anew. After the
    create or update the run polls DescribeEndpoint until the endpoint is ``InService`` on the new
    configuration. It fails with ``EndpointFailed`` (SageMaker's FailureReason in the cause) when
    the endpoint ends ``Failed``, ``UpdateRollbackFailed`` or ``OutOfService``, with
    ``EndpointRolloutRolledBack`` (the alarms in ALARM and their reasons in the cause) when
    SageMaker rolled a guarded update back on an alarm, with ``EndpointUpdateRolledBack`` when it
    rolled the update back otherwise, and with ``EndpointDeployTimeout`` after ``deploy_timeout``.

    With ``rollout``, an update is a blue/green deployment with SageMaker's deployment guardrails
    (:mod:`._rollout`): traffic shifts as ``$.config.rollout`` says, watched by
    :attr:`rollout_alarms`; the state machine's role needs :attr:`policy_statements`.

    Overlapping runs: each endpoint configuration is tagged with the start time of its run (see
    :mod:`._supersede`). A run that finds the endpoint on a newer run's configuration leaves it
    there and ends ``Superseded`` (``$.deployment.status``), whether it finds so before its
    update or after it; so the endpoint never goes back to an older run's model.

    ``serverless_config`` (a ``ProductionVariantServerlessConfig``) makes the variant serverless
    instead of ``instance_type`` and ``instance_count``; ``data_capture_config`` captures requests.

    Writes ``$.model`` and ``$.endpointConfig`` (``arn``, ``name``), ``$.endpoint`` (the final
    DescribeEndpoint result), ``$.deployment`` (``status``: ``Deployed`` or ``Superseded``,
    ``runStart``) and, with ``rollout``, ``$.rolloutPlan`` (``strategy``, ``routing``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        endpoint_name: str,
        role: iam.IRole,
        encryption_key: kms.IKey,
        instance_type: str,
        instance_count: int,
        poll_interval: Duration,
        deploy_timeout: Duration,
        failure: FailureHandler,
        vpc: ec2.IVpc | None = None,
        subnet_selection: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        enable_network_isolation: bool = False,
        serverless_config: Mapping[str, object] | None = None,
        data_capture_config: Mapping[str, object] | None = None,
        autoscaling: AutoscalingSettings | None = None,
        rollout: RolloutSettings | None = None,
    ) -> None:
        """:param rollout: Guarded rollouts for updates (:mod:`._rollout`), reading the run's
        ``$.config.rollout``. Default: a plain UpdateEndpoint."""
        super().__init__(scope, construct_id)
        self.endpoint_name = endpoint_name
        self.endpoint_arn = cdk.Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=endpoint_name
        )

        self.supersession = Supersession(self, name_prefix=name_prefix)
        #: The variant's scaling states (``autoscaling``), or None.
        self.scaling = None if autoscaling is None else EndpointScaling(
            self, "Scaling", settings=autoscaling, endpoint_name=endpoint_name,
            name_prefix=name_prefix, instance_type=instance_type,
            endpoint_arn=self.endpoint_arn, failure=failure,
        )  # fmt: skip
        self._create_model_and_config(
            name_prefix=name_prefix, role=role, encryption_key=encryption_key,
            instance_type=instance_type, instance_count=instance_count, vpc=vpc,
            subnet_selection=subnet_selection, security_groups=security_groups,
            enable_network_isolation=enable_network_isolation,
            serverless_config=serverless_config, data_capture_config=data_capture_config,
        )  # fmt: skip
        self.find_endpoint = self._describe_endpoint(
            "FindEndpoint",
            result_selector={
                "status": sfn.JsonPath.string_at("$.EndpointStatus"),
                "configName": sfn.JsonPath.string_at("$.EndpointConfigName"),
            },
            result_path="$.existingEndpoint",
        )
        self._add_update(rollout, name_prefix, deploy_timeout)
        delete_failed = tasks.CallAwsService(
            self,
            "DeleteFailedEndpoint",
            service="sagemaker",
            action="deleteEndpoint",
            parameters={"EndpointName": endpoint_name},
            iam_resources=[self.endpoint_arn],
            iam_action="sagemaker:DeleteEndpoint",
            result_path=sfn.JsonPath.DISCARD,
        )
        wait_idle = sfn.Wait(self, "WaitForIdleEndpoint", time=sfn.WaitTime.duration(poll_interval))
        lookup_failed = sfn.Choice(self, "EndpointExists")
        route = sfn.Choice(self, "CreateOrUpdate")

        start_polling = sfn.Pass(
            self,
            "StartPollingEndpoint",
            parameters={"polls": 0},
            result_path="$.deploy",
        )
        wait = sfn.Wait(self, "WaitForEndpoint", time=sfn.WaitTime.duration(poll_interval))
        describe = self._describe_endpoint("DescribeEndpoint", result_path="$.endpoint")
        check = sfn.Choice(self, "CheckEndpoint")
        count = sfn.Pass(
            self,
            "CountPoll",
            parameters={
                "polls": sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.deploy.polls"), 1)
            },
            result_path="$.deploy",
        )
        give_up = sfn.Choice(self, "KeepWaiting")
        max_polls = max(1, int(deploy_timeout.to_seconds() // max(1, poll_interval.to_seconds())))
        timeout = failure.reject(
            self,
            "EndpointDeployTimeout",
            error="EndpointDeployTimeout",
            cause=sfn.JsonPath.format(
                f"endpoint {{}} was still {{}} after {deploy_timeout.to_minutes()} minutes",
                endpoint_name,
                sfn.JsonPath.string_at("$.endpoint.EndpointStatus"),
            ),
        )
        explain = self._explain_endpoint_failure(failure)
        self._deployed = self.supersession.deployed
        superseded = self.supersession.superseded
        already_newer = sfn.Pass(
            self,
            "NewerRunAlreadyDeployed",
            parameters={
                "EndpointName": endpoint_name,
                "EndpointStatus": sfn.JsonPath.string_at("$.existingEndpoint.status"),
                "EndpointConfigName": sfn.JsonPath.string_at("$.existingEndpoint.configName"),
            },
            result_path="$.endpoint",
        )
        already_newer.next(superseded)
        update_unless_newer = self.supersession.if_newer(
            "DeployedRun",
            config_name_path="$.existingEndpoint.configName",
            newer=already_newer,
            otherwise=self.scaling.before_update(self._update_entry)
            if self.scaling
            else self._update_entry,
        )
        superseded_or_explain = self.supersession.if_newer(
            "ServingRun",
            config_name_path="$.endpoint.EndpointConfigName",
            newer=superseded,
            otherwise=explain,
        )

        throttling = self._add_error_routes(failure, wait_idle, delete_failed, describe)
        self.find_endpoint.add_catch(lookup_failed, errors=["States.ALL"], result_path="$.error")

        configured = self.create_model.next(self.supersession.record_start).next(
            self.create_endpoint_config
        )
        if rollout is not None:
            configured = configured.next(_rollout.no_rollout_yet(self))
        configured.next(self.find_endpoint)
        # DescribeEndpoint of an endpoint that does not exist is a ValidationException, which the
        # AWS SDK integration names SageMaker.SageMakerException, as it does throttling.
        lookup_failed.when(
            sfn.Condition.string_matches("$.error.Cause", "*Could not find endpoint*"),
            self.create_endpoint,
        ).when(
            sfn.Condition.string_equals("$.error.Error", SDK_UNDECLARED_ERROR),
            throttling.retry(self.find_endpoint, "FindEndpoint"),
        ).otherwise(failure.entry)
        self.find_endpoint.next(route)
        route.when(
            sfn.Condition.or_(
                *(sfn.Condition.string_equals("$.existingEndpoint.status", s) for s in _BUSY_STATES)
            ),
            wait_idle,
        ).when(
            sfn.Condition.string_equals("$.existingEndpoint.status", "Failed"), delete_failed
        ).otherwise(update_unless_newer)
        delete_failed.next(wait_idle)
        wait_idle.next(self.find_endpoint)
        self.create_endpoint.next(start_polling)
        self.update_endpoint.next(start_polling)
        start_polling.next(wait).next(describe).next(check)
        check.when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.endpoint.EndpointStatus", "InService"),
                sfn.Condition.string_equals_json_path(
                    "$.endpoint.EndpointConfigName", "$.endpointConfig.name"
                ),
            ),
            self._deployed,
        ).when(
            sfn.Condition.string_equals("$.endpoint.EndpointStatus", "InService"),
            superseded_or_explain,
        ).when(
            sfn.Condition.or_(
                *(
                    sfn.Condition.string_equals("$.endpoint.EndpointStatus", s)
                    for s in _FAILED_STATES
                )
            ),
            explain,
        ).otherwise(count)
        count.next(give_up)
        give_up.when(
            sfn.Condition.number_greater_than_equals("$.deploy.polls", max_polls), timeout
        ).otherwise(wait)
        self._start = self.create_model
        self._end: sfn.INextable = self._deployed
        if self.scaling:
            scale, self._end = self.scaling.after_deploy()
            self._deployed.next(scale)

    def _add_update(
        self, rollout: RolloutSettings | None, name_prefix: str, deploy_timeout: Duration
    ) -> None:
        #: Alarms whose firing rolls an update back: those created, then those given.
        self.rollout_alarms: list[cloudwatch.IAlarm] = []
        #: What the state machine's role needs beyond what the CDK tasks grant.
        self.policy_statements: list[iam.PolicyStatement] = []
        self.update_endpoint: sfn.TaskStateBase | sfn.CustomState
        if rollout is None:
            self.update_endpoint = tasks.SageMakerUpdateEndpoint(
                self,
                "UpdateEndpoint",
                endpoint_name=self.endpoint_name,
                endpoint_config_name=sfn.JsonPath.string_at("$.endpointConfig.name"),
                result_path=sfn.JsonPath.DISCARD,
            )
            self._update_entry: sfn.State = self.update_endpoint
            return
        self.rollout_alarms = _rollout.create_alarms(
            self, endpoint_name=self.endpoint_name, settings=rollout
        )
        self.update_endpoint = _rollout.update_state(
            self, endpoint_name=self.endpoint_name, settings=rollout, alarms=self.rollout_alarms
        )
        self._update_entry, plans = _rollout.plan_states(self)
        for plan in plans:
            plan.next(self.update_endpoint)
        self.policy_statements = _rollout.update_policies(
            self, endpoint_arn=self.endpoint_arn, name_prefix=name_prefix
        )
        warning = deploy_timeout_warning(rollout, deploy_timeout)
        if warning:
            cdk.Annotations.of(self).add_warning_v2(
                "mlpipeline:RolloutOutlastsDeployTimeout", warning
            )

    def _create_model_and_config(
        self,
        *,
        name_prefix: str,
        role: iam.IRole,
        encryption_key: kms.IKey,
        instance_type: str,
        instance_count: int,
        vpc: ec2.IVpc | None,
        subnet_selection: ec2.SubnetSelection | None,
        security_groups: Sequence[ec2.ISecurityGroup],
        enable_network_isolation: bool,
        serverless_config: Mapping[str, object] | None,
        data_capture_config: Mapping[str, object] | None,
    ) -> None:
        self.create_model = tasks.SageMakerCreateModel(
            self,
            "CreateModel",
            model_name=sfn.JsonPath.format("{}-{}", name_prefix, sfn.JsonPath.uuid()),
            role=role,
            # The model is the registered version itself (ContainerDefinition.ModelPackageName:
            # SageMaker takes the image, model data and environment from its inference
            # specification), so the endpoint serves exactly what the registry records.
            primary_container=tasks.ContainerDefinition(
                model_package_name=sfn.JsonPath.string_at("$.modelPackage.arn")
            ),
            vpc=vpc,
            subnet_selection=subnet_selection,
            enable_network_isolation=enable_network_isolation or None,
            result_selector=_name_from_arn("$.ModelArn"),
            result_path="$.model",
        )
        for group in security_groups:
            self.create_model.add_security_group(group)
        # serverless_config replaces the instances (serverless.py); data_capture_config: capture.py
        self.create_endpoint_config = EndpointConfigTask(
            self,
            "CreateEndpointConfig",
            serverless_config=serverless_config,
            data_capture_config=data_capture_config,
            endpoint_config_name=sfn.JsonPath.format("{}-{}", name_prefix, sfn.JsonPath.uuid()),
            kms_key=encryption_key,
            production_variants=[
                tasks.ProductionVariant(
                    model_name=sfn.JsonPath.string_at("$.model.name"),
                    variant_name="AllTraffic",
                    instance_type=ec2.InstanceType(instance_type.removeprefix("ml.")),
                    initial_instance_count=instance_count,
                    initial_variant_weight=1,
                )
            ],
            tags=self.supersession.tags,
            result_selector=_name_from_arn("$.EndpointConfigArn"),
            result_path="$.endpointConfig",
        )
        self.create_endpoint = tasks.SageMakerCreateEndpoint(
            self,
            "CreateEndpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=sfn.JsonPath.string_at("$.endpointConfig.name"),
            result_path=sfn.JsonPath.DISCARD,
        )

    def _add_error_routes(
        self,
        failure: FailureHandler,
        wait_idle: sfn.IChainable,
        delete_failed: tasks.CallAwsService,
        describe: tasks.CallAwsService,
    ) -> ThrottleRetry:
        # Throttling and transient faults of the optimized tasks wait and try again; an invalid
        # request fails the run at once, except the two an overlapping run causes: an update
        # or a create that finds the endpoint busy or just created goes back to waiting.
        throttling = ThrottleRetry(self, "Deploy", failure)
        raced = sfn.Choice(self, "EndpointBusyOrTaken")
        raced.when(
            sfn.Condition.or_(
                sfn.Condition.string_matches(
                    "$.error.Cause", "*Cannot update in-progress endpoint*"
                ),
                sfn.Condition.string_matches(
                    "$.error.Cause", "*Cannot create already existing endpoint*"
                ),
            ),
            wait_idle,
        ).otherwise(failure.entry)
        for state, name in (
            (self.create_model, "CreateModel"),
            (self.create_endpoint_config, "CreateEndpointConfig"),
        ):
            throttling.add(state, name)
        throttling.add(self.create_endpoint, "CreateEndpoint", otherwise=raced)
        throttling.add(self.update_endpoint, "UpdateEndpoint", otherwise=raced)
        for sdk_state in (delete_failed, describe):
            add_sdk_retry(sdk_state)
        for caught in (
            self.create_model,
            self.create_endpoint_config,
            self.create_endpoint,
            self.update_endpoint,
            delete_failed,
            describe,
        ):
            failure.catch(caught)
        return throttling

    def run_output(self) -> dict[str, str]:
        """What a successful run reports of its deployment (``run_output.DEPLOYMENT_KEYS``)."""
        return {
            run_output.MODEL_NAME: sfn.JsonPath.string_at("$.model.name"),
            run_output.ENDPOINT_CONFIG_NAME: sfn.JsonPath.string_at("$.endpointConfig.name"),
            run_output.ENDPOINT_NAME: sfn.JsonPath.string_at("$.endpoint.EndpointName"),
            run_output.ENDPOINT_STATUS: sfn.JsonPath.string_at("$.endpoint.EndpointStatus"),
            run_output.DEPLOYMENT_STATUS: sfn.JsonPath.string_at("$.deployment.status"),
            **(
                {run_output.ROLLOUT_STRATEGY: sfn.JsonPath.string_at("$.rolloutPlan.strategy")}
                if self.rollout_alarms
                else {}
            ),
        }

    def _describe_endpoint(
        self,
        state_id: str,
        *,
        result_path: str,
        result_selector: Mapping[str, str] | None = None,
    ) -> tasks.CallAwsService:
        return tasks.CallAwsService(
            self,
            state_id,
            service="sagemaker",
            action="describeEndpoint",
            parameters={"EndpointName": self.endpoint_name},
            iam_resources=[self.endpoint_arn],
            iam_action="sagemaker:DescribeEndpoint",
            result_selector=dict(result_selector) if result_selector else None,
            result_path=result_path,
        )

    def _explain_endpoint_failure(self, failure: FailureHandler) -> sfn.IChainable:
        read_endpoint = with_defaults(
            self,
            prepare_id="PrepareEndpointFailure",
            read_id="ReadEndpointFailure",
            defaults={"FailureReason": "SageMaker gave no reason"},
            defaults_path="$.endpointDefaults",
            value=sfn.JsonPath.object_at("$.endpoint"),
            key="endpoint",
            result_path="$.failedEndpoint",
        )
        kind = sfn.Choice(self, "RolledBackOrFailed")
        rolled_back: sfn.IChainable = failure.reject(
            self,
            "EndpointUpdateRolledBack",
            error="EndpointUpdateRolledBack",
            cause=sfn.JsonPath.format(
                "SageMaker rolled endpoint {} back to {} instead of {}: {}",
                sfn.JsonPath.string_at("$.failedEndpoint.endpoint.EndpointName"),
                sfn.JsonPath.string_at("$.failedEndpoint.endpoint.EndpointConfigName"),
                sfn.JsonPath.string_at("$.endpointConfig.name"),
                sfn.JsonPath.string_at("$.failedEndpoint.endpoint.FailureReason"),
            ),
        )
        failed = failure.reject(
            self,
            "EndpointFailed",
            error="EndpointFailed",
            cause=sfn.JsonPath.format(
                "endpoint {} is {}: {}",
                sfn.JsonPath.string_at("$.failedEndpoint.endpoint.EndpointName"),
                sfn.JsonPath.string_at("$.failedEndpoint.endpoint.EndpointStatus"),
                sfn.JsonPath.string_at("$.failedEndpoint.endpoint.FailureReason"),
            ),
        )
        read_endpoint.next(kind)
        if self.rollout_alarms:
            rolled_back = _rollout.explain_rollback(
                self, failure=failure, alarms=self.rollout_alarms, otherwise=rolled_back
            )
        kind.when(
            sfn.Condition.string_equals("$.failedEndpoint.endpoint.EndpointStatus", "InService"),
            self.scaling.restore(rolled_back) if self.scaling else rolled_back,
        ).otherwise(failed)
        return read_endpoint

    @property
    def start_state(self) -> sfn.State:
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self._end, self.supersession.superseded]


def _name_from_arn(arn_path: str) -> dict[str, str]:
    # SageMaker ARNs carry the name in lowercase; names here are lowercase by design, so the
    # name is the ARN's last segment.
    return {
        "arn": sfn.JsonPath.string_at(arn_path),
        "name": sfn.JsonPath.array_get_item(
            sfn.JsonPath.string_split(sfn.JsonPath.string_at(arn_path), "/"), 1
        ),
    }
