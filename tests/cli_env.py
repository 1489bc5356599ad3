"""Helpers for running the ``aiostscreds`` command as a subprocess against moto."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import MFA_SERIAL, ROLE_ARN

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "aiostscreds"]
SESSION_NAME = "cli-test"
ROLE_IDENTITY = f":assumed-role/{ROLE_ARN.rsplit('/', 1)[1]}/{SESSION_NAME}"


def write_config(home: Path, *, duration: int = 3600, extra: str = "") -> Path:
    """A shared config with a source user, a role and an MFA role (both on that source)."""
    config = home / ".aws" / "config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"""[profile source]
aws_access_key_id = AKIACLITESTSOURCE001
aws_secret_access_key = cli-test-source-secret
region = us-east-1

[profile role]
role_arn = {ROLE_ARN}
source_profile = source
role_session_name = {SESSION_NAME}
duration_seconds = {duration}

[profile mfa]
role_arn = {ROLE_ARN}
source_profile = source
role_session_name = {SESSION_NAME}
mfa_serial = {MFA_SERIAL}
duration_seconds = {duration}
{extra}"""
    )
    return config


def command_env(home: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """An environment built from nothing: no AWS_* but what the test sets."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "missing-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_STS": endpoint,
        "AWS_MAX_ATTEMPTS": "1",
    }
    env.update(extra)
    return env


class TerminalRun:
    """A process run with a pseudo-terminal as its controlling terminal."""

    def __init__(self, returncode: int, stdout: str, stderr: str, terminal: str, prompts: int):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.terminal = terminal
        self.prompts = prompts


def run_on_terminal(
    argv: list[str],
    env: dict[str, str],
    *,
    code: str | list[str] = "123456",
    stderr_to_terminal: bool = False,
    timeout: float = 60,
    cwd: Path | None = None,
) -> TerminalRun:
    """Run ``argv`` in a new session whose controlling terminal is a pty; type ``code``
    at every ``MFA code`` prompt that appears on it (a list: one per prompt, the last
    one repeated)."""
    import fcntl
    import pty
    import select
    import signal
    import subprocess
    import termios
    import time

    master, slave = pty.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    try:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=slave if stderr_to_terminal else subprocess.PIPE,
            start_new_session=True,
            preexec_fn=take_terminal,
            pass_fds=(slave,),
        )
    finally:
        os.close(slave)
    seen = b""
    prompts = 0
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal's last user is gone
            break
        seen += chunk
        while seen.count(b"MFA code") > prompts:
            answer = code if isinstance(code, str) else code[min(prompts, len(code) - 1)]
            prompts += 1
            os.write(master, answer.encode() + b"\n")
    try:
        stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: it and its children
        stdout, stderr = process.communicate()
        raise
    finally:
        os.close(master)
    return TerminalRun(
        process.returncode,
        stdout.decode(),
        "" if stderr is None else stderr.decode(),
        seen.decode(errors="replace"),
        prompts,
    )


class TerminalSession:
    """The command running with a pty as its controlling terminal, driven step by step.

    The test keeps the pty's slave side open, so the terminal's settings (echo) can be
    read after the command has ended. stdout and stderr are pipes.
    """

    PATIENCE = 60.0  # seconds before a step gives up on a process that hangs

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import fcntl
        import pty
        import subprocess
        import termios

        self.master, self.slave = pty.openpty()
        slave = self.slave

        def take_terminal() -> None:
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(
            argv,
            env=env,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=take_terminal,
            pass_fds=(slave,),
        )
        self.screen = b""
        self._stdout = b""

    def echo_is_on(self) -> bool:
        import termios

        return bool(termios.tcgetattr(self.slave)[3] & termios.ECHO)

    def wait_for_screen(self, text: str) -> None:
        import select
        import time

        deadline = time.monotonic() + self.PATIENCE
        while text.encode() not in self.screen:
            ready, _, _ = select.select([self.master], [], [], deadline - time.monotonic())
            assert ready, f"waited for {text!r}; the terminal shows {self.screen!r}"
            self.screen += os.read(self.master, 4096)

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def stdout_line(self) -> str:
        """The next line the process (or its child) writes to stdout."""
        import select
        import time

        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + self.PATIENCE
        while b"\n" not in self._stdout:
            ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
            assert ready, f"no line on stdout; got {self._stdout!r}"
            data = os.read(fd, 4096)
            if not data:
                raise AssertionError(f"stdout ended, with {self._stdout!r}: {self.finish()}")
            self._stdout += data
        line, self._stdout = self._stdout.split(b"\n", 1)
        return line.decode()

    def finish(self) -> tuple[int, str]:
        """Wait for the process to end; its return code and its stderr."""
        import signal
        import subprocess

        try:
            _, stderr = self.process.communicate(timeout=self.PATIENCE)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.communicate()
            raise AssertionError("the process did not end") from None
        return self.process.returncode, stderr.decode()

    def close(self) -> None:
        import signal

        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.communicate()
        os.close(self.master)
        os.close(self.slave)


@contextlib.contextmanager
def started_serve(
    home: Path, moto_endpoint: str, *flags: str
) -> Iterator[tuple[dict[str, str], subprocess.Popen[str]]]:
    """``aiostscreds serve --profile role`` running, the variables it printed, and its process."""
    process = subprocess.Popen(
        [*COMMAND, "serve", "--profile", "role", *flags],
        env=command_env(home, moto_endpoint),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        env = {}
        for _ in range(2):
            line = process.stdout.readline()
            assert line.startswith("export "), process.stderr.read()  # type: ignore[union-attr]
            name, value = line[len("export ") :].strip().split("=", 1)
            env[name] = value
        yield env, process
    finally:
        process.kill()
        process.wait()
