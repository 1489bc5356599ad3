"""The fault matrix: every STS fault in every cache situation, through a real client.

Each cell runs an ``AssumeRoleProvider`` with MFA (a token provider that hands
out a new code per prompt) over a real aiobotocore STS client, with botocore's
standard retries set explicitly (``total_max_attempts=3``), against moto behind
the fault proxy. An injected clock puts the cache in one of four situations:
no cached credentials, advisory window, expiry window, expired. Then:

1. with the fault on, one call: what the caller gets, and how many STS attempts
   (retries included) and prompts it took;
2. at once, a second call: the backoff (or the error cache) keeps STS alone,
   except with nothing cached, where the call after a first failure retries at
   once (and a second failure sets a backoff);
3. fault off, clock just short of the end of the backoff: still no call;
4. clock at the end of the backoff: one call, new credentials.

Logs are captured at DEBUG and must name the failure but hold no secret. The
run writes the matrix into docs/reliability.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.lowlevel
import botocore.exceptions
import botocore.parsers
import pytest

from aiostscreds import (
    AssumeRoleProvider,
    Credentials,
    CredentialsExpiredError,
    RefreshError,
)

from .conftest import MFA_SERIAL, ROLE_ARN
from .fakes import T0, FakeClock
from .fault_proxy import FAULTS, FaultProxy
from .reliability_doc import check_or_write, table

pytestmark = pytest.mark.anyio

SITUATIONS = ("none", "advisory", "expiry", "expired")
SITUATION_TITLES = {
    "none": "no cached credentials",
    "advisory": "advisory window",
    "expiry": "expiry window",
    "expired": "expired",
}
MATRIX_FAULTS = (*FAULTS, "code-reused")
RETRIED = frozenset(
    {"throttle", "500-xml", "500-html", "500-empty", "503-xml", "503-html", "503-empty"}
    | {"reset", "close", "slow"}
)
DENIED = frozenset({"access-denied", "code-reused"})
MAX_ATTEMPTS = 3
READ_TIMEOUT = 0.5  # for the "slow" row only; the proxy stalls for 1.5 s
FAULT_TITLES = {
    "throttle": "400 Throttling",
    "500-xml": "500, XML body",
    "500-html": "500, HTML body",
    "500-empty": "500, empty body",
    "503-xml": "503, XML body",
    "503-html": "503, HTML body",
    "503-empty": "503, empty body",
    "reset": "connection reset",
    "close": "closed without response",
    "slow": "slower than the read timeout",
    "malformed": "200, malformed XML",
    "no-credentials": "200 without Credentials",
    "expired": "Expiration already past",
    "access-denied": "403 AccessDenied (wrong MFA code)",
    "bad-expiration": "200, Expiration botocore cannot read (`1e20`)",
    "code-reused": "403 AccessDenied (TOTP code already used)",
}


_next_code = [200000]  # codes are never reused within the run, as with a real device


class Tokens:
    """An async token provider: a new code per prompt, or stuck on the last one."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.stuck = False

    @staticmethod
    def upcoming() -> str:
        """The code the next fresh prompt will answer."""
        return f"{_next_code[0] + 7:06d}"

    async def __call__(self, serial_number: str) -> str:
        if self.stuck and self.codes:
            code = self.codes[-1]
        else:
            _next_code[0] += 7
            code = f"{_next_code[0]:06d}"
        self.codes.append(code)
        return code


@dataclass
class Cell:
    fault: str
    situation: str
    backend: str
    outcome: str = ""
    attempts: int = 0
    prompts: int = 0
    retry_sleeps: int = 0
    second_attempts: int = 0
    pause: float = 0.0
    recovered: bool = False
    notes: list[str] = field(default_factory=list)


RESULTS: dict[tuple[str, str, str], Cell] = {}


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry delays, recorded and skipped so the matrix runs fast."""
    import aiobotocore.endpoint

    delays: list[float] = []

    async def no_wait(self: Any, amount: float) -> None:
        delays.append(amount)
        await anyio.lowlevel.checkpoint()

    for name in ("AioEndpoint", "AnyioEndpoint"):
        cls = getattr(aiobotocore.endpoint, name, None)
        if cls is not None and "_sleep" in vars(cls):
            monkeypatch.setattr(cls, "_sleep", no_wait)
    return delays


# The backoff figures are random draws: "1.2 s", "0.9-1.1 s".
VOLATILE = r"[0-9]+\.[0-9](?:-[0-9]+\.[0-9])? s"


@pytest.fixture(scope="module", autouse=True)
def matrix_on_the_reliability_page() -> Iterator[None]:
    """Once the whole matrix ran: docs/reliability.md states it (see tests/reliability_doc.py)."""
    yield
    expected = {(f, s, b) for f in MATRIX_FAULTS for s in SITUATIONS for b in ("asyncio", "trio")}
    if expected <= RESULTS.keys():
        check_or_write("fault-matrix", render(RESULTS), VOLATILE)


def describe(result: object) -> str:
    if isinstance(result, Credentials):
        return "credentials"
    if isinstance(result, CredentialsExpiredError):
        cause = result.__cause__
        return f"CredentialsExpiredError ← {describe(cause)}"
    if isinstance(result, RefreshError):
        code = result.code or type(result.__cause__).__name__
        if "without complete Credentials" in str(result):
            code = "incomplete response"
        elif "expired at" in str(result):
            code = "already expired"
        elif "could not parse" in str(result):
            code = "unparseable response"
        kind = "recoverable" if result.recoverable else "not recoverable"
        return f"RefreshError({code}, {kind})"
    return type(result).__name__


async def outcome_of(provider: AssumeRoleProvider) -> object:
    try:
        return await provider.get_credentials()
    except Exception as error:
        return error


def check_cause(fault: str, error: RefreshError) -> None:
    """The RefreshError names the failure and chains what botocore raised."""
    cause = error.__cause__
    if fault == "throttle":
        assert isinstance(cause, botocore.exceptions.ClientError)
        assert error.code == "Throttling"
    elif fault in ("500-xml", "503-xml"):
        assert isinstance(cause, botocore.exceptions.ClientError)
        assert error.code == ("InternalFailure" if fault == "500-xml" else "ServiceUnavailable")
    elif fault.startswith(("500-", "503-")):
        assert isinstance(cause, botocore.exceptions.ClientError)
        assert error.code == fault[:3]  # botocore's code for a body it cannot read
    elif fault in ("reset", "close"):
        # aiohttp reports these as connection errors, httpx as HTTP client errors.
        assert isinstance(
            cause, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
        )
        assert error.code is None
    elif fault == "slow":
        assert isinstance(cause, botocore.exceptions.ReadTimeoutError)
    elif fault == "malformed":
        assert isinstance(cause, botocore.parsers.ResponseParserError)
    elif fault == "no-credentials":
        assert cause is None
        assert "without complete Credentials" in str(error)
    elif fault == "expired":
        assert cause is None
        assert "expired at" in str(error)
    elif fault == "bad-expiration":
        assert isinstance(cause, (RuntimeError, OverflowError, ValueError))
        assert "could not parse" in str(error)
    elif fault in DENIED:
        assert isinstance(cause, botocore.exceptions.ClientError)
        assert error.code == "AccessDenied"
    else:  # pragma: no cover
        raise AssertionError(fault)
    assert ROLE_ARN in str(error)


@pytest.fixture(scope="module")
def shared_session() -> Any:
    """One botocore session for the module: a client per test costs less from it."""
    from aiobotocore.session import AioSession

    return AioSession()


@pytest.mark.parametrize("fault", MATRIX_FAULTS)
async def test_fault_in_every_situation(
    fault: str,
    backend_name: str,
    fault_proxy: FaultProxy,
    shared_session: Any,
    client_config: Any,
    retry_sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiostscreds")
    fault_proxy.reject_reused_codes = True
    fault_proxy.slow_seconds = 1.5
    retries = type(client_config)(
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        read_timeout=READ_TIMEOUT if fault == "slow" else 10,
        connect_timeout=5,
    )
    async with shared_session.create_client(
        "sts", endpoint_url=fault_proxy.url, config=client_config.merge(retries)
    ) as client:
        for situation in SITUATIONS:
            caplog.clear()
            retry_sleeps.clear()
            cell = await run_cell(fault, situation, client, fault_proxy, retry_sleeps, caplog)
            RESULTS[fault, situation, backend_name] = cell


async def run_cell(
    fault: str,
    situation: str,
    client: Any,
    fault_proxy: FaultProxy,
    retry_sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> Cell:
    cell = Cell(fault, situation, "")
    clock = FakeClock(T0)
    fault_proxy.clock = clock
    tokens = Tokens()
    provider = AssumeRoleProvider(
        client,
        ROLE_ARN,
        role_session_name="fault-matrix",
        serial_number=MFA_SERIAL,
        token_provider=tokens,
        clock=clock,
    )
    cache = provider

    # The situation.
    held: Credentials | None = None
    if situation != "none":
        held = await provider.get_credentials()
        assert held.expires_at == pytest.approx(clock() + 900, abs=0.01)
        clock.now = {
            "advisory": held.expires_at - 290,  # advisory window: the last 300 s
            "expiry": held.expires_at - 50,  # expiry window: the last 60 s
            "expired": held.expires_at + 10,
        }[situation]
    start_calls, start_prompts = len(fault_proxy.credential_calls()), len(tokens.codes)

    # 1. The fault, once.
    if fault == "code-reused":
        tokens.stuck = True
        if held is None:  # another process used the code first
            fault_proxy.mark_used(MFA_SERIAL, tokens.upcoming())
    else:
        fault_proxy.fail(fault)
    first = await outcome_of(provider)
    calls = fault_proxy.credential_calls()[start_calls:]
    cell.attempts = len(calls)
    cell.prompts = len(tokens.codes) - start_prompts
    cell.retry_sleeps = len(retry_sleeps)
    cell.outcome = describe(first)

    expected_attempts = MAX_ATTEMPTS if fault in RETRIED else 1
    assert cell.attempts == expected_attempts, situation
    assert cell.prompts == 1  # one prompt per refresh, whatever botocore retries
    assert {c.token_code for c in calls} == {tokens.codes[-1]}  # retries resend the code
    assert {c.serial_number for c in calls} == {MFA_SERIAL}
    assert cell.retry_sleeps == expected_attempts - 1  # botocore backed off between tries
    if fault == "throttle":
        assert all(0 <= d <= 2**i for i, d in enumerate(retry_sleeps))

    if fault in DENIED and situation != "advisory":
        assert isinstance(first, RefreshError) and not first.recoverable, situation
        check_cause(fault, first)
    elif situation == "none":
        assert isinstance(first, RefreshError) and first.recoverable
        check_cause(fault, first)
    elif situation in ("advisory", "expiry"):
        # Still valid: the caller never sees the failure (in the advisory window,
        # not even a non-recoverable one).
        assert first is held, situation
    else:
        assert isinstance(first, CredentialsExpiredError)
        assert isinstance(first.__cause__, RefreshError) and first.__cause__.recoverable
        check_cause(fault, first.__cause__)

    # The pause the cache chose, read from its state.
    now = clock()
    if fault in DENIED:
        resume = cache._error_until
        assert 1 <= resume - now <= 5  # the error cache, 1-5 s
    elif held is None:
        resume = now  # nothing cached: the call after a first failure tries at once
    else:
        resume = cache._backoff_until
        pause = resume - now
        if situation == "advisory":
            assert 0 < pause <= held.expires_at - 60 - now  # ends before the expiry window
        elif situation == "expiry":
            assert 0 < pause <= (held.expires_at - now) / 2  # leaves a try before expiry
        else:
            assert 0 < pause <= 30
    cell.pause = resume - now

    # 2. At once, again: the backoff or the error cache keeps STS alone.
    calls_before = len(fault_proxy.credential_calls())
    second = await outcome_of(provider)
    cell.second_attempts = len(fault_proxy.credential_calls()) - calls_before
    if fault in DENIED:
        assert cell.second_attempts == 0
        if situation == "advisory":
            assert second is held
        else:
            assert isinstance(second, RefreshError) and second.code == "AccessDenied"
    elif held is None:
        assert cell.second_attempts == expected_attempts  # tries again at once
        assert isinstance(second, RefreshError)
        # The second failure in a row sets a backoff: 0.5-1 s.
        resume = cache._backoff_until
        assert 0.5 <= resume - clock() <= 1
        cell.pause = resume - clock()
        calls_before = len(fault_proxy.credential_calls())
        assert isinstance(await outcome_of(provider), RefreshError)
        assert len(fault_proxy.credential_calls()) == calls_before
    elif situation == "expired":
        assert cell.second_attempts == 0
        assert isinstance(second, CredentialsExpiredError)
    else:
        assert cell.second_attempts == 0
        assert second is held

    # 3. The fault is gone, but the backoff is not over yet.
    fault_proxy.fail(None)
    tokens.stuck = False
    if resume - 0.01 > clock():
        clock.now = resume - 0.01
        calls_before = len(fault_proxy.credential_calls())
        await outcome_of(provider)
        assert len(fault_proxy.credential_calls()) == calls_before

    # 4. The backoff is over: one call, new credentials.
    clock.now = max(clock.now, resume)
    calls_before = len(fault_proxy.credential_calls())
    recovered = await provider.get_credentials()
    assert len(fault_proxy.credential_calls()) - calls_before == 1
    assert held is None or recovered.access_key_id != held.access_key_id
    assert recovered.expires_at > clock()
    cell.recovered = True

    # The logs name each failure, and hold nothing secret.
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("aiostscreds")]
    assert any("credential refresh failed" in m for m in messages)
    secrets = {recovered.secret_access_key, recovered.session_token}
    if held is not None:
        secrets |= {held.secret_access_key, held.session_token}
    for message in messages:
        for secret in secrets:
            assert secret not in message
        for code in tokens.codes:
            assert code not in message
    return cell


def render(results: dict[tuple[str, str, str], Cell]) -> str:
    """The matrix as Markdown: one row per fault, one column per situation."""

    def cell_text(fault: str, situation: str) -> str:
        cells = [results[fault, situation, backend] for backend in ("asyncio", "trio")]
        outcomes = [cell.outcome for cell in cells]
        if outcomes[0] == outcomes[1]:
            text = outcomes[0]
        else:
            text = f"{outcomes[0]} (aiohttp) / {outcomes[1]} (httpx)"
        low = min(cell.pause for cell in cells)
        high = max(cell.pause for cell in cells)
        span = f"{low:.1f} s" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f} s"
        if cells[0].second_attempts:
            then = f"the next call tries again at once, then a backoff of {span}"
        elif fault in DENIED and outcomes[0] == "credentials":
            then = f"no new attempt (nor prompt) for {span}"
        elif fault in DENIED:
            then = f"re-raised for {span}"
        else:
            then = f"then a backoff of {span}"
        return f"{text}; {then}"

    rows = []
    for fault in MATRIX_FAULTS:
        attempts = {results[fault, s, b].attempts for s in SITUATIONS for b in ("asyncio", "trio")}
        rows.append(
            [FAULT_TITLES[fault], "/".join(map(str, sorted(attempts)))]
            + [cell_text(fault, s) for s in SITUATIONS]
        )
    header = ["fault", "STS attempts"] + [SITUATION_TITLES[s] for s in SITUATIONS]
    intro = f"""\
### Fault matrix

Measured by `tests/test_fault_matrix.py`: {len(MATRIX_FAULTS)} faults x
{len(SITUATIONS)} situations x 2 backends (asyncio with aiohttp, trio with httpx),
every cell through a real aiobotocore STS client (`retries={{"mode": "standard",
"total_max_attempts": {MAX_ATTEMPTS}}}`) and `AssumeRoleProvider` with MFA, against
moto behind the fault proxy. The default `RefreshPolicy`; 15-minute credentials.

- *STS attempts*: requests the proxy saw for the one faulted refresh, botocore's
  retries included. Every attempt of one refresh carried the same TokenCode, and
  each refresh asked the token provider exactly once.
- Each cell: what the caller got; then what the cache did about the next call
  (the backoff times are random draws, from the run that wrote this page). In
  every cell, once the fault was gone, a call just before the end of the backoff
  made no STS call and a call at its end made one and got new credentials.
- *credentials* means the held, still valid credentials: the caller never saw
  the failure. Every failure was logged at WARNING, and no log record held a
  secret key, a session token or an MFA code.
"""
    return intro + "\n" + table(header, rows)
