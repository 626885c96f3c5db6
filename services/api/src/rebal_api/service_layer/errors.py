"""Refusals in Alpaca's error shape: `{"code": <status>10000, "message": ...}`."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request refused with `status` (400, 401, 404 or 422) and a message for the client."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> int:
        """Alpaca's numeric code: the HTTP status followed by five digits (`42210000`)."""
        return self.status * 100_000 + 10_000

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class Unprocessable(ApiError):
    status = 422
