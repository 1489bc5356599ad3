"""MFA once for many roles: one GetSessionToken with MFA, roles assumed without a prompt."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from aiostscreds import ConfigurationError, FileCache, session_from_profile
from aiostscreds._mfa_session import mfa_session_cache_key
from tests.conftest import MFA_SERIAL
from tests.moto_recorder import recording

pytestmark = pytest.mark.anyio

SOURCE_KEY = "AKIAMFASESSIONSRC001"
ROLE_A = "arn:aws:iam::123456789012:role/mfa-session-a"
ROLE_B = "arn:aws:iam::123456789012:role/mfa-session-b"
EIGHT_HOURS = dt.timedelta(hours=8)


@pytest.fixture
def config(tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config"
    path.write_text(
        f"""[profile user]
aws_access_key_id = {SOURCE_KEY}
aws_secret_access_key = mfa-session-source-secret
region = us-east-1

[profile a]
role_arn = {ROLE_A}
source_profile = user
mfa_serial = {MFA_SERIAL}

[profile b]
role_arn = {ROLE_B}
source_profile = user
mfa_serial = {MFA_SERIAL}

[profile long]
role_arn = {ROLE_A}
source_profile = user
mfa_serial = {MFA_SERIAL}
duration_seconds = 7200

[profile env]
role_arn = {ROLE_A}
credential_source = Environment
mfa_serial = {MFA_SERIAL}
"""
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_endpoint)
    return path


class Prompts:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, serial_number: str) -> str:
        self.count += 1
        return f"{self.count:06d}"


async def _call_as(profile: str, cache: FileCache, prompts: Prompts, client_config: Any) -> str:
    session = session_from_profile(
        profile,
        token_provider=prompts,
        cache=cache,
        mfa_session=EIGHT_HOURS,
        client_config=client_config,
    )
    async with session.create_client("sts") as sts:
        return str((await sts.get_caller_identity())["Arn"])


def _calls(requests: list[dict[str, str]], action: str) -> list[dict[str, str]]:
    return [request for request in requests if request.get("Action") == action]


@pytest.mark.usefixtures("config")
async def test_two_roles_on_one_source_share_one_mfa_session_and_one_prompt(
    tmp_path: Path, moto_endpoint: str, client_config: Any
) -> None:
    cache = FileCache(tmp_path / "cache")
    prompts = Prompts()
    with recording(moto_endpoint) as recorder:
        assert ":assumed-role/mfa-session-a/" in await _call_as("a", cache, prompts, client_config)
        await _call_as("b", cache, prompts, client_config)
        await _call_as("a", cache, prompts, client_config)  # a new process's view: all cached
        requests = recorder.requests()
    session_calls = _calls(requests, "GetSessionToken")
    role_calls = _calls(requests, "AssumeRole")
    assert prompts.count == 1
    assert len(session_calls) == 1
    assert session_calls[0]["SerialNumber"] == MFA_SERIAL
    assert session_calls[0]["DurationSeconds"] == str(8 * 3600)
    assert session_calls[0]["_signing_key"] == SOURCE_KEY
    assert sorted(call["RoleArn"] for call in role_calls) == [ROLE_A, ROLE_B]
    for call in role_calls:
        assert "SerialNumber" not in call and "TokenCode" not in call
        assert call["_signing_key"] != SOURCE_KEY  # signed by the MFA session
    entry = tmp_path / "cache" / f"{mfa_session_cache_key(SOURCE_KEY, MFA_SERIAL)}.json"
    assert entry.stat().st_mode & 0o077 == 0
    assert "TokenCode" not in entry.read_text()

    # The session expires (and so have the roles): exactly one new prompt.
    document = json.loads(entry.read_text())
    document["Credentials"]["Expiration"] = "2020-01-01T00:00:00Z"
    entry.write_text(json.dumps(document))
    for role_entry in (tmp_path / "cache").glob("*.json"):
        if role_entry != entry:
            role_entry.unlink()
    with recording(moto_endpoint) as recorder:
        await _call_as("a", cache, prompts, client_config)
        await _call_as("b", cache, prompts, client_config)
        requests = recorder.requests()
    assert prompts.count == 2
    assert len(_calls(requests, "GetSessionToken")) == 1
    assert len(_calls(requests, "AssumeRole")) == 2


@pytest.mark.usefixtures("config")
@pytest.mark.parametrize(
    ("profile", "mfa_session", "words"),
    [
        ("a", dt.timedelta(seconds=899), "mfa_session must be between 900 and 129600"),
        ("a", dt.timedelta(hours=37), "mfa_session must be between 900 and 129600"),
        ("long", EIGHT_HOURS, "duration_seconds in profile 'long' must be at most 3600"),
        ("env", EIGHT_HOURS, "long-term keys"),
    ],
)
async def test_mfa_session_limits_are_checked_before_any_call(
    moto_endpoint: str, profile: str, mfa_session: dt.timedelta, words: str
) -> None:
    with recording(moto_endpoint) as recorder:
        with pytest.raises(ConfigurationError, match=words):
            session_from_profile(profile, token_provider=Prompts(), mfa_session=mfa_session)
        assert recorder.requests() == []


@pytest.mark.usefixtures("config")
def test_the_source_secret_is_in_no_local_of_the_library_frames_a_config_error_passes() -> None:
    # Error reporters (Sentry...) record repr() of every local of every frame.
    with pytest.raises(ConfigurationError) as caught:
        session_from_profile("long", token_provider=Prompts(), mfa_session=EIGHT_HOURS)
    traceback = caught.value.__traceback__
    seen = 0
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_globals.get("__name__", "").startswith("aiostscreds"):
            for value in frame.f_locals.values():
                seen += 1
                assert "mfa-session-source-secret" not in repr(value)
        traceback = traceback.tb_next
    assert seen
