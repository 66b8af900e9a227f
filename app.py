#!/usr/bin/env python3
"""The CDK app: the ML pipeline stack, checked by cdk-nag's AwsSolutions rules on every synth.

Environment-agnostic unless the context (or the CLI's environment) names an account and region:
  npx cdk synth -c account=123456789012 -c region=eu-west-1
Context keys: stack_name, name_prefix, endpoint_name, account, region.
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.ml_pipeline_stack import MLPipelineStack


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
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
