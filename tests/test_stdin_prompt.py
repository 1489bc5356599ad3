"""stdin_token_provider: the terminal prompt, off the event loop, one at a time."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

import aiostscreds._tokens as tokens_module
from aiostscreds import stdin_token_provider

from .conftest import MFA_SERIAL
from .fakes import LoopTicks

pytestmark = pytest.mark.anyio


class FakeTerminal:
    """Stands in for getpass: records prompts, answers slowly, tracks overlap."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.prompts: list[str] = []
        self.threads: set[int] = set()
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()

    def getpass(self, prompt: str, stream: object = None) -> str:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.prompts.append(prompt)
        self.threads.add(threading.get_ident())
        time.sleep(0.05)
        with self.lock:
            self.active -= 1
        return self.answer


async def test_prompt_names_the_device_and_strips_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = FakeTerminal(" 123456\n")
    monkeypatch.setattr(tokens_module.getpass, "getpass", terminal.getpass)
    assert await stdin_token_provider(MFA_SERIAL) == "123456"
    assert terminal.prompts == [f"MFA code for {MFA_SERIAL}: "]
    assert threading.get_ident() not in terminal.threads  # read in a worker thread


async def test_prompts_never_interleave(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = FakeTerminal("654321")
    monkeypatch.setattr(tokens_module.getpass, "getpass", terminal.getpass)
    ticks = LoopTicks()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticks.run)
        async with anyio.create_task_group() as prompts:
            for _ in range(4):
                prompts.start_soon(stdin_token_provider, MFA_SERIAL)
        tg.cancel_scope.cancel()
    assert len(terminal.prompts) == 4
    assert terminal.most_active == 1  # serialised process-wide
    assert ticks.count >= 10  # the event loop kept running meanwhile
