"""cdk-nag (AwsSolutions) and cfn-lint on every synthesized template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from conftest import new_app

# Slow: runs cfn-lint over several regions' templates; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

#: Every region the agnostic template is checked against, including the odd registries.
LINT_REGIONS = ["us-east-1", "eu-west-1", "af-south-1", "ap-east-1", "me-south-1"]


def _templates(assembly: cdk.cx_api.CloudAssembly) -> dict[str, str]:
    directory = Path(assembly.directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    return {
        name: (directory / artifact["properties"]["templateFile"]).read_text()
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def _acknowledgements(assembly: cdk.cx_api.CloudAssembly) -> list[tuple[str, str, str]]:
    directory = Path(assembly.directory)
    found = []
    for metadata_file in directory.glob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found.extend((path, rule, reason) for rule, reason in entry["data"].items())
    return found


def test_app_synthesizes_with_no_unacknowledged_nag_findings(
    app_assembly: cdk.cx_api.CloudAssembly,
) -> None:
    # The app registers AwsSolutionsChecks; any unacknowledged finding fails synthesis, so a
    # synthesized assembly with an empty report is the proof.
    report = json.loads((Path(app_assembly.directory) / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert nag["pluginName"] == "AwsSolutions"
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    assert _templates(app_assembly)


def test_every_acknowledgement_matches_a_finding(app_assembly: cdk.cx_api.CloudAssembly) -> None:
    report = json.loads((Path(app_assembly.directory) / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    suppressed = {v["ruleName"] for v in nag["suppressedViolations"]}
    acknowledged = {
        rule.removeprefix("AwsSolutions::") for _, rule, _ in _acknowledgements(app_assembly)
    }
    # No stale acknowledgement that no longer matches anything.
    assert acknowledged == suppressed


def test_stacks_pinned_to_an_account_and_region_pass_nag_too(
    regional_assembly: cdk.cx_api.CloudAssembly,
) -> None:
    # Acknowledgements name ARNs as the stack renders them: with literal account and region
    # here, with <AWS::AccountId> and <AWS::Region> in the agnostic template.
    report = json.loads((Path(regional_assembly.directory) / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    suppressed = {v["ruleName"] for v in nag["suppressedViolations"]}
    assert any(":eu-" not in r and ":us-east-1:123456789012:" in r for r in suppressed)


def test_nag_check_fails_synthesis_on_a_finding() -> None:
    app = new_app()
    stack = cdk.Stack(app, "Insecure")
    s3.Bucket(stack, "Plain")  # no access logs, no TLS enforcement
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match=r"ValidationFailed(.|\n)*AwsSolutions-S1"):
        app.synth()


def test_every_acknowledgement_is_one_finding_on_one_resource_with_a_reason(
    app_assembly: cdk.cx_api.CloudAssembly,
) -> None:
    acknowledgements = _acknowledgements(app_assembly)
    assert acknowledgements
    for path, rule, reason in acknowledgements:
        assert rule.startswith("AwsSolutions::AwsSolutions-"), rule
        # One finding: a rule id with its finding in brackets, never a whole rule.
        assert rule.endswith("]") and "[" in rule, rule
        # On a resource's policy, never on the stack or the whole pipeline.
        assert path.count("/") >= 3, path
        assert len(reason) >= 40, (rule, reason)


def test_cfn_lint_finds_nothing_in_any_template(app_assembly: cdk.cx_api.CloudAssembly) -> None:
    for name, template in _templates(app_assembly).items():
        matches = cfnlint.api.lint(template, regions=LINT_REGIONS)
        assert [str(m) for m in matches] == [], name


def test_cfn_lint_finds_nothing_in_pinned_region_templates(
    regional_templates: dict[str, dict[str, Any]],
) -> None:
    for region, template in regional_templates.items():
        matches = cfnlint.api.lint(json.dumps(template), regions=[region])
        assert [str(m) for m in matches] == [], region


def test_cfn_lint_would_report_a_broken_template() -> None:
    broken = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"Nope": 1}}}}
    assert cfnlint.api.lint(json.dumps(broken), regions=["us-east-1"])
