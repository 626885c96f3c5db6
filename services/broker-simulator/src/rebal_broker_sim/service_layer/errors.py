"""Refusals the simulator answers with, shaped like Alpaca's errors: {"code", "message"}."""

from __future__ import annotations


class BrokerError(Exception):
    http_status = 500
    code = 50010000

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedRequest(BrokerError):
    http_status = 400
    code = 40010000


class Unauthorized(BrokerError):
    http_status = 401
    code = 40110000
    challenge = 'Basic realm="broker-sim"'
    """The `WWW-Authenticate` header of the answer: how to authenticate."""


class AdminUnauthorized(Unauthorized):
    """An /admin/* request without the admin token (the trading keys do not open them)."""

    challenge = 'Bearer realm="broker-sim-admin"'


class InsufficientBuyingPower(BrokerError):
    http_status = 403
    code = 40310000


class OrderNotFound(BrokerError):
    http_status = 404
    code = 40410000


class UnprocessableRequest(BrokerError):
    http_status = 422
    code = 42210000


class DuplicateClientOrderId(UnprocessableRequest):
    def __init__(self) -> None:
        super().__init__("client_order_id must be unique")


class OrderNotCancelable(UnprocessableRequest):
    pass


class RateLimitExceeded(BrokerError):
    """429 with a `Retry-After` (whole seconds, as HTTP's delta-seconds): the request was not
    processed."""

    http_status = 429
    code = 42910000

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("rate limit exceeded")
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(BrokerError):
    http_status = 503
    code = 50310000
