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

from ._arn import same_role

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
    "profile_role_request",
    "read_entry",
    "read_private_json",
    "sso_role_cache_key",
    "sso_token_cache_key",
    "write_private",
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
        # A policy nested too deep for the parser keeps its text: the key must
        # never be the reason a refresh fails.
        with contextlib.suppress(ValueError, RecursionError):
            args["Policy"] = json.loads(args["Policy"])
    return _file_key(json.dumps(args, sort_keys=True))


def _file_key(text: str) -> str:
    # botocore's JSONFileCache name for a key: the SHA-1 of its JSON, made file-safe.
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
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


# A profile's keys that configure its AssumeRole request, and the request's fields.
_PROFILE_ROLE_KEYS = (
    ("role_arn", "RoleArn"),
    ("role_session_name", "RoleSessionName"),
    ("external_id", "ExternalId"),
    ("mfa_serial", "SerialNumber"),
)


def profile_role_request(
    section: Mapping[str, Any], *, mfa_session: bool = False
) -> dict[str, Any] | None:
    """The AssumeRole arguments that a profile's keys configure; None without ``role_arn``.

    ``RoleArn``, and ``RoleSessionName``, ``ExternalId``, ``SerialNumber`` and
    ``DurationSeconds`` (an int) when the profile sets them: the request the
    profile's role is assumed with (but ``TokenCode``, and a generated session
    name), so that ``assume_role_cache_key(request, explicit_session_name=True,
    explicit_duration=True)`` is its cache key. With ``mfa_session`` the role
    is assumed from an MFA session, without ``SerialNumber``. The profile code
    builds each hop from it; the command's warm path keys its lookup with it.

    Raises:
        ValueError: ``duration_seconds`` is not a whole number.
    """
    if not isinstance(section.get("role_arn"), str):
        return None
    request: dict[str, Any] = {}
    for key, field in _PROFILE_ROLE_KEYS:
        value = section.get(key)
        if value is not None and not (mfa_session and key == "mfa_serial"):
            request[field] = str(value)
    if section.get("duration_seconds") is not None:
        request["DurationSeconds"] = int(str(section["duration_seconds"]).strip())
    return request


def sso_role_cache_key(
    *, account_id: str, role_name: str, session_name: str | None, start_url: str
) -> str:
    """botocore's ``SSOCredentialFetcher`` key: where the AWS CLI v2 keeps SSO role credentials.

    The SHA-1 of the sorted, compact JSON of ``accountId``, ``roleName`` and
    ``sessionName`` (an ``sso_session`` profile) or ``startUrl`` (a legacy one).
    """
    args: dict[str, str] = {"roleName": role_name, "accountId": account_id}
    if session_name:
        args["sessionName"] = session_name
    else:
        args["startUrl"] = start_url
    return _file_key(json.dumps(args, sort_keys=True, separators=(",", ":")))


def sso_token_cache_key(*, session_name: str | None, start_url: str) -> str:
    """botocore's ``SSOTokenLoader`` key: the token file ``~/.aws/sso/cache/<key>.json``.

    The SHA-1 of the ``sso_session`` name, or of ``sso_start_url`` for a legacy profile.
    """
    return hashlib.sha1((session_name or start_url).encode("utf-8")).hexdigest()


def directory_problem(info: os.stat_result) -> str | None:
    """Why a cache directory with this ``stat`` must not be used, or None.

    A directory writable by its group is usable: every entry is checked on its
    own (owner, mode), so a group member can plant nothing that is trusted.
    :class:`FileCache` tightens such a directory anyway.
    """
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != os.getuid():
        return "it is owned by another user"
    if info.st_mode & stat.S_IWOTH:
        return "it is writable by others"
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


def read_entry(
    directory: str | os.PathLike[str], key: str, *, role_arn: str | None = None
) -> dict[str, Any] | None:
    """The ``Credentials`` of the entry ``<directory>/<key>.json``, if it can be trusted.

    Its ``Expiration`` is returned parsed (an aware datetime). Never raises,
    never blocks: a symlink, FIFO or device, another user's file, a file
    readable by others, an entry for another role than ``role_arn`` (where it
    records ``AssumedRoleUser.Arn``), and anything corrupt (JSON nested a
    million deep, a year 1e20) give None and a DEBUG log line.
    """
    name = f"{key}.json"
    try:
        return _read_trusted(os.path.join(directory, name), name, role_arn)
    except Exception as error:
        log.debug(
            "credential cache entry %s is corrupt or foreign (%s): ignored",
            name,
            type(error).__name__,
        )
        return None


# Never follow a symlink, never wait on a FIFO or a device.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _read_trusted(path: str, name: str, role_arn: str | None) -> dict[str, Any] | None:
    document = read_private_json(path, name)
    if document is None:
        return None
    fields = document["Credentials"]
    if not all(isinstance(fields.get(field), str) and fields[field] for field in FIELDS):
        raise ValueError("incomplete Credentials")
    assumed = document.get("AssumedRoleUser")
    if role_arn is not None and assumed is not None and not same_role(assumed.get("Arn"), role_arn):
        log.debug("credential cache entry %s is for another role than %s: ignored", name, role_arn)
        return None
    entry = dict(fields)
    entry["Expiration"] = parse_expiration(fields["Expiration"])
    return entry


def read_private_json(path: str, name: str) -> Any:
    """The JSON document in ``path`` if the file can be trusted, else None (DEBUG log).

    Trusted: a regular file (never a symlink, FIFO or device: nothing blocks),
    owned by the user and readable by nobody else. Raises ``ValueError``
    (or ``RecursionError``) for text that is not JSON; callers treat any
    exception as a corrupt file.
    """
    try:
        # Check the type before opening: a FIFO is never opened at all.
        if not stat.S_ISREG(os.lstat(path).st_mode):
            log.debug("credential cache entry %s is not a regular file: ignored", name)
            return None
        fd = os.open(path, _OPEN_FLAGS)
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
        if info.st_uid != os.getuid():
            log.debug("credential cache entry %s is another user's: ignored", name)
            return None
        if info.st_mode & 0o077:
            log.debug("credential cache entry %s is readable by others: ignored", name)
            return None
        raw = file.read(1 << 20)
    return json.loads(raw)


def write_private(directory: str | os.PathLike[str], name: str, text: str) -> None:
    """Write ``text`` to ``<directory>/<name>`` atomically, mode 0600.

    A temporary file in the same directory, flushed to disk, then renamed over
    the old one: a reader sees the old file or the new one, never half of one.
    """
    import tempfile

    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as file:  # mkstemp creates it 0600
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
