"""SASL / TLS options for FastStream and aiokafka from the settings (PLAINTEXT by default).

On a secured broker each service authenticates as its own principal (docs/design.md §4, "Who may write
what"; the ACLs: `rebal_runtime.topic_acl`): `REBAL_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT` (or
`SASL_SSL`), `REBAL_KAFKA_SASL_MECHANISM=SCRAM-SHA-512`, `REBAL_KAFKA_SASL_USERNAME` and
`REBAL_KAFKA_SASL_PASSWORD`. A SASL protocol without a user or password fails here, at start,
rather than as an authentication error later.
"""

from __future__ import annotations

import ssl
from typing import Any

from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from rebal_runtime.settings import RuntimeSettings


def _ssl_context(settings: RuntimeSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.kafka.ssl_cafile)


class KafkaCredentialsMissing(ValueError):
    """A SASL protocol is configured without the user or the password to authenticate with."""


def _sasl_credentials(settings: RuntimeSettings) -> tuple[str, str]:
    user = settings.kafka.sasl_username
    password = (
        settings.kafka.sasl_password.get_secret_value() if settings.kafka.sasl_password else ""
    )
    if not user or not password:
        raise KafkaCredentialsMissing(
            f"REBAL_KAFKA_SECURITY_PROTOCOL={settings.kafka.security_protocol} needs "
            "REBAL_KAFKA_SASL_USERNAME and REBAL_KAFKA_SASL_PASSWORD (the service's principal)"
        )
    return user, password


def sasl_env(
    username: str,
    password: str,
    *,
    mechanism: str = "SCRAM-SHA-512",
    protocol: str = "SASL_PLAINTEXT",
) -> dict[str, str]:
    """The environment a rebal process needs to authenticate as `username` (a child's env)."""
    return {
        "REBAL_KAFKA_SECURITY_PROTOCOL": protocol,
        "REBAL_KAFKA_SASL_MECHANISM": mechanism,
        "REBAL_KAFKA_SASL_USERNAME": username,
        "REBAL_KAFKA_SASL_PASSWORD": password,
    }


def faststream_security(settings: RuntimeSettings) -> BaseSecurity | None:
    protocol = settings.kafka.security_protocol
    if protocol == "PLAINTEXT":
        return None
    use_ssl = protocol in ("SSL", "SASL_SSL")
    context = _ssl_context(settings) if use_ssl else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    user, password = _sasl_credentials(settings)
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}[
        settings.kafka.sasl_mechanism
    ]
    return kind(username=user, password=password, ssl_context=context, use_ssl=use_ssl)


def aiokafka_security(settings: RuntimeSettings) -> dict[str, Any]:
    protocol = settings.kafka.security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(settings)
    if protocol.startswith("SASL"):
        user, password = _sasl_credentials(settings)
        options["sasl_mechanism"] = settings.kafka.sasl_mechanism
        options["sasl_plain_username"] = user
        options["sasl_plain_password"] = password
    return options
