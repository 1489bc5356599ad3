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
import errno
import json
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .._cache_format import DEFAULT_DIRECTORY, directory_problem, read_entry, write_private
from .._credentials import Credentials
from .._errors import ConfigurationError
from .._paths import check_path
from .._policy import Duration, to_seconds

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileCache"]

log = logging.getLogger("aiostscreds")

# Never follow a symlink, never wait on a FIFO or a device.
_OPEN_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _platform_problem() -> str | None:
    """Why FileCache cannot keep its promises on this platform, or None.

    It needs ``fcntl`` locks, and file ownership and modes that mean
    something. On Windows there is no ``fcntl``, and CPython reports every
    directory as 0o777 and every file as 0o666.
    """
    if os.name == "nt" or fcntl is None or not hasattr(os, "getuid"):
        return (
            f"FileCache needs POSIX file locks (fcntl) and POSIX file ownership and modes, "
            f"which this platform (os.name={os.name!r}) lacks; use RedisCache or no cache"
        )
    return None


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
    * Files are written atomically with mode 0600 in a 0700 directory. A
      group-writable directory of the user's own (what botocore creates under
      umask 002) is tightened to 0700 with an INFO log line; one writable by
      others or owned by someone else is not used (WARNING).
    * An entry is trusted only if it is a regular file (never a symlink, FIFO
      or device: nothing ever blocks), owned by the user, readable by nobody
      else, and, where it records ``AssumedRoleUser.Arn``, a session of the
      requested role. Corrupt, hostile, foreign or expired entries are ignored
      (DEBUG log) and replaced after the STS call. The MFA token code is never
      written.

    Args:
        directory: Where the entries live (``str`` or ``os.PathLike[str]``).
            Default ``~/.aws/cli/cache``, the AWS CLI's own.
        lock_timeout: How long to wait for another process's refresh, which may
            include a human typing an MFA code. Default 5 minutes.

    Raises:
        ConfigurationError: ``directory`` is not a non-empty path without NUL
            (or its ``~user`` names no known home directory), ``lock_timeout``
            is not a duration, or the platform has no POSIX locks and
            ownership (Windows): see the design notes.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] = DEFAULT_DIRECTORY,
        *,
        lock_timeout: Duration = dt.timedelta(minutes=5),
    ) -> None:
        problem = _platform_problem()
        if problem is not None:
            raise ConfigurationError(problem)
        self.directory = check_path(directory, parameter="directory")
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
            problem = directory_problem(info)
            if problem is None and info.st_mode & stat.S_IWGRP:
                # botocore makes ~/.aws/cli/cache with os.makedirs' defaults: 0775
                # under umask 002. It is ours: take the group's write access away
                # rather than give up sharing with the AWS CLI.
                os.chmod(self.directory, stat.S_IMODE(info.st_mode) & 0o700)
                info = self.directory.stat()
                problem = directory_problem(info)
                if problem is None and info.st_mode & stat.S_IWGRP:
                    problem = "it stays writable by its group"
                if problem is None:
                    log.info(
                        "credential cache %s was writable by its group; tightened to mode %o",
                        self.directory,
                        stat.S_IMODE(info.st_mode),
                    )
        except OSError as error:
            problem = error.strerror or type(error).__name__
        if problem:
            log.warning("credential cache %s is not used: %s", self.directory, problem)
        self._usable = problem is None
        return self._usable

    def _path(self, key: str, suffix: str) -> Path:
        return self.directory / f"{key}{suffix}"

    # Reading and writing ----------------------------------------------------------

    def _read(self, key: str, role_arn: str | None = None) -> Credentials | None:
        """The entry's credentials, or None for anything missing, untrusted or unusable."""
        fields = read_entry(self.directory, key, role_arn=role_arn)
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
        except (ValueError, TypeError, OverflowError):
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
        write_private(self.directory, f"{key}.json", json.dumps(document, default=str))

    async def load(self, key: str, *, role_arn: str | None = None) -> Credentials | None:
        """The credentials stored under ``key``, if a trustworthy entry exists."""
        if not self._check_directory():
            return None
        return await anyio.to_thread.run_sync(self._read, key, role_arn)

    async def store(
        self,
        key: str,
        response: Mapping[str, Any],
        credentials: Credentials,
        *,
        mfa: bool = False,
    ) -> None:
        """Write an STS response atomically under ``key``.

        MFA-derived credentials are stored too, as the AWS CLI does: the files
        are the user's own, readable by nobody else.
        """
        if not self._check_directory():
            return
        try:
            await anyio.to_thread.run_sync(self._write, key, response, credentials)
        except OSError as error:
            log.warning("could not write credential cache entry %s: %s", key, error.strerror)

    # Locking ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def locked(self, key: str, *, mfa: bool = False) -> AsyncIterator[None]:
        """Hold the advisory lock for ``key`` (or give up after ``lock_timeout``).

        MFA-derived entries are shared on disk like any other (``mfa`` changes
        nothing): they stay with the user who typed the code.
        """
        if fcntl is None or not self._check_directory():
            yield
            return
        path = self._path(key, ".lock")
        try:
            fd = self._open_lock(path)
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

    @staticmethod
    def _open_lock(path: Path) -> int:
        """Our own regular lock file at ``path``; one planted by someone else is replaced."""
        for _ in range(2):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | _OPEN_FLAGS, 0o600)
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
                return fd
            os.close(fd)
            log.debug("credential cache lock %s is not our own file: replaced", path.name)
            os.unlink(path)
        raise OSError(errno.EEXIST, "the lock file keeps being replaced")

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
