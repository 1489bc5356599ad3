"""TOTP MFA codes computed in-process, for virtual MFA devices (the ``totp`` extra).

STS takes each MFA code once: a second call with a code that already served
(even one from another provider on the same device) fails with
``AccessDenied``. :class:`TOTPTokenProvider` therefore never hands out the same
code twice for one secret within one process, waiting for the next time step
when it must.
"""

from __future__ import annotations

import binascii
import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from ._errors import ConfigurationError

__all__ = ["TOTPTokenProvider"]

_DIGITS = 6  # STS takes exactly six digits
_RECENT = 4  # codes remembered per secret, to skip a step whose code repeats a recent one


class _Used:
    """What one secret has handed out in this process."""

    __slots__ = ("counter", "recent")

    def __init__(self) -> None:
        self.counter = -1
        self.recent: deque[str] = deque(maxlen=_RECENT)


# Keyed by a digest of the secret (and the interval), shared by every provider and
# every event loop in the process; the lock is never held across an await.
_used: dict[tuple[str, int], _Used] = {}
_used_lock = threading.Lock()


def _load_pyotp() -> Any:
    try:
        import pyotp
    except ImportError:
        raise ImportError(
            "TOTPTokenProvider needs pyotp: pip install 'aiostscreds[totp]'"
        ) from None
    return pyotp


class TOTPTokenProvider:
    """An MFA token provider that computes TOTP codes from the device's secret.

    Pass it as ``token_provider=`` to :class:`AssumeRoleProvider` or
    :class:`SessionTokenProvider` to refresh MFA-protected credentials without
    a human, for a virtual MFA device whose secret you hold (the base32 string
    behind its QR code). It is an ``async`` callable, so the library awaits it
    on the event loop.

    It never returns the same code twice for one secret within one process,
    across providers, tasks, threads and event loops: STS rejects a code that
    was already used. When the current time step's code was already handed
    out, the call waits for the next step (at most ``interval`` seconds). The
    wait is an ordinary cancellable sleep; ``RefreshPolicy.token_timeout``
    bounds it like any other prompt. Other processes using the same device
    are not seen.

    Needs the ``totp`` extra (``pip install 'aiostscreds[totp]'``), which
    installs pyotp.

    Args:
        secret: The device's base32 secret. Spaces are ignored, case does
            not matter; never shown in ``repr()`` or in error messages.
        interval: The TOTP time step in seconds; 30 for AWS virtual MFA
            devices.
        clock: Returns epoch seconds; for tests.
        sleep: Awaits a number of seconds; for tests with a fake clock.
            Default :func:`anyio.sleep`.

    Raises:
        ConfigurationError: ``secret`` is not a usable base32 secret, or
            ``interval``, ``clock`` or ``sleep`` is invalid.
        ImportError: pyotp is not installed.
    """

    def __init__(
        self,
        secret: str,
        *,
        interval: int = 30,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        pyotp = _load_pyotp()
        if not isinstance(secret, str):
            raise ConfigurationError(f"secret must be a str, not {type(secret).__name__}")
        if isinstance(interval, bool) or not isinstance(interval, int) or not 0 < interval <= 120:
            raise ConfigurationError("interval must be a whole number of seconds in 1-120")
        if not callable(clock):
            raise ConfigurationError("clock must be callable")
        if sleep is not None and not callable(sleep):
            raise ConfigurationError("sleep must be callable")
        normalized = "".join(secret.split()).upper()
        try:
            totp = pyotp.TOTP(normalized, digits=_DIGITS, interval=interval)
            key = totp.byte_secret()
        except (ValueError, TypeError, binascii.Error):
            # Never echo the secret, not even in the chained error.
            raise ConfigurationError(
                "secret must be a base32 TOTP secret of at least 16 bytes"
            ) from None
        if not key:
            raise ConfigurationError("secret must be a base32 TOTP secret of at least 16 bytes")
        self._totp = totp
        self._interval = interval
        self._clock = clock
        self._sleep = sleep or anyio.sleep
        self._key = (hashlib.sha256(key).hexdigest(), interval)

    def __repr__(self) -> str:
        return f"<TOTPTokenProvider interval={self._interval}s>"

    @property
    def interval(self) -> int:
        """The TOTP time step in seconds."""
        return self._interval

    async def __call__(self, serial_number: str) -> str:
        """Return a code never handed out before in this process for this secret.

        ``serial_number`` is the MFA device's serial, passed by the library;
        it plays no part in the code. Waits, cancellably, for the next time
        step when the current one's code was already used.
        """
        while True:
            now = self._clock()
            counter = math.floor(now / self._interval)
            code = str(self._totp.generate_otp(counter))
            with _used_lock:
                used = _used.setdefault(self._key, _Used())
                if counter > used.counter and code not in used.recent:
                    used.counter = counter
                    used.recent.append(code)
                    return code
                next_step = (max(counter, used.counter) + 1) * self._interval
            await self._sleep(max(next_step - now, 0.001))
