"""Signals and the ``aiostscreds`` command, through a real pty and real processes.

Ctrl-C is typed on the pty (``\\x03``): the terminal sends SIGINT to its whole
foreground process group, the command and the command ``exec`` runs alike.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli_env import COMMAND, TerminalSession, command_env, write_config
from tests.moto_recorder import recording

COUNTER = [sys.executable, str(Path(__file__).with_name("signal_child.py"))]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_config(tmp_path)
    return tmp_path


@pytest.fixture
def sessions() -> Iterator[list[TerminalSession]]:
    started: list[TerminalSession] = []
    yield started
    for session in started:
        session.close()


def _stop(pid: int) -> None:
    """Stop ``pid`` (aiostscreds) and wait until it has stopped.

    A Ctrl-C typed then is pending for it until :func:`_resume`: the child takes its
    own SIGINT first, so a SIGINT aiostscreds were to forward arrives separately,
    never merged into the pending one.
    """
    os.kill(pid, signal.SIGSTOP)
    _, status = os.waitpid(pid, os.WUNTRACED)  # reports the stop; reaps nothing
    assert os.WIFSTOPPED(status)


def _resume(pid: int) -> None:
    os.kill(pid, signal.SIGCONT)


def _wait_until_ended(pid: int) -> None:
    """Wait until ``pid`` is a zombie: ended, not yet reaped by its (stopped) parent."""
    deadline = time.monotonic() + TerminalSession.PATIENCE
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, f"{pid} did not end"
        time.sleep(0.001)  # polls a state; the outcome does not depend on timing


def test_ctrl_c_reaches_the_exec_child_once_per_keypress_and_sigterm_is_forwarded(
    home: Path, moto_endpoint: str, sessions: list[TerminalSession]
) -> None:
    env = command_env(home, moto_endpoint)
    session = TerminalSession([*COMMAND, "exec", "--profile", "role", "--", *COUNTER, "count"], env)
    sessions.append(session)
    aiostscreds = session.process.pid
    assert session.stdout_line().startswith("ready ")
    lines: list[str] = []
    for press in (1, 2, 3):
        _stop(aiostscreds)
        session.type(b"\x03")  # to the foreground process group: aiostscreds and the child
        while not lines or lines[-1] != f"SIGINT {press} from the terminal":
            lines.append(session.stdout_line())
        _resume(aiostscreds)  # it handles its SIGINT now
    # SIGTERM to aiostscreds alone: the child could not have had it, so it is forwarded.
    # aiostscreds handles its signals in the order they came: a SIGINT it forwarded
    # would reach the child before this SIGTERM.
    os.kill(aiostscreds, signal.SIGTERM)
    while not lines[-1].startswith("SIGTERM"):
        lines.append(session.stdout_line())
    assert lines == [
        "SIGINT 1 from the terminal",
        "SIGINT 2 from the terminal",
        "SIGINT 3 from the terminal",
        f"SIGTERM from {aiostscreds} after 3 SIGINT",
    ]
    returncode, stderr = session.finish()
    assert returncode == 43, stderr  # the child's status
    assert stderr == ""


def _ctrl_c_once(argv: list[str], env: dict[str, str]) -> int:
    """One ``exec`` whose child ends at Ctrl-C before aiostscreds handles its SIGINT."""
    session = TerminalSession(argv, env)
    try:
        child = int(session.stdout_line().split()[1])
        _stop(session.process.pid)
        session.type(b"\x03")
        _wait_until_ended(child)
        _resume(session.process.pid)
        return session.finish()[0]
    finally:
        session.close()


def test_exec_exits_with_the_childs_status_in_100_runs_of_ctrl_c(
    home: Path, moto_endpoint: str
) -> None:
    env = command_env(home, moto_endpoint)
    argv = [*COMMAND, "exec", "--profile", "role", "--", *COUNTER, "exit-on-int"]
    with recording(moto_endpoint) as recorder:
        assert _ctrl_c_once(argv, env) == 42  # fills the cache: the other runs make no call
        with ThreadPoolExecutor(4) as pool:
            statuses = collections.Counter(pool.map(lambda _: _ctrl_c_once(argv, env), range(99)))
        assert recorder.assume_role_calls() == 1
    statuses[42] += 1
    assert statuses[255] == 0, statuses
    assert statuses == {42: 100}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize(
    "subcommand",
    [
        ["credential-process"],
        ["export"],
        ["serve"],
        ["exec", "--", sys.executable, "-c", "pass"],
    ],
    ids=["credential-process", "export", "serve", "exec"],
)
def test_sigterm_or_sighup_at_the_prompt_restores_the_terminal_then_exits_128_plus_n(
    home: Path,
    moto_endpoint: str,
    sessions: list[TerminalSession],
    subcommand: list[str],
    signum: int,
) -> None:
    env = command_env(home, moto_endpoint)
    argv = [*COMMAND, subcommand[0], "--profile", "mfa", *subcommand[1:]]
    with recording(moto_endpoint) as recorder:
        session = TerminalSession(argv, env)
        sessions.append(session)
        session.wait_for_screen("MFA code for")
        assert not session.echo_is_on()
        os.kill(session.process.pid, signum)
        returncode, stderr = session.finish()
        assert recorder.assume_role_calls() == 0
    assert returncode == 128 + signum, stderr
    assert session.echo_is_on()
    assert stderr == f"aiostscreds: stopped by {signal.Signals(signum).name}\n"
