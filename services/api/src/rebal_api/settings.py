"""The api's settings: the runtime's (prefix `REBAL_`) plus its HTTP side."""

from __future__ import annotations

from pydantic import Field, SecretStr

from rebal_runtime.settings import RuntimeSettings


class ApiSettings(RuntimeSettings):
    service_name: str = Field(
        "api", description="Consumer group id, `producer` of events, log field."
    )
    api_key: SecretStr | None = Field(
        None,
        description="HTTP Basic user of every request (Alpaca's API key; env `REBAL_API_KEY`; "
        "never logged). Required to serve: `python -m rebal_api` refuses to start without it.",
    )
    api_secret: SecretStr | None = Field(
        None,
        description="HTTP Basic password (Alpaca's API secret; env `REBAL_API_SECRET`; never "
        "logged). Required to serve, like `api_key`.",
    )
    http_host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    http_port: int = Field(
        8000, ge=0, le=65535, description="Port of the HTTP server; 0 picks a free one."
    )
    stream_poll_seconds: float = Field(
        0.5,
        gt=0,
        description="How often an open `GET /v2/events/rebalancer` looks for new entries.",
    )

    def credentials(self) -> tuple[str, str]:
        """Key and secret, or a `ValueError` saying which is missing."""
        missing = [
            name
            for name, value in (
                ("REBAL_API_KEY", self.api_key),
                ("REBAL_API_SECRET", self.api_secret),
            )
            if value is None or not value.get_secret_value()
        ]
        if missing:
            raise ValueError(
                f"{' and '.join(missing)} must be set: the api serves no anonymous request"
            )
        assert self.api_key is not None
        assert self.api_secret is not None
        return self.api_key.get_secret_value(), self.api_secret.get_secret_value()
