"""terminal_token_provider through a real pseudo-terminal.

Each test starts tests/tty_child.py in a new session whose controlling terminal
is a pty the test holds the master side of: what the child writes to
``/dev/tty`` is read from the master, what the test "types" is written to it,
and the terminal's settings (echo) are read from the slave side. The child's
stdout and stderr are pipes, as botocore's credential_process runner makes
them; its stdin is a pipe too, which the prompt must leave alone.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import MFA_SERIAL
from .fault_proxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).with_name("tty_child.py")
PROMPT = f"MFA code for {MFA_SERIAL}: "
PATIENCE = 20.0  # seconds before a test gives up on a child that hangs; never a measurement


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Terminal:
    """A child process whose controlling terminal is a pty held by the test."""

    def __init__(
        self,
        backend: str,
        scenario: str,
        *,
        with_terminal: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.master, self.slave = pty.openpty()
        self.screen = b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "HOME": str(ROOT),
            "LANG": "C.UTF-8",
            "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
            "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "AKIATESTSOURCE000001",
            "AWS_SECRET_ACCESS_KEY": "test-source-secret-key",
            **(extra_env or {}),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(CHILD),
                backend,
                scenario,
                os.ttyname(self.slave) if with_terminal else "-",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            pass_fds=(),
        )
        self._stdout = b""

    def echo_is_on(self) -> bool:
        return bool(termios.tcgetattr(self.slave)[3] & termios.ECHO)

    def canonical(self) -> bool:
        return bool(termios.tcgetattr(self.slave)[3] & termios.ICANON)

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def wait_for_screen(self, text: str, count: int = 1) -> None:
        """Read the terminal until ``text`` has appeared ``count`` times."""
        deadline = time.monotonic() + PATIENCE
        while self.screen.count(text.encode()) < count:
            ready, _, _ = select.select([self.master], [], [], deadline - time.monotonic())
            assert ready, f"waited for {text!r} x{count}; the terminal shows {self.screen!r}"
            self.screen += os.read(self.master, 4096)

    def drain_screen(self) -> None:
        while select.select([self.master], [], [], 0)[0]:
            self.screen += os.read(self.master, 4096)

    def report(self) -> dict[str, Any]:
        """The child's next JSON line on stdout."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + PATIENCE
        while b"\n" not in self._stdout:
            ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
            assert ready, "the child reported nothing"
            data = os.read(fd, 4096)
            assert data, f"the child ended: {self.finish()[1]!r}"
            self._stdout += data
        line, self._stdout = self._stdout.split(b"\n", 1)
        result: dict[str, Any] = json.loads(line)
        return result

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        self.process.stdin.flush()

    def finish(self) -> tuple[int, bytes]:
        """Wait for the child to end (closing its stdin); its return code and stderr."""
        try:
            _, stderr = self.process.communicate(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise AssertionError("the child did not end") from None
        self.drain_screen()
        return self.process.returncode, stderr

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    started: list[Terminal] = []
    yield started
    for terminal in started:
        terminal.close()


@pytest.fixture
def start(terminals: list[Terminal], backend: str) -> Any:
    def start(scenario: str, **options: Any) -> Terminal:
        terminal = Terminal(backend, scenario, **options)
        terminals.append(terminal)
        return terminal

    return start


def test_prompt_is_read_from_the_terminal_with_echo_off_then_restored(start: Any) -> None:
    terminal = start("prompt")
    assert terminal.process.stdin is not None
    terminal.process.stdin.write(b"999999\n")  # stdin is the program's, never read
    terminal.process.stdin.flush()
    terminal.wait_for_screen(PROMPT)
    assert not terminal.echo_is_on() and terminal.canonical()
    assert terminal.report() == {"loop_turning": True}  # the prompt waits without blocking
    terminal.type(b"\n")  # an empty line asks again
    terminal.wait_for_screen(PROMPT, count=2)
    terminal.type(b" 1234x\x7f56 \n")  # the terminal's line editing: backspace
    report = terminal.report()
    assert report["code"] == "123456"
    # No thread was started to wait, and the event loop kept turning meanwhile.
    assert report["most_threads"] == report["threads_before"] == report["threads_after"]
    returncode, stderr = terminal.finish()
    assert returncode == 0
    assert stderr == b""  # the prompt never goes to stderr
    assert terminal.echo_is_on()
    assert terminal.screen.count(PROMPT.encode()) == 2
    assert b"x" not in terminal.screen  # not echoed


def test_code_typed_after_a_timeout_answers_the_next_prompt(start: Any) -> None:
    terminal = start("timeout")
    terminal.wait_for_screen(PROMPT)
    report = terminal.report()
    assert "token_timeout" in report["error"]
    assert terminal.echo_is_on()  # restored when the prompt timed out
    terminal.type(b"246810\n")  # typed late, while no prompt is open
    terminal.go()
    assert terminal.report() == {"code": "246810"}
    returncode, stderr = terminal.finish()
    assert returncode == 0 and stderr == b""
    assert terminal.screen.count(PROMPT.encode()) == 2
    assert terminal.echo_is_on()


def test_cancelled_prompt_restores_the_terminal(start: Any) -> None:
    terminal = start("cancel")
    terminal.wait_for_screen(PROMPT)
    assert not terminal.echo_is_on()
    assert terminal.report() == {"cancelled": True}
    assert terminal.echo_is_on()  # while the program carries on
    returncode, stderr = terminal.finish()
    assert returncode == 0 and stderr == b""


def test_ctrl_c_at_the_prompt_ends_the_program_and_restores_echo(start: Any) -> None:
    terminal = start("forever")
    terminal.wait_for_screen(PROMPT)
    assert not terminal.echo_is_on()
    terminal.type(b"\x03")  # the terminal sends SIGINT to the foreground process group
    returncode, stderr = terminal.finish()  # without anyone pressing Enter
    assert returncode == -signal.SIGINT, stderr
    assert b"KeyboardInterrupt" in stderr
    assert b"returned" not in terminal._stdout
    assert terminal.echo_is_on()


def test_prompts_from_two_event_loops_in_two_threads_take_turns(start: Any) -> None:
    terminal = start("two")
    terminal.wait_for_screen(PROMPT)
    assert terminal.report() == {"loop_turning": True}  # both prompts have been asked for
    terminal.drain_screen()
    assert terminal.screen.count(PROMPT.encode()) == 1  # the second waits its turn
    terminal.type(b"111111\n")
    terminal.wait_for_screen(PROMPT, count=2)
    terminal.type(b"222222\n")
    assert terminal.report() == {"codes": ["111111", "222222"]}
    returncode, stderr = terminal.finish()
    assert returncode == 0 and stderr == b""
    assert terminal.screen.count(PROMPT.encode()) == 2
    assert terminal.echo_is_on()


def test_code_typed_at_the_prompt_reaches_sts_and_aclose_ends_the_next_prompt(
    start: Any, fault_proxy: FaultProxy
) -> None:
    terminal = start("assume-role", extra_env={"STS_ENDPOINT": fault_proxy.url})
    terminal.wait_for_screen(PROMPT)
    terminal.type(b"135790\n")
    assert terminal.report() == {"assumed": True}
    assert [c.token_code for c in fault_proxy.credential_calls()] == ["135790"]
    terminal.wait_for_screen(PROMPT, count=2)  # the second refresh asks again
    assert not terminal.echo_is_on()
    terminal.go()  # the program closes the provider while the prompt is open
    assert terminal.report() == {"errors": ["CredentialsError"]}
    assert terminal.echo_is_on()  # while the program carries on
    returncode, stderr = terminal.finish()
    assert returncode == 0 and stderr == b""
    assert len(fault_proxy.credential_calls()) == 1  # no STS call for the closed prompt


def test_ctrl_d_at_the_prompt_is_a_clear_error(start: Any) -> None:
    terminal = start("eof")
    terminal.wait_for_screen(PROMPT)
    terminal.type(b"\x04")  # end of input on an empty line
    assert "Ctrl-D" in terminal.report()["error"]
    returncode, stderr = terminal.finish()
    assert returncode == 0 and stderr == b""
    assert terminal.echo_is_on()


def test_no_terminal_is_a_clear_error(start: Any) -> None:
    terminal = start("no-terminal", with_terminal=False)
    report = terminal.report()
    assert "no terminal" in report["error"]
    assert "token_provider=" in report["error"]
    assert "TOTPTokenProvider" in report["error"]
    returncode, stderr = terminal.finish()
    assert returncode == 0 and stderr == b""
    assert terminal.screen == b""
