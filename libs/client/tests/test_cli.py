from __future__ import annotations

import json

import pytest

from rebal_client.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | str]:  # type: ignore[type-arg]
    code = main(["--dry-run", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def test_model_command_builds_alpaca_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, body = run(
        capsys,
        "model",
        "balanced",
        "--name",
        "Balanced",
        "--weight",
        "cash=5",
        "SPY=60",
        "TLT=35",
        "--drift",
        "absolute=5",
        "relative=20",
        "--calendar",
        "monthly:15",
        "--cooldown-days",
        "7",
    )
    assert code == 0
    assert isinstance(body, dict)
    assert body["event_type"] == "model.updated"
    assert [w["percent"] for w in body["weights"]] == ["5", "60", "35"]
    assert [c["sub_type"] for c in body["rebalance_conditions"]] == [
        "absolute",
        "relative",
        "monthly",
    ]


def test_weights_not_summing_to_100_are_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run(capsys, "model", "m", "--weight", "SPY=60", "TLT=30")
    assert code == 2
    assert "sum to exactly 100" in str(err)


def test_negative_deposit_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "deposit", "pf-1", "-5")
    assert code == 2
    assert "greater than 0" in str(err)


def test_portfolio_settings_only_carry_what_was_given(capsys: pytest.CaptureFixture[str]) -> None:
    code, body = run(
        capsys,
        "portfolio",
        "pf-1",
        "--mandate",
        "ADVISORY",
        "--model",
        "balanced",
        "--no-fractional",
    )
    assert code == 0
    assert isinstance(body, dict)
    assert (body["mandate"], body["model_id"], body["fractional_trading"]) == (
        "ADVISORY",
        "balanced",
        False,
    )
    assert "broker_integration" not in body and "cash_buffer_percent" not in body


def test_withdraw_full_and_decide(capsys: pytest.CaptureFixture[str]) -> None:
    code, body = run(capsys, "withdraw", "pf-1", "--full")
    assert code == 0 and isinstance(body, dict) and body["full"] is True
    code, body = run(capsys, "decide", "pf-1", "O123", "REOPTIMIZE")
    assert code == 0 and isinstance(body, dict) and body["owner_choice"] == "REOPTIMIZE"
