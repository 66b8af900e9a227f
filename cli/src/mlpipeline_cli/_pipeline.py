"""Find a deployed pipeline: its state machine, buckets and endpoint, from the stack's outputs."""

from __future__ import annotations

from typing import Final

from mlpipeline_cdk.contract.outputs import OUTPUT_KEYS, STATE_MACHINE_ARN

from ._aws import Clients, CliError, error_code, error_message, is_client_error

DEFAULT_STACK_NAME: Final = "MLPipelineStack"


class Pipeline:
    """A deployed pipeline, named by its stack or by its state machine's ARN.

    Outputs are read once, on first use, so a command that is given everything it needs as
    options (``--state-machine-arn``, ``--endpoint-name``, ``--bucket``) makes no CloudFormation
    call at all. Given only a state machine ARN, the stack is the one that holds that state
    machine (CloudFormation DescribeStackResources).
    """

    def __init__(
        self,
        clients: Clients,
        *,
        stack_name: str | None = None,
        state_machine_arn: str | None = None,
        local: bool = False,
    ) -> None:
        self._clients = clients
        self._local = local
        self._stack_name = stack_name
        self._state_machine_arn = state_machine_arn
        self._outputs: dict[str, str] | None = None
        self._stack_status = ""

    @property
    def state_machine_arn(self) -> str:
        if self._state_machine_arn is None:
            self._state_machine_arn = self.output(STATE_MACHINE_ARN, "--state-machine-arn")
        return self._state_machine_arn

    def output(self, key: str, option: str) -> str:
        """The stack output ``key``; ``option`` names what can be passed instead."""
        outputs = self.outputs()
        value = outputs.get(key)
        if value is None:
            found = ", ".join(sorted(outputs)) or "none"
            status = f" (stack status {self._stack_status})" if self._stack_status else ""
            raise CliError(
                f"stack {self.stack_name} has no output {key}{status}; its outputs: {found}. "
                f"A pipeline stack exports {', '.join(OUTPUT_KEYS)}; or pass {option}"
            )
        return value

    @property
    def stack_name(self) -> str:
        if self._stack_name is None:
            self._stack_name = (
                self._stack_of_state_machine(self._state_machine_arn)
                if self._state_machine_arn
                else DEFAULT_STACK_NAME
            )
        return self._stack_name

    def outputs(self) -> dict[str, str]:
        if self._outputs is None:
            self._outputs = self._read_outputs(self.stack_name)
        return self._outputs

    def _read_outputs(self, stack_name: str) -> dict[str, str]:
        cloudformation = self._clients.client("cloudformation")
        try:
            stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except Exception as exc:
            if (
                is_client_error(exc)
                and error_code(exc) == "ValidationError"
                and "does not exist" in error_message(exc)
            ):
                region = self._clients.region or "the default region"
                deploy = (
                    "make deploy-local, or mlpipeline-emulator deploy in your app's folder"
                    if self._local
                    else "npx cdk deploy"
                )
                raise CliError(
                    f"stack {stack_name} not found in {region}: deploy it ({deploy}), "
                    "or name yours with --stack-name (and --region), or pass "
                    "--state-machine-arn"
                ) from exc
            raise
        if not stacks:
            raise CliError(f"stack {stack_name} not found")
        stack = stacks[0]
        self._stack_status = str(stack.get("StackStatus", ""))
        return {
            str(output["OutputKey"]): str(output.get("OutputValue", ""))
            for output in stack.get("Outputs", [])
        }

    def _stack_of_state_machine(self, arn: str) -> str:
        cloudformation = self._clients.client("cloudformation")
        try:
            resources = cloudformation.describe_stack_resources(PhysicalResourceId=arn)[
                "StackResources"
            ]
        except Exception as exc:
            if is_client_error(exc) and error_code(exc) == "ValidationError":
                raise CliError(
                    f"no CloudFormation stack holds the state machine {arn}; pass --stack-name, "
                    "or give the values its outputs would (see --help)"
                ) from exc
            raise
        if not resources:
            raise CliError(f"no CloudFormation stack holds the state machine {arn}")
        return str(resources[0]["StackName"])
