"""``endpoint``'s price table: list prices where known, a clear "price unknown" otherwise."""

from __future__ import annotations

import pytest

from mlpipeline_cli import _endpoint_prices as prices
from mlpipeline_cli._parser import build_parser


def test_the_default_serving_type_costs_its_list_price_per_instance() -> None:
    assert prices.hourly("ml.m5.large", 1, "us-east-1") == 0.115
    assert prices.hourly("ml.m5.large", 3, "us-east-1") == 0.345


def test_a_type_not_in_the_table_has_no_guessed_price() -> None:
    assert prices.hourly("ml.g5.xlarge", 1, "us-east-1") is None
    message = prices.unknown("ml.g5.xlarge", "us-east-1")
    assert message.startswith("price unknown for ml.g5.xlarge")
    assert "ml.m5.large" in message and "aws.amazon.com/sagemaker/pricing" in message


def test_prices_are_for_us_east_1_only() -> None:
    assert prices.hourly("ml.m5.large", 1, "eu-west-1") is None
    assert "for us-east-1 only" in prices.unknown("ml.m5.large", "eu-west-1")


def test_the_endpoint_command_takes_one_of_three_actions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    assert parser.parse_args(["endpoint", "start", "--no-wait"]).no_wait is True
    with pytest.raises(SystemExit):
        parser.parse_args(["endpoint", "restart"])
    assert "invalid choice: 'restart'" in capsys.readouterr().err
