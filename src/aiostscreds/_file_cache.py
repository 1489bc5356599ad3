"""A credential cache on disk, shared across processes, in the AWS CLI's format.

Files live in ``~/.aws/cli/cache/<key>.json``, where ``<key>`` is the SHA-1 of
the AssumeRole arguments the user configured (as the AWS CLI computes it), and
hold the AssumeRole response as JSON. The AWS CLI reads our entries and we
read its entries. An advisory ``fcntl`` lock per key makes N processes that
start together share one STS call and one MFA prompt.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from ._cache_format import DEFAULT_DIRECTORY, cache_key, directory_problem, read_entry
from ._credentials import Credentials
from ._policy import Duration, to_seconds

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileCache", "cache_key"]

log = logging.getLogger("aiostscreds")

_FIELDS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")


def _expiration_text(value: dt.datetime) -> str:
    # The spelling botocore's own JSON cache writes: no separator before "UTC".
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SUTC")


class FileCache:
    """Assumed-role credentials on disk, shared with other processes and the AWS CLI.

    Pass it as ``cache=`` to :class:`AssumeRoleProvider` or
    :func:`session_from_profile`; every role hop of a chain uses it.

    * Entries use the AWS CLI's file names and format, so the CLI reads ours
      and we read its (whichever Expiration spelling it used).
    * An entry is reused while it is outside the provider's expiry window
      (the provider's :class:`RefreshPolicy`, not the CLI's 15-minute rule),
      and only if it is newer than the credentials already held and doesn't
      carry a key that was passed to ``invalidate()``.
    * "Read, else refresh and write" runs under an advisory file lock, held
      across the MFA prompt, so processes that start together make one STS
      call and one prompt. After ``lock_timeout`` a process refreshes without
      the lock and logs a WARNING.
    * Files are written atomically with mode 0600 in a 0700 directory; symlinks
      are never followed; a directory writable by others or owned by someone
      else is not used, and an entry readable by others is not trusted.
      Corrupt, foreign or expired entries are ignored (DEBUG log) and replaced.
      The MFA token code is never written.

    Args:
        directory: Where the entries live. Default ``~/.aws/cli/cache``, the
            AWS CLI's own.
        lock_timeout: How long to wait for another process's refresh, which may
            include a human typing an MFA code. Default 5 minutes.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] = DEFAULT_DIRECTORY,
        *,
        lock_timeout: Duration = dt.timedelta(minutes=5),
    ) -> None:
        self.directory = Path(directory).expanduser()
        self.lock_timeout = dt.timedelta(seconds=to_seconds(lock_timeout, "lock_timeout"))
        self._usable: bool | None = None

    def __repr__(self) -> str:
        return f"FileCache({str(self.directory)!r})"

    # Directory --------------------------------------------------------------------

    def _check_directory(self) -> bool:
        if self._usable is not None:
            return self._usable
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.directory.stat()
        except OSError as error:
            log.warning("credential cache %s is not used: %s", self.directory, error.strerror)
            self._usable = False
            return False
        problem = directory_problem(info)
        if problem:
            log.warning("credential cache %s is not used: %s", self.directory, problem)
        self._usable = problem is None
        return self._usable

    def _path(self, key: str, suffix: str) -> Path:
        return self.directory / f"{key}{suffix}"

    # Reading and writing ----------------------------------------------------------

    def _read(self, key: str) -> Credentials | None:
        fields = read_entry(self.directory, key)
        if fields is None:
            return None
        try:
            return Credentials(
                access_key_id=fields["AccessKeyId"],
                secret_access_key=fields["SecretAccessKey"],
                session_token=fields["SessionToken"],
                expiration=fields["Expiration"],
                account_id=fields.get("AccountId") or None,
            )
        except (ValueError, TypeError):
            log.debug("credential cache entry %s.json is corrupt or foreign: ignored", key)
            return None

    def _write(self, key: str, response: Mapping[str, Any], credentials: Credentials) -> None:
        document = {name: value for name, value in response.items() if name != "ResponseMetadata"}
        document["Credentials"] = {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "SessionToken": credentials.session_token,
            "Expiration": _expiration_text(credentials.expiration),
        }
        if credentials.account_id:
            document["Credentials"]["AccountId"] = credentials.account_id
        text = json.dumps(document, default=str)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as file:  # mkstemp creates it 0600
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self._path(key, ".json"))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    async def load(self, key: str) -> Credentials | None:
        """The credentials stored under ``key``, if a trustworthy entry exists."""
        if not self._check_directory():
            return None
        return await anyio.to_thread.run_sync(self._read, key)

    async def store(self, key: str, response: Mapping[str, Any], credentials: Credentials) -> None:
        """Write an AssumeRole response atomically under ``key``."""
        if not self._check_directory():
            return
        try:
            await anyio.to_thread.run_sync(self._write, key, response, credentials)
        except OSError as error:
            log.warning("could not write credential cache entry %s: %s", key, error.strerror)

    # Locking ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def locked(self, key: str) -> AsyncIterator[None]:
        """Hold the advisory lock for ``key`` (or give up after ``lock_timeout``)."""
        if fcntl is None or not self._check_directory():
            yield
            return
        path = self._path(key, ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as error:
            log.warning(
                "credential cache lock %s unusable (%s): going on without it",
                path.name,
                error.strerror,
            )
            yield
            return
        try:
            held = await self._acquire(fd)
            if not held:
                log.warning(
                    "credential cache lock %s not acquired within %.0f s: refreshing without it",
                    path.name,
                    self.lock_timeout.total_seconds(),
                )
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    async def _acquire(self, fd: int) -> bool:
        assert fcntl is not None
        deadline = time.monotonic() + self.lock_timeout.total_seconds()
        pause = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                return False
            # Poll rather than block a thread: the wait stays cancellable.
            await anyio.sleep(pause)
            pause = min(pause * 2, 0.1)
