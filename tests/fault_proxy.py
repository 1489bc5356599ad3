"""A fault-injecting STS proxy on loopback, in front of moto's server.

The proxy is an aiohttp server bound to 127.0.0.1 that runs on an asyncio loop
of its own, in a thread of its own, so tests on asyncio and on trio can both
talk to it. It relays every request to moto and, when told to, answers STS's
credential calls (AssumeRole, GetSessionToken) with a fault instead:

========================  =====================================================
``throttle``              400 ``Throttling`` (XML error body)
``500-xml``/``503-xml``   500 ``InternalFailure`` / 503 ``ServiceUnavailable``
``500-html``/``503-html`` 500 / 503 with an HTML page
``500-empty``/``503-...`` 500 / 503 with an empty body
``reset``                 the connection is reset (RST), no response
``close``                 the connection is closed (FIN), no response
``slow``                  no answer for ``slow_seconds`` (past the read timeout)
``malformed``             200 with truncated XML
``no-credentials``        200 with a well-formed answer without ``<Credentials>``
``expired``               moto's answer with an Expiration already past
``bad-expiration``        moto's answer with ``bad_expiration`` as its Expiration
``access-denied``         403 ``AccessDenied``, as for a wrong MFA code
========================  =====================================================

Injected faults happen in front of STS: the request never reaches moto, so an
MFA code in it is not consumed.

It also plays the parts of STS that moto leaves out:

- with ``reject_reused_codes`` it answers ``AccessDenied`` to a TokenCode that
  already served a successful call for the same SerialNumber, as STS does;
- with a TOTP secret registered for a serial (``mfa_device``), it checks codes
  against the proxy's clock;
- with ``clock`` set, it rewrites each Expiration onto that (simulated)
  timeline: ``clock() + DurationSeconds``, and the HTTP ``Date`` header of
  credential responses to ``clock()``;
- with ``reject_expired_keys``, it refuses every request signed with an access
  key whose Expiration (learned from the credential responses it relayed) is
  past on its clock, with 400 ``ExpiredToken``.

It counts requests and records, per request, the action, SerialNumber,
TokenCode, signing access key, the fault applied and the HTTP status.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

FAULTS = (
    "throttle",
    "500-xml",
    "500-html",
    "500-empty",
    "503-xml",
    "503-html",
    "503-empty",
    "reset",
    "close",
    "slow",
    "malformed",
    "no-credentials",
    "expired",
    "access-denied",
    "bad-expiration",
)

CREDENTIAL_ACTIONS = frozenset({"AssumeRole", "GetSessionToken"})

_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")
_EXPIRATION = re.compile(rb"<Expiration>[^<]*</Expiration>")
_ACCESS_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
_SECRET = re.compile(rb"<SecretAccessKey>([^<]+)</SecretAccessKey>")
_TOKEN = re.compile(rb"<SessionToken>([^<]+)</SessionToken>")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-authenticate",
    }
)

WRONG_CODE_MESSAGE = "MultiFactorAuthentication failed with invalid MFA one time pass code."
USED_CODE_MESSAGE = "MultiFactorAuthentication failed, MFA one time pass code already used."


def error_body(code: str, message: str, *, sender: bool = True) -> bytes:
    kind = "Sender" if sender else "Receiver"
    return (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>fault-proxy</RequestId>"
        "</ErrorResponse>"
    ).encode()


def _iso(epoch: float) -> bytes:
    moment = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3].encode() + b"Z"


@dataclass
class Seen:
    """One request as the proxy saw it."""

    action: str
    serial_number: str | None
    token_code: str | None
    access_key: str | None
    fault: str | None
    at: float
    status: int | None = None


class FaultProxy:
    """The proxy. ``start()`` it once; ``reset()`` it before each test."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.reset()

    # Configuration, per test -------------------------------------------------------

    def reset(self) -> None:
        """Forget faults, MFA state, learned keys and records."""
        with self._lock:
            self._script: deque[str | None] = deque()
            self._fault: str | None = None
            self.chooser: Callable[[Seen], str | None] | None = None
            self.slow_seconds = 1.5
            self.bad_expiration = b"1e20"
            self.clock: Callable[[], float] | None = None
            self.reject_reused_codes = False
            self.reject_expired_keys = False
            self.totp_secrets: dict[str, str] = {}
            self.used_codes: dict[str, set[str]] = {}
            self.key_expiry: dict[str, float] = {}
            self.requests: list[Seen] = []
            self.rejected_expired: list[Seen] = []
            self.relayed_secrets: set[str] = set()

    def fail(self, fault: str | None, *, times: int | None = None) -> None:
        """Answer credential calls with ``fault``: the next ``times`` ones, or all."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            if times is None:
                self._script.clear()
                self._fault = fault
            else:
                self._script.extend([fault] * times)

    def mfa_device(self, serial_number: str, secret: str) -> None:
        """Check TOTP codes for ``serial_number`` against ``secret`` on the proxy's clock."""
        with self._lock:
            self.totp_secrets[serial_number] = secret

    def mark_used(self, serial_number: str, code: str) -> None:
        """Count ``code`` as already used for ``serial_number``."""
        with self._lock:
            self.used_codes.setdefault(serial_number, set()).add(code)

    # Records ------------------------------------------------------------------------

    def calls(self, *actions: str) -> list[Seen]:
        """The requests seen, optionally only those for ``actions``."""
        with self._lock:
            return [seen for seen in self.requests if not actions or seen.action in actions]

    def credential_calls(self) -> list[Seen]:
        """The AssumeRole and GetSessionToken requests seen."""
        return self.calls(*CREDENTIAL_ACTIONS)

    def now(self) -> float:
        """The proxy's clock: ``clock`` if set, else real time."""
        clock = self.clock
        return clock() if clock is not None else time.time()

    # Lifecycle -------------------------------------------------------------------

    def start(self) -> str:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as error:  # pragma: no cover - start-up failure
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            asyncio.set_event_loop(loop)
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self.url

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    async def _serve(self) -> None:
        self._client = ClientSession(
            connector=TCPConnector(limit=64, force_close=False),
            timeout=ClientTimeout(total=30),
            auto_decompress=False,
        )
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        assert host == "127.0.0.1"
        self.url = f"http://127.0.0.1:{port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    # The handler ------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        fields: dict[str, str] = {}
        if request.method == "POST":
            fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        action = fields.get("Action", "")
        match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
        seen = Seen(
            action=action,
            serial_number=fields.get("SerialNumber"),
            token_code=fields.get("TokenCode"),
            access_key=match.group(1) if match else None,
            fault=None,
            at=self.now(),
        )
        with self._lock:
            self.requests.append(seen)
            expiry = self.key_expiry.get(seen.access_key or "")
            reject_expired = self.reject_expired_keys and expiry is not None
            if action in CREDENTIAL_ACTIONS:
                if self._script:
                    seen.fault = self._script.popleft()
                elif self.chooser is not None:
                    seen.fault = self.chooser(seen)
                else:
                    seen.fault = self._fault
        if reject_expired and expiry is not None and seen.at >= expiry:
            with self._lock:
                self.rejected_expired.append(seen)
            return self._answer(
                seen,
                400,
                error_body("ExpiredToken", "The security token included in the request is expired"),
            )
        if seen.fault is not None and seen.fault not in ("expired", "bad-expiration"):
            return await self._inject(request, seen)
        if action in CREDENTIAL_ACTIONS and seen.serial_number is not None:
            refusal = self._check_mfa(seen)
            if refusal is not None:
                return self._answer(seen, 403, error_body("AccessDenied", refusal))
        return await self._relay(request, body, seen, fields)

    def _check_mfa(self, seen: Seen) -> str | None:
        serial, code = seen.serial_number or "", seen.token_code or ""
        with self._lock:
            if self.reject_reused_codes and code in self.used_codes.get(serial, set()):
                return USED_CODE_MESSAGE
            secret = self.totp_secrets.get(serial)
        if secret is not None:
            import pyotp

            if not pyotp.TOTP(secret).verify(code, for_time=int(seen.at), valid_window=1):
                return WRONG_CODE_MESSAGE
        return None

    def _answer(
        self, seen: Seen, status: int, body: bytes, content_type: str = "text/xml"
    ) -> web.Response:
        seen.status = status
        return web.Response(status=status, body=body, content_type=content_type)

    async def _inject(self, request: web.Request, seen: Seen) -> web.StreamResponse:
        fault = seen.fault
        assert fault is not None
        if fault == "throttle":
            return self._answer(seen, 400, error_body("Throttling", "Rate exceeded"))
        if fault.startswith(("500-", "503-")):
            status = int(fault[:3])
            kind = fault[4:]
            if kind == "xml":
                code = "InternalFailure" if status == 500 else "ServiceUnavailable"
                return self._answer(seen, status, error_body(code, "try again", sender=False))
            if kind == "html":
                page = f"<html><body><h1>{status} Server Error</h1></body></html>".encode()
                return self._answer(seen, status, page, "text/html")
            return self._answer(seen, status, b"")
        if fault in ("reset", "close"):
            transport = request.transport
            if transport is not None:
                sock = transport.get_extra_info("socket")
                if fault == "reset" and sock is not None:
                    # SO_LINGER with a zero timeout turns close() into a RST.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    transport.abort()
                else:
                    transport.close()
            raise asyncio.CancelledError  # nothing more to say on this connection
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
            return self._answer(seen, 503, b"")
        response_name = f"{seen.action}Response"
        if fault == "malformed":
            broken = (
                f'<{response_name} xmlns="{_NS}"><{seen.action}Result><Credentials>'
                "<AccessKeyId>ASIA"
            ).encode()
            return self._answer(seen, 200, broken)
        if fault == "no-credentials":
            empty = (
                f'<{response_name} xmlns="{_NS}"><{seen.action}Result></{seen.action}Result>'
                f"<ResponseMetadata><RequestId>fault-proxy</RequestId></ResponseMetadata>"
                f"</{response_name}>"
            ).encode()
            return self._answer(seen, 200, empty)
        if fault == "access-denied":
            return self._answer(seen, 403, error_body("AccessDenied", WRONG_CODE_MESSAGE))
        raise AssertionError(f"unhandled fault {fault}")

    async def _relay(
        self, request: web.Request, body: bytes, seen: Seen, fields: dict[str, str]
    ) -> web.StreamResponse:
        assert self._client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._client.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            status = upstream.status
            out_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
            }
        if seen.action in CREDENTIAL_ACTIONS and status == 200:
            payload = self._rewrite(payload, seen, fields)
            if self.clock is not None:
                out_headers = {k: v for k, v in out_headers.items() if k.lower() != "date"}
                out_headers["Date"] = email.utils.formatdate(seen.at, usegmt=True)
        seen.status = status
        return web.Response(status=status, body=payload, headers=out_headers)

    def _rewrite(self, payload: bytes, seen: Seen, fields: dict[str, str]) -> bytes:
        now = seen.at
        if seen.fault == "bad-expiration":
            return _EXPIRATION.sub(
                b"<Expiration>" + self.bad_expiration + b"</Expiration>", payload
            )
        if seen.fault == "expired":
            expires = now - 60
        elif self.clock is not None:
            default = 3600 if seen.action == "AssumeRole" else 43200
            expires = now + int(fields.get("DurationSeconds", default))
        else:
            expires = None
        if expires is not None:
            payload = _EXPIRATION.sub(b"<Expiration>" + _iso(expires) + b"</Expiration>", payload)
        key = _ACCESS_KEY.search(payload)
        with self._lock:
            for pattern in (_SECRET, _TOKEN):
                found = pattern.search(payload)
                if found:
                    self.relayed_secrets.add(found.group(1).decode())
            if key is not None and expires is not None:
                self.key_expiry[key.group(1).decode()] = expires
            if seen.serial_number and seen.token_code:
                self.used_codes.setdefault(seen.serial_number, set()).add(seen.token_code)
        return payload


def seeded_chooser(seed: int, rate: float, faults: tuple[str, ...]) -> Callable[[Seen], str | None]:
    """A chooser that faults ``rate`` of the credential calls at random, reproducibly."""
    rng = random.Random(seed)

    def choose(seen: Seen) -> str | None:
        return rng.choice(faults) if rng.random() < rate else None

    return choose


# Fixtures (registered as a plugin from conftest.py) ------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - the proxy itself needs no pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def fault_proxy_server(moto_endpoint: str) -> Iterator[FaultProxy]:
        """One proxy for the session, in front of the session's moto server."""
        proxy = FaultProxy(moto_endpoint)
        proxy.start()
        try:
            yield proxy
        finally:
            proxy.stop()

    @pytest.fixture
    def fault_proxy(fault_proxy_server: FaultProxy) -> Iterator[FaultProxy]:
        """The session's proxy, reset for this test; its codes and secrets go to the hygiene check."""
        from .hygiene import HYGIENE

        fault_proxy_server.reset()
        try:
            yield fault_proxy_server
        finally:
            for seen in fault_proxy_server.calls():
                HYGIENE.note_code(seen.token_code)
            for secret in fault_proxy_server.relayed_secrets:
                HYGIENE.note_secret(secret)
            fault_proxy_server.reset()
