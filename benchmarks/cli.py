"""The ``aiostscreds`` command: warm ``credential-process`` and ``serve`` against floors.

``python -m benchmarks.cli [--quick]`` measures only these and prints JSON;
``python -m benchmarks`` includes them in the full report.

* credential-process, warm: whole-process wall time of
  ``python -m aiostscreds credential-process`` answering from a valid cache
  entry, against ``python -c "import botocore.configloader, json"``.
* serve: requests/s and p50/p99 latency of N concurrent keep-alive clients
  against ``aiostscreds serve``, and against an ``aiohttp.web`` handler that
  returns a constant JSON body (the floor), with the STS calls counted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROLE_ARN = "arn:aws:iam::123456789012:role/aiostscreds-bench-cli"
FLOOR_COMMAND = [sys.executable, "-c", "import botocore.configloader, json"]
# What the `aiostscreds` console script that pip generates runs.
CONSOLE_SCRIPT = [
    sys.executable,
    "-c",
    "import re, sys; from aiostscreds.cli import main; sys.exit(main())",
]
ANSWER = {
    "AccessKeyId": "ASIABENCHFLOOR000001",
    "SecretAccessKey": "x" * 40,
    "Token": "t" * 600,
    "Expiration": "2030-01-01T00:00:00Z",
}


def _environment(endpoint: str) -> dict[str, str]:
    home = Path(tempfile.mkdtemp(prefix="aiostscreds-bench-cli-"))
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text(
        "[profile source]\naws_access_key_id = AKIABENCHCLISOURCE01\n"
        "aws_secret_access_key = bench-cli-source-secret\nregion = us-east-1\n\n"
        f"[profile role]\nrole_arn = {ROLE_ARN}\nsource_profile = source\n"
        "duration_seconds = 3600\n"
    )
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "missing"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_STS": endpoint,
    }


def _assume_role_calls(endpoint: str) -> int:
    with urllib.request.urlopen(f"{endpoint}/moto-api/recorder/download-recording") as answer:
        lines = answer.read().decode().splitlines()
    calls = 0
    for line in filter(None, lines):
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode(errors="replace")
        calls += "Action=AssumeRole" in body
    return calls


def _recorder(endpoint: str, action: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/recorder/{action}", data=b"")
    urllib.request.urlopen(request).close()


def credential_process_warm(endpoint: str, *, runs: int) -> dict[str, Any]:
    """Median wall time of warm ``credential-process`` runs and of the floor, alternated."""
    env = _environment(endpoint)
    arguments = ["credential-process", "--profile", "role"]
    commands = {
        "floor": FLOOR_COMMAND,
        "console_script": [*CONSOLE_SCRIPT, *arguments],
        "python_m": [sys.executable, "-m", "aiostscreds", *arguments],
    }
    subprocess.run(commands["python_m"], env=env, check=True, capture_output=True)  # cold
    _recorder(endpoint, "reset-recording")
    _recorder(endpoint, "start-recording")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():  # interleaved, so load drifts hit all alike
            started = time.perf_counter()
            subprocess.run(argv, env=env, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    _recorder(endpoint, "stop-recording")
    medians = {f"{name}_median_s": statistics.median(runs_) for name, runs_ in times.items()}
    floor = medians["floor_median_s"]
    return {
        "runs": runs,
        **medians,
        "ratio": medians["console_script_median_s"] / floor,
        "ratio_python_m": medians["python_m_median_s"] / floor,
        "sts_calls": _assume_role_calls(endpoint),
    }


@contextmanager
def _server(argv: list[str], env: dict[str, str]) -> Iterator[tuple[str, str]]:
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = dict(
            process.stdout.readline()[len("export ") :].strip().split("=", 1) for _ in range(2)
        )
        token = lines["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        yield lines["AWS_CONTAINER_CREDENTIALS_FULL_URI"], token
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _load(url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = 0.0

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(url, headers={"Authorization": token}) as answer:
                    await answer.read()
                    if answer.status != 200:
                        raise RuntimeError(f"status {answer.status}")
                latencies.append(time.perf_counter() - started)

        deadline = time.perf_counter() + 0.5  # warm-up: open every connection
        await asyncio.gather(*(client() for _ in range(clients)))
        latencies.clear()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def serve_throughput(
    endpoint: str, *, clients: Sequence[int], seconds: float, rounds: int
) -> dict[str, Any]:
    """requests/s and latency of ``serve`` and of the constant-JSON floor, best of ``rounds``."""
    env = _environment(endpoint)
    ours_argv = [sys.executable, "-m", "aiostscreds", "serve", "--profile", "role", "--no-cache"]
    floor_argv = [sys.executable, "-m", "benchmarks.cli", "floor-server"]
    results: dict[str, Any] = {}
    _recorder(endpoint, "reset-recording")
    _recorder(endpoint, "start-recording")
    with _server(ours_argv, env) as ours, _server(floor_argv, env) as floor:
        for n in clients:
            best: dict[str, dict[str, Any]] = {}
            for _ in range(rounds):
                for name, (url, token) in (("floor", floor), ("serve", ours)):
                    measured = asyncio.run(_load(url, token, n, seconds))
                    rate = measured["requests_per_s"]
                    if name not in best or rate > best[name]["requests_per_s"]:
                        best[name] = measured
            best["ratio"] = best["serve"]["requests_per_s"] / best["floor"]["requests_per_s"]
            results[str(n)] = best
    _recorder(endpoint, "stop-recording")
    results["sts_calls"] = _assume_role_calls(endpoint)
    return results


def _floor_server() -> None:
    """A constant-JSON ``aiohttp.web`` server printing the same two lines as ``serve``."""
    import socket

    from aiohttp import web

    body = json.dumps(ANSWER).encode()

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/", answer)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)  # connections queue from now on, before the app serves them
    port = sock.getsockname()[1]
    print(f"export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:{port}/")
    print("export AWS_CONTAINER_AUTHORIZATION_TOKEN=floor", flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None)


def measure(
    endpoint: str, *, runs: int, clients: Sequence[int], seconds: float, rounds: int
) -> dict[str, Any]:
    """Both measurements against the local STS at ``endpoint``, at the run's settings."""
    return {
        "credential_process_warm": credential_process_warm(endpoint, runs=runs),
        "serve": serve_throughput(endpoint, clients=clients, seconds=seconds, rounds=rounds),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.cli [--quick]``: print these measurements as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli", description=__doc__)
    parser.add_argument("what", nargs="?", choices=("all", "floor-server"), default="all")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.what == "floor-server":
        _floor_server()
        return 0
    from .__main__ import FULL, QUICK
    from .end_to_end import local_sts

    settings = QUICK if args.quick else FULL
    with local_sts() as endpoint:
        figures = measure(
            endpoint,
            runs=settings.cli_runs,
            clients=settings.cli_clients,
            seconds=settings.cli_seconds,
            rounds=settings.cli_rounds,
        )
        print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
