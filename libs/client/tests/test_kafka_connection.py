"""`KafkaConnection`: who the client is on Kafka, from the same settings as the services."""

from __future__ import annotations

import pytest

from rebal_client.cli import main
from rebal_client.kafka import KafkaConnection, KafkaCredentialsMissing

SASL = {
    "REBAL_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "REBAL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "REBAL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "REBAL_KAFKA_SASL_USERNAME": "client",
    "REBAL_KAFKA_SASL_PASSWORD": "s3cret-password",
}


def test_plaintext_is_just_the_bootstrap_servers() -> None:
    assert KafkaConnection.of("127.0.0.1:9092").options() == {"bootstrap_servers": "127.0.0.1:9092"}


def test_sasl_from_the_services_environment_names() -> None:
    connection = KafkaConnection.from_env(SASL)
    assert connection.options() == {
        "bootstrap_servers": "kafka:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "client",
        "sasl_plain_password": "s3cret-password",
    }
    assert (
        KafkaConnection.from_env(SASL, bootstrap_servers="other:1").bootstrap_servers == "other:1"
    )


def test_the_password_is_not_in_the_repr() -> None:
    assert "s3cret" not in repr(KafkaConnection.from_env(SASL))


def test_sasl_without_a_password_fails_at_once() -> None:
    with pytest.raises(KafkaCredentialsMissing, match="REBAL_KAFKA_SASL_PASSWORD"):
        KafkaConnection.from_env({**SASL, "REBAL_KAFKA_SASL_PASSWORD": ""})


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="security protocol"):
        KafkaConnection("k:9092", security_protocol="SASL")


def test_ssl_gets_a_context() -> None:
    options = KafkaConnection("k:9093", security_protocol="SSL").options()
    assert options["security_protocol"] == "SSL" and options["ssl_context"] is not None


def test_the_cli_refuses_sasl_without_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {**SASL, "REBAL_KAFKA_SASL_PASSWORD": ""}.items():
        monkeypatch.setenv(name, value)
    assert main(["deposit", "pf-1", "10.00"]) == 2
    assert "REBAL_KAFKA_SASL_PASSWORD" in capsys.readouterr().err
