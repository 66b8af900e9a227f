"""``endpoint status|stop|start``: what is live and what it costs, delete the endpoint by hand
keeping its configuration and model, and bring it back on the last stopped configuration.

A stop (by the idle check or by ``endpoint stop``) is recorded as one JSON object per endpoint in
the artifacts bucket (:mod:`mlpipeline_cdk.contract.endpoint_stops`); ``endpoint start`` reads
it. SageMaker's DescribeEndpoint of an endpoint that does not exist is a ValidationException
"Could not find endpoint ..." (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
API_DescribeEndpoint.html; the deployment step relies on the same message), and DeleteEndpoint
keeps the endpoint configuration and model ("deletes an endpoint ... does not delete the
endpoint configuration", https://docs.aws.amazon.com/sagemaker/latest/APIReference/
API_DeleteEndpoint.html).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from mlpipeline_cdk.contract import endpoint_stops as record
from mlpipeline_cdk.contract import outputs

from . import _endpoint_prices as prices
from ._aws import CliError, error_code, error_message, is_client_error
from ._context import PROG, Context, print_json

Command = Callable[[str, str, str], argparse.ArgumentParser]

#: States in which a run is changing the endpoint: stop and start leave it alone.
_BUSY: Final = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
_FAILED: Final = frozenset({"Failed", "OutOfService", "UpdateRollbackFailed"})


def add_endpoint_commands(command: Command) -> None:
    from ._parser import _seconds

    endpoint = command(
        "endpoint",
        "show, stop or start the pipeline's endpoint",
        "status: what is live (status, configuration, model version, instances or serverless "
        "configuration) and its cost per hour at list price, or when and why it was stopped. "
        "stop: delete the endpoint, keeping its configuration and model, and record it. start: "
        "create it again on the last stopped configuration.",
    )
    endpoint.add_argument("action", choices=("status", "stop", "start"))
    endpoint.add_argument("--endpoint-name", help="instead of the stack's EndpointName output")
    endpoint.add_argument(
        "--artifacts-bucket", help="instead of the stack's ArtifactsBucketName output"
    )
    endpoint.add_argument(
        "--no-wait", action="store_true", help="start: return once CreateEndpoint is accepted"
    )
    endpoint.add_argument(
        "--timeout",
        type=_seconds,
        default=3600.0,
        help="start: seconds to wait for InService (default 3600)",
    )
    endpoint.add_argument(
        "--poll", type=_seconds, default=15.0, help="start: seconds between checks (default 15)"
    )
    endpoint.add_argument("--json", action="store_true", help="status: print a JSON object")
    endpoint.set_defaults(handler=cmd_endpoint)


def cmd_endpoint(context: Context) -> int:
    action = context.args.action
    if action == "status":
        return _status(context)
    if action == "stop":
        return _stop(context)
    return _start(context)


# --- reading ------------------------------------------------------------------------------------


def _names(context: Context) -> tuple[str, str]:
    args = context.args
    endpoint = args.endpoint_name or context.pipeline.output(
        outputs.ENDPOINT_NAME, "--endpoint-name"
    )
    bucket = args.artifacts_bucket or context.pipeline.output(
        outputs.ARTIFACTS_BUCKET_NAME, "--artifacts-bucket"
    )
    return endpoint, bucket


def _describe(context: Context, endpoint: str) -> dict[str, Any] | None:
    try:
        return dict(context.client("sagemaker").describe_endpoint(EndpointName=endpoint))
    except Exception as exc:
        if is_client_error(exc) and "Could not find endpoint" in error_message(exc):
            return None
        raise


def _stop_record(context: Context, bucket: str, endpoint: str) -> dict[str, Any] | None:
    s3 = context.client("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=record.record_key(endpoint))["Body"].read()
    except Exception as exc:
        if is_client_error(exc) and error_code(exc) in {"NoSuchKey", "404"}:
            return None
        raise
    return dict(json.loads(body))


def _variants(context: Context, config_name: str) -> list[dict[str, Any]]:
    config = context.client("sagemaker").describe_endpoint_config(EndpointConfigName=config_name)
    return list(config["ProductionVariants"])


def _model_package(context: Context, model_name: str) -> str | None:
    try:
        model = context.client("sagemaker").describe_model(ModelName=model_name)
    except Exception as exc:
        if is_client_error(exc):
            return None
        raise
    container = model.get("PrimaryContainer") or {}
    package = container.get("ModelPackageName")
    return str(package) if package else None


def _variant_view(
    context: Context, variant: dict[str, Any], live: dict[str, Any] | None
) -> dict[str, Any]:
    """One production variant: model, version, capacity and cost per hour."""
    view: dict[str, Any] = {"variant": variant.get("VariantName"), "model": variant["ModelName"]}
    package = _model_package(context, variant["ModelName"])
    if package:
        view["modelPackage"] = package
        view["modelPackageVersion"] = package.rsplit("/", 1)[-1]
    serverless = variant.get("ServerlessConfig")
    if serverless:
        view["serverless"] = serverless
        view["costPerHour"] = None
        view["cost"] = "serverless: billed per request and duration, nothing per hour"
        return view
    count = int((live or {}).get("CurrentInstanceCount") or variant["InitialInstanceCount"])
    view["instanceType"] = variant["InstanceType"]
    view["instanceCount"] = count
    region = context.clients.region
    cost = prices.hourly(variant["InstanceType"], count, region)
    view["costPerHour"] = cost
    view["cost"] = (
        prices.unknown(variant["InstanceType"], region)
        if cost is None
        else f"${cost:.3f} per hour at list price ({prices.SOURCE})"
    )
    return view


# --- status --------------------------------------------------------------------------------------


def _status(context: Context) -> int:
    endpoint, bucket = _names(context)
    described = _describe(context, endpoint)
    if described is None:
        stopped = _stop_record(context, bucket, endpoint)
        document: dict[str, Any] = {"endpointName": endpoint, "status": "NotRunning"}
        if stopped is not None:
            document["stopped"] = stopped
        document["costPerHour"] = 0
        return _print_status(context, document)
    live = {v["VariantName"]: v for v in described.get("ProductionVariants", [])}
    variants = [
        _variant_view(context, v, live.get(v.get("VariantName", "")))
        for v in _variants(context, described["EndpointConfigName"])
    ]
    costs = [v["costPerHour"] for v in variants]
    document = {
        "endpointName": endpoint,
        "status": described["EndpointStatus"],
        "endpointConfigName": described["EndpointConfigName"],
        "variants": variants,
        "costPerHour": None if None in costs else round(sum(costs), 4),
    }
    if described.get("FailureReason"):
        document["failureReason"] = described["FailureReason"]
    return _print_status(context, document)


def _print_status(context: Context, document: dict[str, Any]) -> int:
    if context.args.json:
        print_json(document)
        return 0
    endpoint = document["endpointName"]
    if document["status"] == "NotRunning":
        stopped = document.get("stopped")
        print(f"endpoint {endpoint}: not running, costs nothing per hour")
        if stopped is None:
            print("no stop recorded: a run creates it")
            return 0
        variants = stopped.get(record.VARIANTS) or [{}]
        print(
            f"stopped by {stopped.get(record.STOPPED_BY)} at {stopped.get(record.STOPPED_AT)}: "
            f"{stopped.get(record.REASON)}"
        )
        print(
            f"last configuration {stopped.get(record.ENDPOINT_CONFIG_NAME)}, model "
            f"{variants[0].get('ModelName')}; bring it back with: {PROG} endpoint start"
        )
        return 0
    print(f"endpoint {endpoint}: {document['status']}")
    print(f"configuration: {document['endpointConfigName']}")
    for variant in document["variants"]:
        version = variant.get("modelPackageVersion")
        print(f"model: {variant['model']}" + (f" (version {version})" if version else ""))
        if "serverless" in variant:
            config = variant["serverless"]
            print(
                f"serverless: {config.get('MemorySizeInMB')} MB, max concurrency "
                f"{config.get('MaxConcurrency')}"
            )
        else:
            print(f"instances: {variant['instanceCount']} x {variant['instanceType']}")
        print(f"cost: {variant['cost']}")
    if document.get("failureReason"):
        print(f"failure: {document['failureReason']}")
    return 0


# --- stop and start ------------------------------------------------------------------------------


def _stop(context: Context) -> int:
    endpoint, bucket = _names(context)
    described = _describe(context, endpoint)
    if described is None:
        raise CliError(f"endpoint {endpoint} is not running: nothing to stop")
    status = described["EndpointStatus"]
    if status in _BUSY:
        raise CliError(
            f"endpoint {endpoint} is {status}: a run or SageMaker is changing it; stop it once "
            "it is InService"
        )
    config_name = described["EndpointConfigName"]
    variants = _variants(context, config_name)
    context.client("sagemaker").delete_endpoint(EndpointName=endpoint)
    stop = {
        record.ENDPOINT_NAME: endpoint,
        record.ENDPOINT_CONFIG_NAME: config_name,
        record.VARIANTS: variants,
        record.STOPPED_AT: datetime.now(UTC).isoformat(timespec="seconds"),
        record.STOPPED_BY: record.OPERATOR,
        record.REASON: f"stopped by hand ({PROG} endpoint stop) while {status}",
    }
    # No encryption headers: the bucket's default encryption (the pipeline key) applies.
    context.client("s3").put_object(
        Bucket=bucket,
        Key=record.record_key(endpoint),
        Body=json.dumps(stop, default=str).encode(),
        ContentType="application/json",
    )
    print(
        f"endpoint {endpoint} deleted; configuration {config_name} and its model kept "
        f"(recorded in s3://{bucket}/{record.record_key(endpoint)}); bring it back with: "
        f"{PROG} endpoint start"
    )
    return 0


def _start(context: Context) -> int:
    endpoint, bucket = _names(context)
    described = _describe(context, endpoint)
    if described is not None:
        raise CliError(
            f"endpoint {endpoint} is already running ({described['EndpointStatus']} on "
            f"configuration {described['EndpointConfigName']}): nothing to start"
        )
    stopped = _stop_record(context, bucket, endpoint)
    if stopped is None:
        raise CliError(
            f"no stop of endpoint {endpoint} is recorded (s3://{bucket}/"
            f"{record.record_key(endpoint)}): nothing to start from; a run creates the endpoint"
        )
    config_name = str(stopped[record.ENDPOINT_CONFIG_NAME])
    context.client("sagemaker").create_endpoint(
        EndpointName=endpoint, EndpointConfigName=config_name
    )
    print(f"endpoint {endpoint}: creating on configuration {config_name}")
    if context.args.no_wait:
        return 0
    return _wait_in_service(context, endpoint)


def _wait_in_service(context: Context, endpoint: str) -> int:
    deadline = time.monotonic() + context.args.timeout
    while True:
        described = _describe(context, endpoint)
        status = described["EndpointStatus"] if described else "Deleted"
        if status == "InService":
            print(f"endpoint {endpoint}: InService")
            return 0
        if status in _FAILED or described is None:
            reason = (described or {}).get("FailureReason", "SageMaker gave no reason")
            raise CliError(f"endpoint {endpoint} is {status}: {reason}")
        if time.monotonic() >= deadline:
            raise CliError(
                f"endpoint {endpoint} was still {status} after {context.args.timeout:g} seconds; "
                f"follow it with: {PROG} endpoint status"
            )
        time.sleep(context.args.poll)
