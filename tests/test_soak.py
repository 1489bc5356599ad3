"""The soak: 1,000 tasks, two simulated hours, 15-minute credentials, 20% of STS faulted.

A bounded run on a simulated clock, against moto with IAM auth switched on:

- 1,000 tasks call ``sts.get_caller_identity()`` through a session that
  ``install()`` made sign with an ``AssumeRoleProvider`` (MFA with a
  ``TOTPTokenProvider``, 15-minute credentials); all of them at once at the
  start, then each again at random, once every 90 simulated minutes on average;
- moto checks every signature and session token (``/moto-api/reset-auth``);
- the fault proxy rejects every request signed with an access key past the
  Expiration that AssumeRole gave it, on the same simulated clock (it rewrites
  each Expiration onto that clock), checks each TOTP code like STS and refuses
  one used twice, and faults 20% of the AssumeRole calls at random (seed
  fixed) with every recoverable fault it has;
- botocore's retries are off on the provider's client (``total_max_attempts=1``),
  so every fault reaches the library.

The simulated clock moves in steps of 15 s; within a step it stands still (but
for a TOTP wait, which moves it to the next 30-s boundary) and each step ends
when every call made in it has returned, so no request is in flight for long in
simulated time, as in life.

It shows: no request rejected for expired credentials (nor by moto), STS calls
within the bound the policy implies (no refresh before the advisory window,
none during a backoff), and every prompt accounted for: one per refresh
attempt, one TokenCode each on the wire, never two open at once. The figures go
to docs/reliability.md.
"""

from __future__ import annotations

import json
import math
import random
import time
import urllib.request
from collections import Counter
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import botocore.exceptions
import pyotp
import pytest

from aiostscreds import (
    AssumeRoleProvider,
    CredentialsError,
    TOTPTokenProvider,
    install,
)

from .fakes import T0, FakeClock
from .fault_proxy import FaultProxy, seeded_chooser
from .reliability_doc import check_or_write, table

pytestmark = pytest.mark.anyio

TASKS = 1000
SIMULATED = 2 * 3600.0
STEP = 15.0
DURATION = 900
ADVISORY = 300  # the policy's window for credentials of 20 minutes or less
EXPIRY_WINDOW = 60
MEAN_INTERVAL = 90 * 60.0  # between one task's calls (exponential: arrivals at random)
FAULT_RATE = 0.2
SEED = 20260501
SOAK_FAULTS = (
    "throttle",
    "500-xml",
    "503-html",
    "503-empty",
    "reset",
    "close",
    "slow",
    "malformed",
    "no-credentials",
    "expired",
)
SERIAL = "arn:aws:iam::123456789012:mfa/soak"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the soak's figures come from one backend; the matrix covers both


def _moto_auth(endpoint: str, value: bytes) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=value,
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


async def _iam_principals(session: Any, endpoint: str) -> tuple[dict[str, str], str]:
    """An IAM user with keys, and a role: moto with auth on only knows those."""
    suffix = str(time.time_ns())
    allow = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    async with session.create_client("iam", endpoint_url=endpoint) as iam:
        user = f"soak-{suffix}"
        await iam.create_user(UserName=user)
        await iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=allow)
        key = (await iam.create_access_key(UserName=user))["AccessKey"]
        role = f"aiostscreds-soak-{suffix}"
        arn = (await iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust))["Role"]["Arn"]
        await iam.put_role_policy(RoleName=role, PolicyName="all", PolicyDocument=allow)
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}, arn


class Prompts:
    """The token provider: TOTP codes on the simulated clock, counted."""

    def __init__(self, secret: str, clock: FakeClock) -> None:
        self.clock = clock
        self.waits = 0
        self.totp = TOTPTokenProvider(secret, clock=clock, sleep=self._sleep)
        self.codes: list[str] = []
        self.open = 0
        self.most_open = 0

    async def _sleep(self, seconds: float) -> None:
        self.waits += 1
        self.clock.advance(seconds)  # a TOTP wait moves simulated time on
        await anyio.lowlevel.checkpoint()

    async def __call__(self, serial_number: str) -> str:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            code = await self.totp(serial_number)
        finally:
            self.open -= 1
        self.codes.append(code)
        return code


async def test_soak(moto_endpoint: str, fault_proxy: FaultProxy, aio_session: Any) -> None:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

    started = time.perf_counter()
    clock = FakeClock(T0)
    source_keys, role_arn = await _iam_principals(aio_session, moto_endpoint)
    secret = pyotp.random_base32()
    fault_proxy.clock = clock
    fault_proxy.reject_expired_keys = True
    fault_proxy.reject_reused_codes = True
    fault_proxy.mfa_device(SERIAL, secret)
    fault_proxy.slow_seconds = 2.5
    fault_proxy.chooser = seeded_chooser(SEED, FAULT_RATE, SOAK_FAULTS)
    prompts = Prompts(secret, clock)

    await anyio.to_thread.run_sync(_moto_auth, moto_endpoint, b"0")
    try:
        async with aio_session.create_client(
            "sts",
            endpoint_url=fault_proxy.url,
            aws_access_key_id=source_keys["AccessKeyId"],
            aws_secret_access_key=source_keys["SecretAccessKey"],
            config=AioConfig(
                retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=1.5
            ),
        ) as source:
            provider = AssumeRoleProvider(
                source,
                role_arn,
                role_session_name="soak",
                duration=DURATION,
                serial_number=SERIAL,
                token_provider=prompts,
                clock=clock,
            )
            attempts = _watch_attempts(provider, clock)
            session = install(AioSession(), provider)
            async with session.create_client(
                "sts",
                endpoint_url=fault_proxy.url,
                config=AioConfig(
                    retries={"mode": "standard", "total_max_attempts": 1},
                    max_pool_connections=20,
                ),
            ) as sts:
                outcomes = await _run(sts, clock)
    finally:
        await anyio.to_thread.run_sync(_moto_auth, moto_endpoint, b"inf")
    real_seconds = time.perf_counter() - started

    # What the proxy saw.
    assume_calls = fault_proxy.calls("AssumeRole")
    identity_calls = fault_proxy.calls("GetCallerIdentity")
    faults = Counter(call.fault for call in assume_calls if call.fault)
    refused = Counter(
        call.status for call in assume_calls if call.fault is None and call.status != 200
    )

    # No request rejected for expired credentials, by the proxy or by moto.
    assert fault_proxy.rejected_expired == []
    assert outcomes["rejected"] == Counter()
    # Each call either reached the proxy, or failed in the library before any request.
    assert sum(outcomes["ok"].values()) + sum(outcomes["rejected"].values()) == len(identity_calls)

    # STS calls within the bound the policy implies.
    successes = [a for a in attempts.log if a["ok"]]
    # Callers saw errors only while no credentials were held yet: the first fetch.
    assert all(float(at) <= successes[0]["done"] - T0 for at in outcomes["library_at"])
    failures = [a for a in attempts.log if not a["ok"]]
    bound = 1 + math.floor(SIMULATED / (DURATION - ADVISORY))
    assert attempts.violations == []  # none before the advisory window, none in a backoff
    assert len(successes) <= bound
    assert len(assume_calls) == len(attempts.log)  # botocore retries are off: one each
    assert len(failures) == sum(faults.values()) + sum(refused.values())
    assert refused == Counter()  # no TOTP code refused: none wrong, none reused

    # Every prompt accounted for.
    wire_codes = [call.token_code for call in assume_calls]
    assert prompts.codes == wire_codes  # one per attempt, each on the wire once, in order
    assert len(set(prompts.codes)) == len(prompts.codes)
    assert prompts.most_open == 1

    figures = {
        "tasks": TASKS,
        "simulated": SIMULATED,
        "identity_calls": len(identity_calls),
        "ok": sum(outcomes["ok"].values()),
        "library_errors": dict(outcomes["library"]),
        "first_credentials": successes[0]["done"] - T0,
        "rejected_expired": len(fault_proxy.rejected_expired),
        "rejected_other": sum(outcomes["rejected"].values()),
        "assume_calls": len(assume_calls),
        "successes": len(successes),
        "failures": len(failures),
        "faults": dict(faults),
        "bound": bound,
        "prompts": len(prompts.codes),
        "totp_waits": prompts.waits,
        "most_open": prompts.most_open,
        "real_seconds": real_seconds,
        "longest_gap": attempts.longest_gap,
    }
    figures["timeline"] = [
        (entry["at"] - T0, call.fault or ("ok" if entry["ok"] else f"HTTP {call.status}"))
        for entry, call in zip(attempts.log, assume_calls, strict=True)
    ]
    # docs/reliability.md states this run's figures (see tests/reliability_doc.py).
    check_or_write("soak", render(figures), VOLATILE)


class _Attempts:
    def __init__(self) -> None:
        self.log: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.last_success: float | None = None
        self.longest_gap = 0.0


def _watch_attempts(provider: AssumeRoleProvider, clock: FakeClock) -> _Attempts:
    """Record each refresh attempt, and check the cache had to make it then."""
    attempts = _Attempts()
    source = provider.source
    original = source.retrieve
    cache = provider

    async def retrieve() -> Any:
        now = clock()
        held = cache.credentials
        if held is not None and now < held.expires_at - ADVISORY:
            attempts.violations.append(f"refresh at {now - T0:.0f} s, before the advisory window")
        if cache._backoff_from <= now < cache._backoff_until:
            attempts.violations.append(f"refresh at {now - T0:.0f} s, during a backoff")
        if cache._cached_error is not None and cache._error_from <= now < cache._error_until:
            attempts.violations.append(f"refresh at {now - T0:.0f} s, during the error cache")
        entry: dict[str, Any] = {"at": now, "ok": False}
        attempts.log.append(entry)
        credentials = await original()
        entry["ok"] = True
        entry["done"] = clock()  # later than "at" when a TOTP wait moved the clock
        if attempts.last_success is not None:
            attempts.longest_gap = max(attempts.longest_gap, now - attempts.last_success)
        attempts.last_success = now
        return credentials

    source.retrieve = retrieve  # type: ignore[method-assign]  # the engine calls this
    return attempts


async def _run(sts: Any, clock: FakeClock) -> dict[str, Counter[str]]:
    """The 1,000 tasks and the simulated clock's steps."""
    rng = random.Random(SEED)
    end = T0 + SIMULATED
    outcomes: dict[str, Counter[str]] = {
        "ok": Counter(),
        "library": Counter(),
        "rejected": Counter(),
        "library_at": Counter(),
    }
    next_at = [T0] * TASKS  # everyone at once at the start
    go = [anyio.Event() for _ in range(TASKS)]
    pending = 0
    step_done = anyio.Event()
    finished = False

    async def task(index: int) -> None:
        nonlocal pending, step_done
        while True:
            await go[index].wait()
            go[index] = anyio.Event()
            if finished:
                return
            try:
                await sts.get_caller_identity()
            except CredentialsError as error:
                outcomes["library"][type(error).__name__] += 1
                outcomes["library_at"][str(clock() - T0)] += 1
            except botocore.exceptions.ClientError as error:
                outcomes["rejected"][error.response["Error"]["Code"]] += 1
            else:
                outcomes["ok"]["GetCallerIdentity"] += 1
            next_at[index] = clock() + rng.expovariate(1 / MEAN_INTERVAL)
            pending -= 1
            if pending == 0:
                step_done.set()

    async with anyio.create_task_group() as tg:
        for index in range(TASKS):
            tg.start_soon(task, index)
        step = T0
        while step < end:
            clock.now = max(clock.now, step)  # a TOTP wait may have moved it on already
            due = [i for i in range(TASKS) if next_at[i] <= clock.now]
            if due:
                pending = len(due)
                step_done = anyio.Event()
                for i in due:
                    go[i].set()
                await step_done.wait()
            step += STEP
        finished = True
        for event in go:
            event.set()
    return outcomes


# The one figure that varies from run to run: the real time, "23.6 s |".
VOLATILE = r"[0-9]+\.[0-9] s \|$"


def render(f: dict[str, Any]) -> str:
    faults = ", ".join(f"{kind} {n}" for kind, n in sorted(f["faults"].items())) or "none"
    errors = ", ".join(f"{kind} {n}" for kind, n in sorted(f["library_errors"].items())) or "none"
    rows = [
        ["`get_caller_identity()` calls", f"{f['identity_calls']:,}"],
        ["... that succeeded", f"{f['ok']:,}"],
        ["... rejected for expired credentials (proxy)", str(f["rejected_expired"])],
        ["... rejected by moto (signature, token)", str(f["rejected_other"])],
        ["calls that raised before the request (library errors)", errors],
        ["AssumeRole calls (one per refresh attempt)", str(f["assume_calls"])],
        ["... succeeded / failed", f"{f['successes']} / {f['failures']}"],
        ["... faulted by the proxy", faults],
        ["bound on successful refreshes: 1 + 7200 / (900 - 300)", str(f["bound"])],
        ["longest gap between two refreshes (simulated)", f"{f['longest_gap']:.0f} s"],
        ["MFA prompts / TokenCodes on the wire", f"{f['prompts']} / {f['assume_calls']}"],
        ["most prompts open at once", str(f["most_open"])],
        ["TOTP waits for the next time step", str(f["totp_waits"])],
        ["real time", f"{f['real_seconds']:.1f} s"],
    ]
    intro = f"""\
### Soak

Measured by `tests/test_soak.py` (asyncio): {f["tasks"]:,} tasks over
{f["simulated"] / 3600:.0f} simulated hours with 15-minute credentials
(`AssumeRoleProvider`, MFA through `TOTPTokenProvider`, default `RefreshPolicy`),
signing `get_caller_identity()` through an `install()`ed session against moto
with IAM auth on. The fault proxy rejected any request signed with a key past
the Expiration STS gave it, checked and burned each TOTP code as STS does, and
faulted {FAULT_RATE:.0%} of AssumeRole calls at random (seed {SEED}) with the
recoverable faults of the matrix; botocore's retries were off on the
provider's client, so every fault reached the library. The simulated clock
moves in 15-s steps.

Asserted by the run: no request rejected (for expired credentials or by moto);
no refresh before the advisory window or during a backoff or the error cache;
successful refreshes within the bound; one prompt per refresh attempt, each
code on the wire exactly once, never two prompts open at once.
"""
    timeline = ", ".join(f"{at:.0f} s {what}" for at, what in f["timeline"])
    outro = f"""
Every refresh attempt, in simulated seconds from the start, with the proxy's
fault or `ok`: {timeline}.

With no credentials yet, a failed fetch fails every caller waiting for it
(there is nothing to fall back on), and the next caller tries again at once:
that is where the library errors above come from, all before the first
credentials ({f["first_credentials"]:.0f} s in). Once credentials were held, no
fault ever reached a caller (asserted).
"""
    return intro + "\n" + table(["figure", "value"], rows) + "\n" + outro
