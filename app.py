#!/usr/bin/env python3
"""The CDK app: the ML pipeline stack, checked by cdk-nag's AwsSolutions rules on every synth.

Environment-agnostic unless the context (or the CLI's environment) names an account and region:
  npx cdk synth -c account=123456789012 -c region=eu-west-1
Context keys: stack_name, name_prefix, endpoint_name, account, region.

Given the delivery pipeline's context (``pipeline_connection_arn`` and the other ``pipeline_*``
keys of stacks/pipeline_settings.py), the app also holds the pipeline stack, MLPipelineCD.
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.ml_pipeline_stack import MLPipelineStack
from stacks.pipeline_settings import PipelineSettings
from stacks.pipeline_stack import PipelineStack

#: Construct id and stack name of the delivery pipeline.
PIPELINE_STACK_ID = "MLPipelineCD"
#: Context keys of the ML pipeline stack, handed on to the pipeline's own synth when given.
APP_CONTEXT_KEYS = ("stack_name", "name_prefix", "endpoint_name", "account", "region")


def _context(app: cdk.App, key: str) -> str | None:
    value = app.node.try_get_context(key)
    return None if value is None else str(value)


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    account = _context(app, "account") or os.environ.get("CDK_DEPLOY_ACCOUNT")
    region = _context(app, "region") or os.environ.get("CDK_DEPLOY_REGION")
    env = cdk.Environment(account=account, region=region) if account or region else None
    MLPipelineStack(
        app,
        _context(app, "stack_name") or "MLPipelineStack",
        env=env,
        name_prefix=_context(app, "name_prefix") or "mnist",
        endpoint_name=_context(app, "endpoint_name"),
        description="SageMaker training and deployment pipeline orchestrated by Step Functions",
    )
    settings = PipelineSettings.from_context(app, os.environ)
    if settings is not None:
        app_context = {key: value for key in APP_CONTEXT_KEYS if (value := _context(app, key))}
        PipelineStack(
            app,
            PIPELINE_STACK_ID,
            settings=settings,
            synth_context={**app_context, **settings.as_context()},
            name_prefix=_context(app, "name_prefix") or "mnist",
            endpoint_name=_context(app, "endpoint_name"),
            description="Delivery pipeline of the ML pipeline: test, self-update, staged rollout",
        )
    # Registered on the app, the checks also cover the stacks inside the pipeline's stages.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
