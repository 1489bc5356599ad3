"""A local fake of the two IAM Identity Center endpoints, on 127.0.0.1.

Moto has neither the SSO portal nor SSO-OIDC. This speaks their documented
wire protocol (botocore/data/sso and sso-oidc, rest-json):

* ``GET /federation/credentials?role_name=&account_id=`` with the header
  ``x-amz-sso_bearer_token``: ``{"roleCredentials": {"accessKeyId",
  "secretAccessKey", "sessionToken", "expiration"}}``, ``expiration`` in epoch
  milliseconds.
* ``POST /token`` with a JSON body (``grantType=refresh_token``, ``clientId``,
  ``clientSecret``, ``refreshToken``): ``{"accessToken", "tokenType",
  "expiresIn", "refreshToken"}``.

Errors carry ``x-amzn-ErrorType`` and a JSON body, as the services send them.
It counts calls, serves role credentials that live ``role_lifetime`` seconds,
and can expire, throttle or reject tokens. Clients reach it through
``AWS_ENDPOINT_URL_SSO`` and ``AWS_ENDPOINT_URL_SSO_OIDC``.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
from aiohttp import web

from .hygiene import HYGIENE

ACCOUNT_ID = "123456789012"
ROLE_NAME = "Developer"
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-0123456789"
HYGIENE.note_secret(CLIENT_SECRET)


@attrs.define
class SSOFake:
    """The fake's state. Tests change the knobs and read the counters."""

    role_lifetime: float = 3600
    token_lifetime: float = 8 * 3600
    # Knobs: how many of the next calls fail, and how.
    throttle_role_calls: int = 0
    fail_role_calls: int = 0
    throttle_token_calls: int = 0
    reject_refresh_tokens: bool = False
    # Counters.
    role_calls: int = 0
    token_calls: int = 0
    role_requests: list[dict[str, str]] = attrs.Factory(list)
    # Valid tokens: access token -> expiry (epoch); refresh tokens.
    access_tokens: dict[str, float] = attrs.Factory(dict)
    refresh_tokens: set[str] = attrs.Factory(set)
    issued_keys: list[str] = attrs.Factory(list)
    url: str = ""
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def issue_access_token(self, lifetime: float | None = None) -> tuple[str, float]:
        """A valid access token, as ``aws sso login`` would get; and its expiry."""
        token = "fake-access-" + secrets.token_hex(16)
        HYGIENE.note_secret(token)  # never in the library's logs, errors or reprs
        expires = time.time() + (self.token_lifetime if lifetime is None else lifetime)
        with self.lock:
            self.access_tokens[token] = expires
        return token, expires

    def issue_refresh_token(self) -> str:
        token = "fake-refresh-" + secrets.token_hex(16)
        HYGIENE.note_secret(token)
        with self.lock:
            self.refresh_tokens.add(token)
        return token

    def revoke_all(self) -> None:
        """Every access token is refused from now on (the portal's UnauthorizedException)."""
        with self.lock:
            self.access_tokens.clear()

    # Handlers ----------------------------------------------------------------

    async def get_role_credentials(self, request: web.Request) -> web.Response:
        with self.lock:
            self.role_calls += 1
            self.role_requests.append(dict(request.query))
            if self.throttle_role_calls:
                self.throttle_role_calls -= 1
                return _error(429, "TooManyRequestsException", {"message": "Rate exceeded"})
            if self.fail_role_calls:
                self.fail_role_calls -= 1
                return _error(500, "InternalServerException", {"message": "oops"})
            token = request.headers.get("x-amz-sso_bearer_token", "")
            expires = self.access_tokens.get(token)
            if expires is None or expires <= time.time():
                return _error(
                    401, "UnauthorizedException", {"message": "Session token not found or invalid"}
                )
            if "role_name" not in request.query or "account_id" not in request.query:
                return _error(400, "InvalidRequestException", {"message": "missing"})
            key = "ASIAFAKESSO" + secrets.token_hex(5).upper()
            self.issued_keys.append(key)
        expiration = int((time.time() + self.role_lifetime) * 1000)
        return web.json_response(
            {
                "roleCredentials": {
                    "accessKeyId": key,
                    "secretAccessKey": "fake-sso-secret-" + secrets.token_hex(12),
                    "sessionToken": "fake-sso-session-" + secrets.token_hex(24),
                    "expiration": expiration,
                }
            }
        )

    async def create_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            self.token_calls += 1
            if self.throttle_token_calls:
                self.throttle_token_calls -= 1
                return _error(
                    400, "SlowDownException", {"error": "slow_down", "error_description": "slow"}
                )
            if body.get("grantType") != "refresh_token":
                return _error(
                    400, "UnsupportedGrantTypeException", {"error": "unsupported_grant_type"}
                )
            if body.get("clientId") != CLIENT_ID or body.get("clientSecret") != CLIENT_SECRET:
                return _error(400, "InvalidClientException", {"error": "invalid_client"})
            refresh = body.get("refreshToken")
            if self.reject_refresh_tokens or refresh not in self.refresh_tokens:
                return _error(400, "InvalidGrantException", {"error": "invalid_grant"})
            self.refresh_tokens.discard(refresh)  # rotated, as the real service does
        access, _ = self.issue_access_token()
        return web.json_response(
            {
                "accessToken": access,
                "tokenType": "Bearer",
                "expiresIn": int(self.token_lifetime),
                "refreshToken": self.issue_refresh_token(),
            }
        )


def _error(status: int, kind: str, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status, headers={"x-amzn-ErrorType": kind})


def serve() -> Iterator[SSOFake]:
    """Run a fresh fake in a thread of its own until the generator is closed."""
    fake = SSOFake()
    app = web.Application()
    app.router.add_get("/federation/credentials", fake.get_role_credentials)
    app.router.add_post("/token", fake.create_token)
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            fake.url = f"http://127.0.0.1:{port}"
            ready.set()

        loop.run_until_complete(start())
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="sso-fake", daemon=True)
    thread.start()
    assert ready.wait(10), "the SSO fake did not start"
    try:
        yield fake
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
