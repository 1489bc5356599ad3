"""The AWS CLI's credential cache format: file names (keys) and entries.

Standard library only (plus botocore's timestamp parser for unusual
spellings, imported when needed), so that ``aiostscreds credential-process``
can answer from a warm cache without importing aiobotocore.
:class:`FileCache` reads and keys its entries with these same functions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import stat

TYPE_CHECKING = False  # typing.TYPE_CHECKING would import typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "DEFAULT_DIRECTORY",
    "FIELDS",
    "assume_role_cache_key",
    "cache_key",
    "directory_problem",
    "parse_expiration",
    "read_entry",
]

log = logging.getLogger("aiostscreds")

DEFAULT_DIRECTORY = "~/.aws/cli/cache"
"""The AWS CLI's own cache directory, the default of :class:`FileCache`."""

FIELDS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")


def cache_key(args: Mapping[str, Any]) -> str:
    """The AWS CLI's cache key for a set of AssumeRole arguments.

    ``args`` holds ``RoleArn`` and what the user configured explicitly:
    ``ExternalId``, ``SerialNumber``, ``DurationSeconds`` (an int) and
    ``RoleSessionName`` when given, never a generated session name or a token
    code. An inline ``Policy`` is parsed so that its key order doesn't matter.
    """
    args = dict(args)
    if isinstance(args.get("Policy"), str):
        with contextlib.suppress(ValueError):
            args["Policy"] = json.loads(args["Policy"])
    digest = hashlib.sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest()
    return digest.replace(":", "_").replace(os.sep, "_").replace("/", "_")


def assume_role_cache_key(
    request: Mapping[str, Any], *, explicit_session_name: bool, explicit_duration: bool
) -> str:
    """The cache key of an AssumeRole request, as the AWS CLI computes it.

    ``request`` is what is sent to STS (``TokenCode`` is never part of the
    key). A generated ``RoleSessionName`` and a ``DurationSeconds`` the user
    did not configure are left out, as the CLI leaves them out.
    """
    args = dict(request)
    args.pop("TokenCode", None)
    if not explicit_session_name:
        args.pop("RoleSessionName", None)
    if not explicit_duration:
        args.pop("DurationSeconds", None)
    return cache_key(args)


def directory_problem(info: os.stat_result) -> str | None:
    """Why a cache directory with this ``stat`` must not be used, or None."""
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return "it is owned by another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "it is writable by group or others"
    return None


def parse_expiration(text: str) -> dt.datetime:
    """An entry's ``Expiration``, aware, whatever spelling wrote it (``Z``, ``+00:00``, ``UTC``).

    Raises:
        ValueError: The text is no timestamp.
    """
    fast = text[:-3] + "+00:00" if text.endswith("UTC") else text
    try:
        value = dt.datetime.fromisoformat(fast.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        # Rare spellings: botocore's own parser, as the AWS CLI reads them.
        from botocore.utils import parse_timestamp

        value = parse_timestamp(text)
    return value


def read_entry(directory: str | os.PathLike[str], key: str) -> dict[str, Any] | None:
    """The ``Credentials`` of the entry ``<directory>/<key>.json``, if it can be trusted.

    Its ``Expiration`` is returned parsed (an aware datetime). Symlinks, files
    that are not regular, another user's files, files readable by others, and
    corrupt or incomplete entries give None (and a DEBUG log line).
    """
    name = f"{key}.json"
    try:
        fd = os.open(os.path.join(directory, name), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            log.debug("credential cache entry %s is a symlink: ignored", name)
        else:
            log.debug("credential cache entry %s unreadable: %s", name, error.strerror)
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            log.debug("credential cache entry %s is not a regular file: ignored", name)
            return None
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            log.debug("credential cache entry %s is another user's: ignored", name)
            return None
        if info.st_mode & 0o077:
            log.debug("credential cache entry %s is readable by others: ignored", name)
            return None
        raw = file.read(1 << 20)
    try:
        fields = json.loads(raw)["Credentials"]
        if not all(isinstance(fields.get(field), str) and fields[field] for field in FIELDS):
            raise ValueError("incomplete Credentials")
        entry = dict(fields)
        entry["Expiration"] = parse_expiration(fields["Expiration"])
        return entry
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        log.debug("credential cache entry %s is corrupt or foreign: ignored", name)
        return None
