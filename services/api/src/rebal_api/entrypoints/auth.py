"""HTTP Basic with the api's one key and secret, checked on every request but `/health`.

Why a subclass of FastAPI's `HTTPBasic` and not a dependency on it: the OpenAPI document's
security scheme comes from this object (name `HTTPBasic`, realm, description), and a plain
`def` dependency runs in anyio's worker thread, a thread hop per request that cost more than the
whole rest of a portfolio read. This one is async and, in the common case, one constant-time
comparison of the `Authorization` header against the header the api's own key and secret make
(computed once). Any other header (another spelling of the scheme, other credentials) is parsed
and both parts compared, always both, so the time taken says nothing about which one was wrong.
"""

from __future__ import annotations

import base64
import secrets

from fastapi.security import HTTPBasic
from starlette.requests import HTTPConnection

from rebal_api.service_layer.errors import Unauthorized

SCHEME_NAME = "HTTPBasic"  # the name the OpenAPI document has always used


class ApiKeyAuth(HTTPBasic):
    def __init__(self, key: str, secret: str) -> None:
        super().__init__(
            scheme_name=SCHEME_NAME,
            realm="rebal",
            description="API key and secret",
            auto_error=False,
        )
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        self._header = f"Basic {token}".encode()
        self._key, self._secret = key.encode(), secret.encode()

    async def __call__(self, request: HTTPConnection) -> None:
        header = request.headers.get("authorization")
        if header is not None and secrets.compare_digest(header.encode(), self._header):
            return
        credentials = await super().__call__(request)  # 401 for a header that is not Basic
        good = credentials is not None
        if credentials is not None:
            good_key = secrets.compare_digest(credentials.username.encode(), self._key)
            good_secret = secrets.compare_digest(credentials.password.encode(), self._secret)
            good = good_key and good_secret
        if not good:
            raise Unauthorized("request is not authorized: HTTP Basic with the api key and secret")
