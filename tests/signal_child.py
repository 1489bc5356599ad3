"""A command for ``aiostscreds exec`` that reports the signals it receives, and from whom.

``python signal_child.py count``: prints ``ready <pid>``, then for each SIGINT
``SIGINT <n> from the terminal`` (sent by the kernel: a Ctrl-C) or ``SIGINT <n>
from <pid>`` (sent by a process, with ``kill``); at SIGTERM prints ``SIGTERM
from <sender> after <n> SIGINT`` and exits 40 + n.

``python signal_child.py exit-on-int``: prints ``ready <pid>``; at SIGINT exits
42 (a graceful stop, as Terraform's first interrupt).

Signals are taken with ``sigwaitinfo``, one at a time, so each one is seen with
its sender (a Python signal handler sees neither).
"""

from __future__ import annotations

import os
import signal
import sys

SI_KERNEL = 0x80  # si_code of a signal the kernel sent (the terminal's Ctrl-C)


def say(line: str) -> None:
    os.write(1, line.encode() + b"\n")


def sender(info: signal.struct_siginfo) -> str:
    return "the terminal" if info.si_code == SI_KERNEL else str(info.si_pid)


watched = {signal.SIGINT, signal.SIGTERM}
signal.pthread_sigmask(signal.SIG_BLOCK, watched)
say(f"ready {os.getpid()}")
received = 0
while True:
    info = signal.sigwaitinfo(watched)
    if info.si_signo == signal.SIGINT:
        if sys.argv[1] == "exit-on-int":
            os._exit(42)
        received += 1
        say(f"SIGINT {received} from {sender(info)}")
    else:
        say(f"SIGTERM from {sender(info)} after {received} SIGINT")
        os._exit(40 + received)
