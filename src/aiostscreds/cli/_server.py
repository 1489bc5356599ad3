"""``aiostscreds serve``: the ECS container-credentials protocol, on loopback only.

Every AWS SDK reads ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
``AWS_CONTAINER_AUTHORIZATION_TOKEN``, sends the token in the
``Authorization`` header, and accepts plain http to loopback. Answers come
from the profile's single-flight cache: however many clients ask at once,
one STS call and one MFA prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hmac
import ipaddress
import json
import logging
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from .._credentials import Credentials
from .._errors import ConfigurationError, CredentialsError

__all__ = ["credential_server", "loopback_host", "run_serve"]

log = logging.getLogger("aiostscreds")

CredentialsGetter = Callable[[], Awaitable[Credentials]]
Metrics = Callable[[], tuple[bytes, str]]
"""Returns the metrics page and its content type."""

_SHUTDOWN_GRACE = 1.0
"""Seconds a request in flight gets to finish at shutdown, then as long to unwind."""


def loopback_host(host: str) -> str:
    """``host`` if it is a loopback IP address; the credentials must not leave the machine.

    Raises:
        ConfigurationError: Any other host (SDKs accept plain http to loopback only).
    """
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ConfigurationError(
            f"--host must be a loopback IP address such as 127.0.0.1 or ::1 (got {host!r})"
        ) from None
    if not address.is_loopback:
        raise ConfigurationError(
            f"--host must be a loopback address: the credentials must not leave this "
            f"machine, and SDKs accept plain http to loopback only (got {host!r})"
        )
    return str(address)


def _answer(credentials: Credentials) -> dict[str, str]:
    expiration = credentials.expiration.astimezone(dt.timezone.utc)
    return {
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "Token": credentials.session_token,
        "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def make_app(
    get_credentials: CredentialsGetter, token: str, *, metrics: Metrics | None = None
) -> web.Application:
    """An ``aiohttp.web`` application that answers with ``get_credentials()``.

    A request without an ``Authorization`` header gets 401, one with another
    value 403 (compared in constant time); neither gets a body. With
    ``metrics``, ``GET /metrics`` (with the token too) answers with its page.
    """
    expected = token.encode()
    # The last answer's body, kept while the credentials are the same object:
    # the hot path then does what a constant-JSON handler does.
    last: list[Any] = [None, b""]

    async def credentials(request: web.Request) -> web.StreamResponse:
        given = request.headers.get("Authorization")
        if given is None:
            return web.Response(status=401)
        # aiohttp decodes header bytes that are not UTF-8 as surrogates: encode them
        # back as they came, so that they compare unequal instead of failing with 500.
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected):
            return web.Response(status=403)
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=404)
        if request.path == "/metrics" and metrics is not None:
            body, content_type = metrics()
            return web.Response(body=body, headers={"Content-Type": content_type})
        if request.path != "/":
            return web.Response(status=404)
        try:
            answer = await get_credentials()
        except CredentialsError as error:
            log.warning("could not serve credentials: %s", error)
            return web.json_response(
                {"code": type(error).__name__, "message": str(error)}, status=502
            )
        if answer is not last[0]:
            last[:] = [answer, json.dumps(_answer(answer)).encode()]
        return web.Response(body=last[1], content_type="application/json")

    app = web.Application()
    # Every method and path: a request without the token learns nothing, not even
    # which paths exist (aiohttp would answer 404 or 405 with a body).
    app.router.add_route("*", "/{path:.*}", credentials)
    return app


@contextlib.asynccontextmanager
async def credential_server(
    get_credentials: CredentialsGetter,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    metrics: Metrics | None = None,
) -> AsyncIterator[dict[str, str]]:
    """Serve on loopback for the block; yields the two environment variables SDKs need.

    With ``metrics``, ``GET /metrics`` answers with its page as well.
    """
    host = loopback_host(host)
    token = secrets.token_urlsafe(32)
    # aiohttp's default waits up to 2 x 60 s for requests in flight at shutdown; one
    # can be waiting for an MFA prompt nobody answers, and SIGTERM must end `serve`.
    runner = web.AppRunner(
        make_app(get_credentials, token, metrics=metrics),
        access_log=None,
        shutdown_timeout=_SHUTDOWN_GRACE,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            netloc = f"[{host}]" if ":" in host else host
            raise ConfigurationError(
                f"cannot listen on {netloc}:{port}: {error.strerror or type(error).__name__}"
            ) from error
        bound_port = runner.addresses[0][1]
        netloc = f"[{host}]" if ":" in host else host
        yield {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://{netloc}:{bound_port}/",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
        }
    finally:
        await runner.cleanup()


async def _serve(args: argparse.Namespace) -> int:
    from ._profile import open_profile

    host = loopback_host(args.host)  # before any prompt
    metrics = prometheus_metrics() if getattr(args, "metrics", False) else None
    chain = open_profile(args.profile, cache=args.cache, mfa_session=args.mfa_session)
    try:
        # Bind first: a port in use fails before anyone types a code or STS is called.
        async with credential_server(
            chain.top.get, host=host, port=args.port, metrics=metrics
        ) as env:
            await chain.top.get()  # prompt now, in this terminal, not mid-request
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            for name, value in env.items():
                print(f"export {name}={value}")
            sys.stdout.flush()
            await stop.wait()
    finally:
        await chain.aclose()
    return 0


def prometheus_metrics() -> Metrics:
    """Add a :class:`PrometheusHook` to the process-wide hooks; its registry's page.

    Raises:
        ConfigurationError: prometheus-client is not installed.
    """
    from ..instrumentation import PrometheusHook, get_hooks, set_hooks

    try:
        import prometheus_client
    except ImportError:
        raise ConfigurationError(
            "--metrics needs prometheus-client: pip install 'aiostscreds[prometheus]'"
        ) from None
    registry = prometheus_client.CollectorRegistry()
    set_hooks([*get_hooks(), PrometheusHook(registry)])

    def page() -> tuple[bytes, str]:
        return prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST

    return page


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM, then close every connection and exit 0."""
    return asyncio.run(_serve(args))
