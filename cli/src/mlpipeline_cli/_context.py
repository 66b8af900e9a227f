"""What every command gets: the parsed options, the AWS clients, the pipeline; output helpers."""

from __future__ import annotations

import argparse
import json
from typing import Any, Final

from ._aws import AwsClients, Clients, Target, call, endpoint_url_of, is_local
from ._pipeline import Pipeline

PROG: Final = "mlpipeline"
EXIT_ERROR: Final = 1
#: argparse's status for a command line used wrongly.
EXIT_USAGE: Final = 2
EXIT_NOT_SUCCEEDED: Final = 3
EXIT_INTERRUPTED: Final = 130


class Context:
    """The options of one command line, with clients and the pipeline made on first use."""

    def __init__(self, args: argparse.Namespace, clients: Clients | None) -> None:
        self.args = args
        self._clients = clients
        self._pipeline: Pipeline | None = None

    @property
    def clients(self) -> Clients:
        if self._clients is None:
            self._clients = AwsClients(
                region=self.args.region,
                profile=self.args.profile,
                endpoint_url=self.args.endpoint_url,
            )
        if self.args.state_machine_arn:
            self._clients.use_region_of(self.args.state_machine_arn)
        return self._clients

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    def target(self) -> Target:
        """Where the calls went (or were to go), for error messages; makes no client."""
        region = self._clients.region if self._clients is not None else None
        return Target(
            endpoint_url_of(getattr(self.args, "endpoint_url", None)),
            region or getattr(self.args, "region", None),
        )

    def call(self, service: str, method: str, **request: Any) -> Any:
        """One AWS call; the errors a command expects become one-line messages (``_aws``)."""
        return call(self.client(service), method, **request)

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = Pipeline(
                self.clients,
                stack_name=self.args.stack_name,
                state_machine_arn=self.args.state_machine_arn,
                local=is_local(endpoint_url_of(self.args.endpoint_url)),
            )
        return self._pipeline


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def table(rows: list[list[str]]) -> str:
    """Rows as left-aligned columns, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
