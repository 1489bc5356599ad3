"""``aiostscreds credential-process``: a warm path that imports almost nothing.

Every AWS CLI command runs the credential process, so a valid cached entry is
answered with the standard library and botocore's config loader only: no
aiobotocore, no aiohttp, no event loop. Only a miss builds the role chain.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import time

from .._cache_format import (
    DEFAULT_DIRECTORY,
    assume_role_cache_key,
    directory_problem,
    profile_role_request,
    read_entry,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING would import typing
if TYPE_CHECKING:
    from typing import Any

    from .._credentials import Credentials

__all__ = ["obtain", "process_document", "run_credential_process"]

log = logging.getLogger("aiostscreds")

# botocore's process provider refreshes credentials with under 15 minutes left
# on every access, so the command hands out credentials with more than that.
_BOTOCORE_ADVISORY = 15 * 60


def min_remaining(duration_seconds: float | None) -> float:
    """Seconds of life credentials must have left to be handed out.

    botocore's advisory window (15 minutes), or half the session for sessions
    of 30 minutes or less, which could otherwise never be handed out twice.
    """
    if duration_seconds is None:
        return _BOTOCORE_ADVISORY
    return min(_BOTOCORE_ADVISORY, duration_seconds / 2)


def _profile_section(profile: str) -> dict[str, Any]:
    """The profile's merged config and credentials-file keys, read as botocore reads them."""
    import botocore.configloader
    import botocore.exceptions

    config_file = os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")
    try:
        config = botocore.configloader.load_config(config_file)
    except botocore.exceptions.ConfigNotFound:
        config = {"profiles": {}}
    section = dict(config.get("profiles", {}).get(profile, {}))
    credentials_file = os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    with contextlib.suppress(botocore.exceptions.ConfigNotFound):
        section.update(botocore.configloader.raw_config_parse(credentials_file).get(profile, {}))
    return section


def warm_entry(profile: str, *, mfa_session: bool = False) -> dict[str, Any] | None:
    """The cached credentials of ``profile``'s role, if fresh enough to hand out.

    The key is the one the profile's top :class:`AssumeRoleProvider` uses: the
    AssumeRole request its profile configures (:func:`profile_role_request`,
    which the profile code builds the hop from), keyed by the shared function.
    The entry is read by FileCache's reader, with the role check. With an MFA
    session the role is assumed without ``SerialNumber``, so the key has none.
    Anything unexpected means a miss; the full path then reports it.
    """
    try:
        section = _profile_section(profile)
    except Exception:
        return None
    try:
        request = profile_role_request(section, mfa_session=mfa_session)
    except ValueError:
        return None
    if request is None:
        return None
    key = assume_role_cache_key(request, explicit_session_name=True, explicit_duration=True)
    directory = os.path.expanduser(DEFAULT_DIRECTORY)
    try:
        if directory_problem(os.stat(directory)) is not None:
            return None
    except OSError:
        return None
    # The same reader as FileCache's, with the role check: an entry for another
    # role under this file name is never handed out.
    entry = read_entry(directory, key, role_arn=request["RoleArn"])
    if entry is None:
        return None
    remaining = entry["Expiration"].timestamp() - time.time()
    if remaining <= min_remaining(request.get("DurationSeconds")):
        return None
    return entry


def _expiration_text(expiration: dt.datetime) -> str:
    return expiration.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def process_document(fields: dict[str, Any]) -> dict[str, Any]:
    """The ``credential_process`` JSON for credential fields (as the cache holds them)."""
    return {
        "Version": 1,
        "AccessKeyId": fields["AccessKeyId"],
        "SecretAccessKey": fields["SecretAccessKey"],
        "SessionToken": fields["SessionToken"],
        "Expiration": _expiration_text(fields["Expiration"]),
    }


def _fields(credentials: Credentials) -> dict[str, Any]:
    return {
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "SessionToken": credentials.session_token,
        "Expiration": credentials.expiration,
    }


def _duration_seconds(top: object) -> float | None:
    duration = getattr(top, "duration", None)
    return None if duration is None else float(duration.total_seconds())


async def _cold(profile: str, cache: bool, mfa_session: float | None) -> dict[str, Any]:
    from ._profile import open_profile

    chain = open_profile(profile, cache=cache, mfa_session=mfa_session)
    try:
        credentials = await chain.top.get()
        needed = min_remaining(_duration_seconds(chain.top))
        if credentials.expires_at - time.time() <= needed:
            # A cached entry too old for botocore: one refresh. If it fails, the
            # credentials held are still valid: hand them out rather than fail.
            from .._errors import CredentialsError

            try:
                credentials = await chain.top.force_refresh()
            except CredentialsError as error:
                if chain.top.is_expired():
                    raise
                log.warning("could not refresh early: %s; handing out what is held", error)
        return _fields(credentials)
    finally:
        await chain.aclose()


def obtain(args: argparse.Namespace) -> dict[str, Any]:
    """The profile's credential fields: from a warm cache entry, else the role chain."""
    if args.cache:
        entry = warm_entry(args.profile, mfa_session=args.mfa_session is not None)
        if entry is not None:
            return entry
    import anyio

    return anyio.run(_cold, args.profile, args.cache, args.mfa_session)


def run_credential_process(args: argparse.Namespace) -> int:
    """Print the ``credential_process`` JSON on stdout."""
    print(json.dumps(process_document(obtain(args))), flush=True)
    return 0
