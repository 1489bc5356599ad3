"""The ``aiostscreds`` command, run as a subprocess against moto on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_env import COMMAND, ROLE_IDENTITY, command_env, write_config
from tests.moto_recorder import recording


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_config(tmp_path)
    return tmp_path


def run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        **kwargs,  # type: ignore[arg-type]
    )


def test_aws_cli_runs_credential_process_with_one_assume_role_for_three_commands(
    home: Path, moto_endpoint: str
) -> None:
    with (home / ".aws" / "config").open("a") as config:
        process = shlex.join([*COMMAND, "credential-process", "--profile", "role"])
        config.write(f"\n[profile cli]\ncredential_process = {process}\n")
    env = command_env(home, moto_endpoint, AWS_PROFILE="cli")
    with recording(moto_endpoint) as recorder:
        for _ in range(3):
            result = subprocess.run(
                ["aws", "sts", "get-caller-identity", "--output", "json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["Arn"].endswith(ROLE_IDENTITY)
        assert recorder.assume_role_calls() == 1
    assert (home / ".aws" / "cli" / "cache").stat().st_mode & 0o077 == 0


def test_credential_process_warm_path_imports_neither_aiobotocore_nor_aiohttp(
    home: Path, moto_endpoint: str
) -> None:
    env = command_env(home, moto_endpoint)
    cold = run(["credential-process", "--profile", "role"], env)
    assert cold.returncode == 0, cold.stderr
    probe = (
        "import sys\n"
        "from aiostscreds.cli import main\n"
        "status = main(['credential-process', '--profile', 'role'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aiobotocore', 'aiohttp', 'anyio', 'botocore.session', 'attrs'))\n"
        "print(repr(heavy), file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    with recording(moto_endpoint) as recorder:
        warm = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
        )
        assert recorder.assume_role_calls() == 0
    assert warm.returncode == 0, warm.stderr
    assert warm.stderr.strip() == "[]"
    assert json.loads(warm.stdout) == json.loads(cold.stdout)
    document = json.loads(warm.stdout)
    assert document["Version"] == 1
    assert document["Expiration"].endswith("Z")
    assert set(document) == {
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    }


def test_no_cache_makes_every_invocation_call_sts(home: Path, moto_endpoint: str) -> None:
    env = command_env(home, moto_endpoint)
    with recording(moto_endpoint) as recorder:
        for _ in range(2):
            result = run(["credential-process", "--profile", "role", "--no-cache"], env)
            assert result.returncode == 0, result.stderr
        assert recorder.assume_role_calls() == 2
    assert not (home / ".aws" / "cli" / "cache").exists()


def test_export_env_lines_survive_a_posix_shell(home: Path, moto_endpoint: str) -> None:
    env = command_env(home, moto_endpoint)
    exported = run(["export", "--profile", "role"], env)
    assert exported.returncode == 0, exported.stderr
    names = [line.split("=", 1)[0] for line in exported.stdout.splitlines()]
    assert names == [
        "export AWS_ACCESS_KEY_ID",
        "export AWS_SECRET_ACCESS_KEY",
        "export AWS_SESSION_TOKEN",
        "export AWS_CREDENTIAL_EXPIRATION",
    ]
    document = json.loads(run(["export", "--profile", "role", "--format", "json"], env).stdout)
    shell = subprocess.run(
        ["sh", "-c", exported.stdout + 'printf "%s\\n" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"'],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert shell.stdout.splitlines() == [document["SecretAccessKey"], document["SessionToken"]]
    process = json.loads(run(["export", "--profile", "role", "--format", "process"], env).stdout)
    assert process == {"Version": 1, **document}


def test_profile_defaults_to_aws_profile(home: Path, moto_endpoint: str) -> None:
    env = command_env(home, moto_endpoint, AWS_PROFILE="role")
    result = run(["export", "--format", "json"], env)
    assert result.returncode == 0, result.stderr
    missing = run(["export", "--format", "json"], command_env(home, moto_endpoint))
    assert missing.returncode == 3
    assert "'default'" in missing.stderr


@pytest.mark.parametrize(
    ("profile", "extra_env", "status", "words"),
    [
        pytest.param("nope", {}, 3, "not in the shared config", id="configuration"),
        pytest.param(
            "mfa",
            {},
            4,
            "MFA",
            id="mfa",
        ),
        pytest.param(
            "role", {"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9"}, 5, "AssumeRole", id="sts"
        ),
    ],
)
def test_errors_are_one_stderr_line_with_an_exit_status_per_kind(
    home: Path, moto_endpoint: str, profile: str, extra_env: dict[str, str], status: int, words: str
) -> None:
    env = command_env(home, moto_endpoint, **extra_env)
    result = run(["credential-process", "--profile", profile], env, start_new_session=True)
    assert result.returncode == status, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("aiostscreds: error: "), result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.stderr
    debug = run(["credential-process", "--profile", profile, "--debug"], env, start_new_session=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_help_of_every_subcommand_is_plain_text() -> None:
    for sub in ([], ["credential-process"], ["export"], ["serve"], ["exec"], ["demo"]):
        result = run([*sub, "--help"], dict(os.environ))
        assert result.returncode == 0, result.stderr
        assert "``" not in result.stdout and result.stdout.startswith("usage: ")


def test_serve_refuses_a_non_loopback_host(home: Path, moto_endpoint: str) -> None:
    with recording(moto_endpoint) as recorder:
        for host in ("0.0.0.0", "192.168.1.10", "example.com"):
            result = run(["serve", "--profile", "role", "--host", host], command_env(home, moto_endpoint))
            assert result.returncode == 3
            assert "loopback" in result.stderr
        assert recorder.assume_role_calls() == 0


# exec ---------------------------------------------------------------------------------

PRINT_ENV = (
    "import json, os; "
    "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('AWS_')}))"
)
STATIC = {
    "AWS_PROFILE": "role",
    "AWS_ACCESS_KEY_ID": "AKIASTALEKEY00000001",
    "AWS_SECRET_ACCESS_KEY": "stale-secret",
    "AWS_SESSION_TOKEN": "stale-token",
}


def test_exec_child_gets_the_server_variables_and_no_static_keys(
    home: Path, moto_endpoint: str
) -> None:
    env = command_env(home, moto_endpoint, **STATIC)
    result = run(["exec", "--profile", "role", "--", sys.executable, "-c", PRINT_ENV], env)
    assert result.returncode == 0, result.stderr
    child = json.loads(result.stdout)
    assert child["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")
    assert len(child["AWS_CONTAINER_AUTHORIZATION_TOKEN"]) >= 32
    for name in STATIC:
        assert name not in child


def test_exec_env_gives_static_variables_and_no_profile(home: Path, moto_endpoint: str) -> None:
    env = command_env(home, moto_endpoint, **STATIC)
    result = run(["exec", "--env", "--profile", "role", "--", sys.executable, "-c", PRINT_ENV], env)
    assert result.returncode == 0, result.stderr
    child = json.loads(result.stdout)
    assert "AWS_PROFILE" not in child and "AWS_CONTAINER_CREDENTIALS_FULL_URI" not in child
    assert child["AWS_ACCESS_KEY_ID"] != STATIC["AWS_ACCESS_KEY_ID"]
    assert child["AWS_SESSION_TOKEN"] != STATIC["AWS_SESSION_TOKEN"]
    assert child["AWS_CREDENTIAL_EXPIRATION"].endswith("Z")


BOTO3_CALLER = (
    "import boto3, os; "
    "print(boto3.client('sts', endpoint_url=os.environ['AWS_ENDPOINT_URL_STS'])"
    ".get_caller_identity()['Arn'])"
)


@pytest.mark.parametrize("mode", [[], ["--env"]], ids=["server", "env"])
def test_boto3_under_exec_calls_as_the_role(home: Path, moto_endpoint: str, mode: list[str]) -> None:
    env = command_env(home, moto_endpoint, **STATIC)
    result = run(["exec", *mode, "--profile", "role", "--", sys.executable, "-c", BOTO3_CALLER], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(ROLE_IDENTITY)


@pytest.mark.parametrize("mode", [[], ["--env"]], ids=["server", "env"])
def test_exec_exits_with_the_childs_status(home: Path, moto_endpoint: str, mode: list[str]) -> None:
    env = command_env(home, moto_endpoint)
    code = "import sys; sys.exit(7)"
    result = run(["exec", *mode, "--profile", "role", "--", sys.executable, "-c", code], env)
    assert result.returncode == 7
    killed = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    result = run(["exec", *mode, "--profile", "role", "--", sys.executable, "-c", killed], env)
    assert result.returncode == -signal.SIGTERM
    missing = run(["exec", *mode, "--profile", "role", "--", "no-such-command-here"], env)
    assert missing.returncode == 127 and "no-such-command-here" in missing.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_exec_forwards_signals_to_the_child(home: Path, moto_endpoint: str, signum: int) -> None:
    child = (
        "import os, signal, time\n"
        "def stop(signum, frame):\n"
        "    os.write(1, b'child got %d' % signum)\n"
        "    os._exit(40 + signum)\n"
        "signal.signal(signal.SIGINT, stop)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [*COMMAND, "exec", "--profile", "role", "--", sys.executable, "-c", child],
        env=command_env(home, moto_endpoint),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the signal reaches aiostscreds only, as from `kill`
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signum)
        assert process.wait(timeout=30) == 40 + signum, process.stderr.read()  # type: ignore[union-attr]
        assert process.stdout.read().strip() == f"child got {signum}"
    finally:
        process.kill()
        process.wait()


def test_debug_logs_hold_no_secret(home: Path, moto_endpoint: str) -> None:
    env = command_env(home, moto_endpoint)
    result = run(["credential-process", "--profile", "role", "--debug", "--no-cache"], env)
    assert result.returncode == 0, result.stderr
    assert "assumed role" in result.stderr  # the library's own INFO records are shown
    document = json.loads(result.stdout)
    for secret in (
        document["SecretAccessKey"],
        document["SessionToken"],
        "cli-test-source-secret",
    ):
        assert secret not in result.stderr


def test_library_warnings_add_no_stderr_line_without_debug(home: Path, moto_endpoint: str) -> None:
    # A cache directory writable by others is refused with a WARNING record.
    cache = home / ".aws" / "cli" / "cache"
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    env = command_env(home, moto_endpoint)
    quiet = run(["credential-process", "--profile", "role"], env)
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = run(["credential-process", "--profile", "role", "--debug"], env)
    assert "WARNING aiostscreds: credential cache" in loud.stderr


def test_a_cached_entry_too_old_for_botocore_is_still_handed_out_when_sts_is_down(
    home: Path,
) -> None:
    # 12 minutes left: botocore would rather have more, so the command tries one
    # refresh; with STS unreachable the still-valid entry must be printed, not an error.
    import anyio

    from aiostscreds import Credentials
    from aiostscreds._cache_format import assume_role_cache_key
    from aiostscreds.caches import FileCache
    from tests.cli_env import SESSION_NAME
    from tests.conftest import ROLE_ARN

    request = {"RoleArn": ROLE_ARN, "RoleSessionName": SESSION_NAME, "DurationSeconds": 3600}
    key = assume_role_cache_key(request, explicit_session_name=True, explicit_duration=True)
    held = Credentials(
        access_key_id="ASIAOLDBUTVALID00001",
        secret_access_key="old-but-valid-secret",
        session_token="old-but-valid-token",
        expiration=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=12),
    )
    cache = FileCache(home / ".aws" / "cli" / "cache")
    response = {"AssumedRoleUser": {"Arn": f"arn:aws:sts::123456789012{ROLE_IDENTITY}"}}
    anyio.run(lambda: cache.store(key, response, held))
    result = run(["credential-process", "--profile", "role"], command_env(home, "http://127.0.0.1:1"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"] == "ASIAOLDBUTVALID00001"


def test_the_console_script_runs_the_command() -> None:
    # `pip install aiostscreds` puts `aiostscreds` next to the interpreter.
    script = Path(sys.executable).with_name("aiostscreds")
    assert script.exists(), f"{script} is not installed: is [project.scripts] in pyproject.toml?"
    result = subprocess.run(
        [str(script), "credential-process", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "credential_process" in result.stdout
    assert "``" not in result.stdout  # plain text, no reST markup


def test_warm_path_ignores_an_entry_for_another_role_under_the_profiles_key(
    home: Path, moto_endpoint: str
) -> None:
    # A private (0600) entry for role B sits under the file name of role A's
    # profile: the command must not print B's keys, and must assume A.
    import anyio

    from aiostscreds import Credentials
    from aiostscreds._cache_format import assume_role_cache_key
    from aiostscreds.caches import FileCache
    from tests.cli_env import SESSION_NAME
    from tests.conftest import ROLE_ARN

    request = {"RoleArn": ROLE_ARN, "RoleSessionName": SESSION_NAME, "DurationSeconds": 3600}
    key = assume_role_cache_key(request, explicit_session_name=True, explicit_duration=True)
    other_role = Credentials(
        access_key_id="ASIAOTHERROLEKEY0001",
        secret_access_key="other-role-secret",
        session_token="other-role-token",
        expiration=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
    )
    directory = home / ".aws" / "cli" / "cache"
    response = {
        "AssumedRoleUser": {"Arn": "arn:aws:sts::123456789012:assumed-role/role-b/cli-test"}
    }
    anyio.run(lambda: FileCache(directory).store(key, response, other_role))
    assert (directory / f"{key}.json").stat().st_mode & 0o777 == 0o600
    env = command_env(home, moto_endpoint)
    with recording(moto_endpoint) as recorder:
        result = run(["credential-process", "--profile", "role"], env)
        assert result.returncode == 0, result.stderr
        assert recorder.assume_role_calls() == 1
    printed = json.loads(result.stdout)
    assert printed["AccessKeyId"] != "ASIAOTHERROLEKEY0001"
    assert "other-role-secret" not in result.stdout
