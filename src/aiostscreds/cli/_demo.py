"""``aiostscreds demo``: an MFA role, 1,000 concurrent S3 calls, a local STS.

Starts moto's server on 127.0.0.1 (STS and S3), assumes a role that needs
MFA, installs the provider into an ``AioSession``, and runs concurrent S3
requests while refreshes are forced underneath them. Nothing leaves the
machine. Needs the ``dev`` extra (moto).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time
from typing import Any

import anyio

from .._aiobotocore import install
from .._assume_role import AssumeRoleProvider
from .._errors import CredentialsError
from .._terminal import terminal_token_provider
from .._tokens import TokenProvider

DEMO_ROLE = "arn:aws:iam::123456789012:role/demo-admin"
DEMO_MFA = "arn:aws:iam::123456789012:mfa/demo-user"
REGION = "us-east-1"


class _CountingTokens:
    """Wraps the demo's token source to count prompts."""

    def __init__(self, inner: TokenProvider, label: str) -> None:
        self.inner = inner
        self.label = label
        self.prompts = 0

    async def __call__(self, serial_number: str) -> str:
        self.prompts += 1
        answer = self.inner(serial_number)
        code = answer if isinstance(answer, str) else await answer
        return code


def _demo_device() -> TokenProvider:
    # A stand-in virtual MFA device: a new code per refresh. moto checks no codes.
    counter = itertools.count(1)

    def next_code(serial_number: str) -> str:
        return f"{next(counter) % 1_000_000:06d}"

    return next_code


def _token_source(mfa_code: str | None) -> tuple[TokenProvider, str]:
    if mfa_code is not None:
        # Real STS takes each code once; the local STS does not check.
        return (lambda serial_number: mfa_code), "the --mfa-code given"
    if sys.stdin is not None and sys.stdin.isatty():
        # It asks again after a typo, up to 3 times.
        return terminal_token_provider, "a prompt on this terminal"
    return _demo_device(), "a built-in demo MFA device (stdin is not a terminal)"


async def run_demo(
    endpoint: str,
    *,
    requests: int,
    refreshes: int,
    mfa_code: str | None,
    concurrency: int,
    rejections: int = 0,
) -> dict[str, Any]:
    """Run the demo against ``endpoint`` and return what happened.

    ``rejections`` keys are passed to ``invalidate()`` mid-run as well, as when a
    service refuses a revoked key: every request then in flight waits for one
    refresh. The documentation's observability picture is drawn from such a run.
    """
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

    inner, how = _token_source(mfa_code)
    tokens = _CountingTokens(inner, how)
    print(
        f"This demo assumes an MFA role {refreshes + 1} times: once now, then {refreshes} "
        f"forced refreshes spread under {requests:,} S3 requests ({concurrency} at a time).\n"
        f"MFA codes come from {how}."
    )
    if inner is terminal_token_provider:
        print(
            f"You will be asked for a code {refreshes + 1} times, at the start and at each "
            "refresh. The local STS accepts any six digits, such as 123456."
        )
    source = AioSession()
    config = AioConfig(max_pool_connections=concurrency)
    sts_calls = 0
    signing_keys: set[str] = set()

    def count_sts(**kwargs: Any) -> None:
        nonlocal sts_calls
        sts_calls += 1

    def record_key(request: Any, **kwargs: Any) -> None:
        header = request.headers.get("Authorization", b"")
        header = header.decode() if isinstance(header, bytes) else header
        if "Credential=" in header:
            signing_keys.add(header.split("Credential=")[1].split("/")[0])

    async with source.create_client(
        "sts",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="AKIADEMOSOURCEUSER01",
        aws_secret_access_key="demo-source-secret",
    ) as sts:
        sts.meta.events.register("before-send.sts.AssumeRole", count_sts)
        provider = AssumeRoleProvider(
            sts,
            DEMO_ROLE,
            role_session_name="aiostscreds-demo",
            serial_number=DEMO_MFA,
            token_provider=tokens,
        )
        session = install(AioSession(), provider)
        async with (
            session.create_client(
                "s3", region_name=REGION, endpoint_url=endpoint, config=config
            ) as s3,
            session.create_client("sts", region_name=REGION, endpoint_url=endpoint) as me,
        ):
            s3.meta.events.register("before-send", record_key)
            identity = await me.get_caller_identity()
            print(f"Signed in as {identity['Arn']}")
            await s3.create_bucket(Bucket="aiostscreds-demo")
            completed = failed = 0
            started = time.perf_counter()
            limit = anyio.Semaphore(concurrency)
            refresh_error: CredentialsError | None = None

            # Force refreshes evenly spread through the run, under the requests in flight;
            # rejections, if any, halfway between them.
            steps = refreshes + rejections + 1
            points = [requests * n // steps for n in range(1, steps)]
            rejection_points = set(points[1::2][:rejections])
            refresh_points = set(points) - rejection_points

            async def one(i: int) -> None:
                nonlocal completed, failed
                async with limit:
                    try:
                        await s3.put_object(Bucket="aiostscreds-demo", Key=f"object-{i}", Body=b"x")
                        completed += 1
                    except Exception:
                        failed += 1
                if completed + failed in rejection_points and provider.credentials:
                    provider.invalidate(provider.credentials.access_key_id)
                if completed + failed in refresh_points:
                    try:
                        await provider.force_refresh()
                    except CredentialsError as error:
                        nonlocal refresh_error
                        refresh_error = refresh_error or error
                        tg.cancel_scope.cancel()

            async with anyio.create_task_group() as tg:
                for i in range(requests):
                    tg.start_soon(one, i)
            if refresh_error is not None:
                raise refresh_error  # one line from the command, not a traceback
            elapsed = time.perf_counter() - started
            listed = await s3.list_objects_v2(Bucket="aiostscreds-demo", MaxKeys=1000)
        await provider.aclose()
    return {
        "requests": requests,
        "completed": completed,
        "failed": failed,
        "objects_listed": listed.get("KeyCount", 0),
        "sts_calls": sts_calls,
        "prompts": tokens.prompts,
        "forced_refreshes": refreshes,
        "rejections": rejections,
        "signing_keys": len(signing_keys),
        "seconds": elapsed,
        "identity": identity["Arn"],
    }


def run(args: argparse.Namespace) -> int:
    """``aiostscreds demo``: start moto, run :func:`run_demo`, print what happened."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        print("The demo needs moto: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        _, port = server.get_host_and_port()
        endpoint = f"http://127.0.0.1:{port}"
        print(f"Local STS and S3 (moto) listening on {endpoint}: nothing leaves this machine.")
        report = anyio.run(
            lambda: run_demo(
                endpoint,
                requests=args.requests,
                refreshes=args.refreshes,
                mfa_code=args.mfa_code,
                concurrency=args.concurrency,
            )
        )
    finally:
        server.stop()
    print(
        f"\n{report['completed']}/{report['requests']} S3 requests succeeded "
        f"({report['failed']} failed) in {report['seconds']:.2f} s, "
        f"{report['objects_listed']} objects listed back.\n"
        f"STS AssumeRole calls: {report['sts_calls']} "
        f"(1 initial + {report['forced_refreshes']} forced refreshes)\n"
        f"MFA prompts: {report['prompts']} (one per refresh)\n"
        f"Access keys that signed S3 requests: {report['signing_keys']}\n\n"
        "Use it from any tool: `aiostscreds credential-process` (for ~/.aws/config), "
        "`export`, `exec` and `serve` give the AWS CLI, boto3, Terraform and every other SDK "
        "the same refreshing credentials, with one MFA prompt. See `aiostscreds --help`."
    )
    ok = (
        report["failed"] == 0
        and report["sts_calls"] == report["forced_refreshes"] + 1
        and report["prompts"] == report["sts_calls"]
    )
    return 0 if ok else 1
