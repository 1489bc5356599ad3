"""IAM Identity Center (SSO) profiles: the token, its refresh, the role credentials.

The SSO portal and SSO-OIDC are a local fake of their wire protocol
(tests/sso_fake.py); STS is moto; the token file is written by botocore's own
code, as ``aws sso login`` writes it. Calls are counted at the fake.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from botocore.tokens import _sso_json_dumps
from botocore.utils import JSONFileCache

from aiostscreds import (
    ConfigurationError,
    Credentials,
    FileCache,
    RefreshError,
    RefreshPolicy,
    SSOLoginRequiredError,
    SSOProvider,
    profile_provider,
    session_from_profile,
)
from aiostscreds._cache_format import sso_role_cache_key, sso_token_cache_key
from aiostscreds._source import SourceInfo
from aiostscreds.caches import RedisCache
from aiostscreds.instrumentation import CredentialsIssued, LoggingHook
from tests.cli_env import COMMAND

from . import sso_fake
from .fakes import Recorder
from .redis_server import RedisServer
from .sso_fake import ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET, ROLE_NAME, SSOFake

pytestmark = pytest.mark.anyio

START_URL = "https://corp.awsapps.com/start"
SESSION = "corp"
DEPLOY_ROLE = "arn:aws:iam::222222222222:role/deploy"

CONFIG = f"""\
[sso-session {SESSION}]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile dev]
sso_session = {SESSION}
sso_account_id = {ACCOUNT_ID}
sso_role_name = {ROLE_NAME}
region = us-east-1

[profile legacy]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_account_id = {ACCOUNT_ID}
sso_role_name = {ROLE_NAME}
region = us-east-1

[profile deploy]
role_arn = {DEPLOY_ROLE}
source_profile = dev
role_session_name = sso-chain
region = us-east-1
"""


@attrs.define
class Home:
    """A user's home with ~/.aws, the fake's and moto's endpoints."""

    path: Path
    fake: SSOFake
    moto_endpoint: str

    @property
    def token_dir(self) -> Path:
        return self.path / ".aws" / "sso" / "cache"

    @property
    def cli_cache(self) -> Path:
        return self.path / ".aws" / "cli" / "cache"

    def token_path(self, *, legacy: bool = False) -> Path:
        key = sso_token_cache_key(session_name=None if legacy else SESSION, start_url=START_URL)
        return self.token_dir / f"{key}.json"

    def login(
        self,
        *,
        lifetime: float = 8 * 3600,
        refreshable: bool = True,
        legacy: bool = False,
        valid: bool = True,
    ) -> str:
        """What ``aws sso login`` leaves: the token file, written by botocore's own cache."""
        access, expires = self.fake.issue_access_token(lifetime)
        if not valid:
            self.fake.revoke_all()
        token: dict[str, Any] = {
            "startUrl": START_URL,
            "region": "us-east-1",
            "accessToken": access,
            "expiresAt": dt.datetime.fromtimestamp(expires, dt.timezone.utc),
        }
        if refreshable and not legacy:
            token.update(
                clientId=CLIENT_ID,
                clientSecret=CLIENT_SECRET,
                registrationExpiresAt=(
                    dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=90)
                ).strftime("%Y-%m-%dT%H:%M:%SZ"),
                refreshToken=self.fake.issue_refresh_token(),
            )
        cache = JSONFileCache(str(self.token_dir), dumps_func=_sso_json_dumps)
        key = sso_token_cache_key(session_name=None if legacy else SESSION, start_url=START_URL)
        cache[key] = token
        return access

    def token(self, *, legacy: bool = False) -> dict[str, Any]:
        return dict(json.loads(self.token_path(legacy=legacy).read_text()))

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """``argv`` as a subprocess in this home, with its environment only."""
        return subprocess.run(
            argv,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            cwd=self.path,
        )

    def environment(self) -> dict[str, str]:
        """A subprocess's whole environment: nothing inherited from the test runner's."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.path),
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "AWS_CONFIG_FILE": str(self.path / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.path / ".aws" / "credentials"),
            "AWS_ENDPOINT_URL_SSO": self.fake.url,
            "AWS_ENDPOINT_URL_SSO_OIDC": self.fake.url,
            "AWS_ENDPOINT_URL_STS": self.moto_endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        }


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[SSOFake]:
    yield from sso_fake.serve()


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: SSOFake, moto_endpoint: str
) -> Home:
    home = Home(tmp_path / "home", fake, moto_endpoint)
    (home.path / ".aws").mkdir(parents=True)
    (home.path / ".aws" / "config").write_text(CONFIG)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in home.environment().items():
        if name.startswith("AWS_") or name == "HOME":
            monkeypatch.setenv(name, value)
    return home


def run_command(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    """``aiostscreds ARGS`` in the home's environment."""
    return home.run([*COMMAND, *args])


def library_locals(error: BaseException) -> Iterator[str]:
    """repr() of every local of the library's frames an error (and its causes) went through."""
    seen: BaseException | None = error
    while seen is not None:
        traceback = seen.__traceback__
        while traceback is not None:
            frame = traceback.tb_frame
            if frame.f_globals.get("__name__", "").startswith("aiostscreds"):
                yield from (repr(value) for value in frame.f_locals.values())
            traceback = traceback.tb_next
        seen = seen.__cause__ if seen.__cause__ is not seen else None


async def fetch(profile: str, client_config: Any = None, **options: Any) -> Credentials:
    """One profile_provider's credentials, fetched once, the provider closed."""
    async with profile_provider(profile, client_config=client_config, **options) as chain:
        return await chain.top.get()


def refresh_due(home: Home) -> None:
    """A login whose token has 5 minutes left: inside botocore's 15-minute window."""
    home.login(lifetime=300)


# The role credentials -------------------------------------------------------------


async def test_sso_profile_signs_with_role_credentials_from_the_login_token(
    home: Home, client_config: Any
) -> None:
    home.login()
    async with profile_provider("dev", client_config=client_config) as chain:
        assert isinstance(chain.top, SSOProvider)
        credentials = await chain.top.get()
        for _ in range(3):
            assert await chain.top.get() is credentials
    assert credentials.access_key_id in home.fake.issued_keys
    assert credentials.account_id == ACCOUNT_ID
    # Milliseconds converted: about an hour, not 1000 hours or 3.6 seconds.
    lifetime = credentials.expires_at - dt.datetime.now(dt.timezone.utc).timestamp()
    assert 3000 < lifetime <= 3600
    assert home.fake.role_calls == 1
    assert home.fake.token_calls == 0
    assert home.fake.role_requests == [{"role_name": ROLE_NAME, "account_id": ACCOUNT_ID}]


async def test_legacy_sso_start_url_profile_uses_its_own_token_file(
    home: Home, client_config: Any
) -> None:
    home.login(legacy=True)
    await fetch("legacy", client_config)
    assert home.fake.role_calls == 1


async def test_many_tasks_make_one_token_refresh_and_one_role_fetch(
    home: Home, client_config: Any
) -> None:
    refresh_due(home)
    async with profile_provider("dev", client_config=client_config) as chain:
        keys: set[str] = set()

        async def one() -> None:
            keys.add((await chain.top.get()).access_key_id)

        async with anyio.create_task_group() as group:
            for _ in range(50):
                group.start_soon(one)
    assert len(keys) == 1
    assert (home.fake.token_calls, home.fake.role_calls) == (1, 1)


async def test_throttled_get_role_credentials_is_recoverable(
    home: Home, client_config: Any
) -> None:
    home.login()
    home.fake.throttle_role_calls = 1
    async with profile_provider("dev", client_config=client_config) as chain:
        with pytest.raises(RefreshError) as caught:
            await chain.top.retrieve()
        assert caught.value.recoverable
        assert caught.value.code == "TooManyRequestsException"
        home.fake.fail_role_calls = 1
        with pytest.raises(RefreshError) as caught:
            await chain.top.retrieve()
        assert caught.value.recoverable
        await chain.top.retrieve()
    assert home.fake.role_calls == 3


# The token ---------------------------------------------------------------------------


async def test_token_near_expiry_is_refreshed_once_and_written_back_as_botocore_does(
    home: Home, client_config: Any
) -> None:
    refresh_due(home)
    before = home.token()
    await fetch("dev", client_config)
    after = home.token()
    assert home.fake.token_calls == 1
    assert after["accessToken"] != before["accessToken"]
    assert after["refreshToken"] != before["refreshToken"]
    assert after["accessToken"] in home.fake.access_tokens
    assert set(after) == {
        "startUrl",
        "region",
        "accessToken",
        "expiresAt",
        "clientId",
        "clientSecret",
        "registrationExpiresAt",
        "refreshToken",
    }
    assert after["expiresAt"].endswith("Z")
    assert home.token_path().stat().st_mode & 0o777 == 0o600
    # The token outside the window is used as it is: no second CreateToken.
    async with profile_provider("dev", client_config=client_config) as chain:
        await chain.top.force_refresh()
    assert home.fake.token_calls == 1


def open_descriptors_of(path: Path) -> int:
    """How many of this process's file descriptors are open on ``path`` (Linux)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
async def test_token_due_for_refresh_waits_for_the_lock_and_uses_the_token_refreshed_meanwhile(
    home: Home, client_config: Any
) -> None:
    refresh_due(home)
    key = sso_token_cache_key(session_name=SESSION, start_url=START_URL)
    lock_path = home.token_dir / f"{key}.lock"
    outcome: list[Credentials] = []

    async def library() -> None:
        outcome.append(await fetch("dev", client_config))

    # Another process (the AWS CLI, or a second aiostscreds) is refreshing the token.
    async with anyio.create_task_group() as group, FileCache(home.token_dir).locked(key):
        group.start_soon(library)
        with anyio.fail_after(60):
            # Until the library waits on the lock (or skipped it): a condition on the
            # process's open files, which no event can announce.
            while open_descriptors_of(lock_path) < 2 and not home.fake.token_calls:  # noqa: ASYNC110
                await anyio.sleep(0.01)
        assert home.fake.token_calls == 0
        home.fake.revoke_all()  # only the token written meanwhile is valid from now on
        home.login()  # the other process writes its refreshed token, then unlocks
    assert outcome and outcome[0].access_key_id in home.fake.issued_keys
    assert (home.fake.token_calls, home.fake.role_calls) == (0, 1)


async def test_token_outside_botocores_window_is_not_refreshed(
    home: Home, client_config: Any
) -> None:
    home.login(lifetime=16 * 60)
    await fetch("dev", client_config)
    assert home.fake.token_calls == 0


@pytest.mark.parametrize("profile", ["dev", "legacy"])
async def test_expired_token_without_refresh_token_asks_for_aws_sso_login(
    home: Home, client_config: Any, profile: str
) -> None:
    home.login(lifetime=-60, refreshable=False, legacy=profile == "legacy")
    async with profile_provider(profile, client_config=client_config) as chain:
        with pytest.raises(SSOLoginRequiredError) as caught:
            await chain.top.get()
    assert f"aws sso login --profile {profile}" in str(caught.value)
    assert not caught.value.recoverable
    assert caught.value.profile == profile
    assert (home.fake.token_calls, home.fake.role_calls) == (0, 0)


async def test_signing_in_again_needs_no_restart(home: Home, client_config: Any) -> None:
    home.login(lifetime=-60, refreshable=False)
    policy = RefreshPolicy(error_cache=0)
    async with profile_provider("dev", client_config=client_config, refresh=policy) as chain:
        with pytest.raises(SSOLoginRequiredError):
            await chain.top.get()
        home.login()  # aws sso login, in another terminal
        await chain.top.get()
    assert home.fake.role_calls == 1


async def test_refused_refresh_of_an_expired_token_asks_for_aws_sso_login(
    home: Home, client_config: Any
) -> None:
    home.login(lifetime=-60)
    home.fake.reject_refresh_tokens = True
    async with profile_provider("dev", client_config=client_config) as chain:
        with pytest.raises(SSOLoginRequiredError, match="aws sso login --profile dev"):
            await chain.top.get()
    assert (home.fake.token_calls, home.fake.role_calls) == (1, 0)


async def test_failed_refresh_keeps_using_the_token_while_it_is_valid(
    home: Home, client_config: Any
) -> None:
    refresh_due(home)
    home.fake.throttle_token_calls = 1
    await fetch("dev", client_config)
    assert (home.fake.token_calls, home.fake.role_calls) == (1, 1)


async def test_token_the_portal_refuses_asks_for_aws_sso_login(
    home: Home, client_config: Any
) -> None:
    home.login(valid=False)
    async with profile_provider("dev", client_config=client_config) as chain:
        with pytest.raises(SSOLoginRequiredError, match="UnauthorizedException"):
            await chain.top.get()
    assert home.fake.role_calls == 1


@pytest.mark.parametrize("problem", ["missing", "corrupt", "public", "other-start-url", "fifo"])
async def test_unusable_token_file_is_ignored_and_reported_as_aws_sso_login(
    home: Home, problem: str
) -> None:
    home.login()
    path = home.token_path()
    if problem == "missing":
        path.unlink()
    elif problem == "corrupt":
        path.write_text("{not json")
    elif problem == "public":
        path.chmod(0o644)
    elif problem == "other-start-url":
        document = home.token()
        document["startUrl"] = "https://other.awsapps.com/start"
        path.write_text(json.dumps(document))
    else:
        path.unlink()
        os.mkfifo(path, 0o600)
    async with profile_provider("dev") as chain:
        with pytest.raises(SSOLoginRequiredError, match="aws sso login --profile dev"):
            await chain.top.get()
    assert home.fake.role_calls == 0


@pytest.mark.parametrize("failure", ["refresh refused", "token refused"])
async def test_tokens_are_in_no_local_of_the_library_frames_of_the_error(
    home: Home, client_config: Any, failure: str
) -> None:
    # Error reporters (Sentry...) record repr() of every local of every frame.
    if failure == "refresh refused":
        home.login(lifetime=-60)
        home.fake.reject_refresh_tokens = True
    else:
        home.login(valid=False)
    secrets = [home.token()["accessToken"], CLIENT_SECRET]
    secrets += [home.token()["refreshToken"]] if failure == "refresh refused" else []
    async with profile_provider("dev", client_config=client_config) as chain:
        with pytest.raises(SSOLoginRequiredError) as caught:
            await chain.top.retrieve()
    texts = [str(caught.value), repr(chain.top), *library_locals(caught.value)]
    assert not [secret for secret in secrets for text in texts if secret in text]


# Bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("sso_session = corp\nsso_role_name = Developer\n", "sets no sso_account_id"),
        ("sso_session = corp\nsso_account_id = 123456789012\n", "sets no sso_role_name"),
        (
            "sso_session = nowhere\nsso_account_id = 123456789012\nsso_role_name = D\n",
            "[sso-session nowhere], which is not in the shared config",
        ),
        (
            f"sso_start_url = {START_URL}\nsso_account_id = 123456789012\nsso_role_name = D\n",
            "sets no sso_region",
        ),
        (
            "sso_session = corp\nsso_account_id = 1234\nsso_role_name = D\n",
            "sso_account_id in profile 'bad' (with [sso-session corp]) must be a 12-digit",
        ),
        (
            "sso_session = corp\nsso_region = eu-west-1\n"
            "sso_account_id = 123456789012\nsso_role_name = D\n",
            "sso_region in profile 'bad' differs",
        ),
    ],
)
async def test_bad_sso_profile_is_a_configuration_error_naming_profile_and_key(
    home: Home, section: str, words: str
) -> None:
    with (home.path / ".aws" / "config").open("a") as config:
        config.write(f"\n[profile bad]\n{section}")
    with pytest.raises(ConfigurationError) as caught:
        session_from_profile("bad")
    assert words in str(caught.value)
    assert "'bad'" in str(caught.value) or "nowhere" in str(caught.value)
    assert home.fake.role_calls == 0


async def test_sso_source_is_shared_like_any_other_and_not_mfa_derived(home: Home) -> None:
    async with profile_provider("dev") as chain:
        info = chain.top.source.info  # type: ignore[attr-defined]
    key = sso_role_cache_key(
        account_id=ACCOUNT_ID, role_name=ROLE_NAME, session_name=SESSION, start_url=START_URL
    )
    assert info == SourceInfo(kind="sso", role_arn=None, cache_key=key, mfa=False)


async def test_two_hosts_share_one_get_role_credentials_through_redis(
    home: Home, client_config: Any, redis_server: RedisServer
) -> None:
    home.login()
    options: dict[str, Any] = {
        "encryption_keys": [bytes(range(32))],
        "namespace": f"sso{os.urandom(4).hex()}",
    }
    host_one, host_two = (
        RedisCache(redis_server.url, **options),
        RedisCache(redis_server.url, **options),
    )
    async with host_one, host_two:
        first = await fetch("dev", client_config, cache=host_one)
        second = await fetch("dev", client_config, cache=host_two)
    assert second.access_key_id == first.access_key_id
    assert home.fake.role_calls == 1


async def test_sso_refresh_reports_kind_sso_events_to_the_providers_hooks(
    home: Home, client_config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from aiobotocore.session import AioSession

    refresh_due(home)
    recorder = Recorder()
    provider = SSOProvider(
        AioSession(),
        start_url=START_URL,
        sso_region="us-east-1",
        account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        sso_session=SESSION,
        profile="dev",
        client_config=client_config,
        cache=FileCache(home.cli_cache),
        hooks=[recorder, LoggingHook()],
    )
    with caplog.at_level("INFO", logger="aiostscreds"):
        async with provider:
            await provider.get()
    kinds = {type(event).__name__: event.kind for event in recorder.events}  # type: ignore[attr-defined]
    assert set(kinds.values()) == {"sso"}
    assert {"RefreshStarted", "SharedCacheAccessed", "RefreshFinished"} <= set(kinds)
    [issued] = recorder.of(CredentialsIssued)
    assert (issued.operation, issued.role_arn, issued.session_name) == (
        "GetRoleCredentials",
        None,
        None,
    )
    assert "got credentials for the IAM Identity Center role until" in caplog.text
    assert (home.fake.token_calls, home.fake.role_calls) == (1, 1)
    token = home.token()
    secrets = [token["accessToken"], token["refreshToken"], CLIENT_SECRET]
    texts = [caplog.text, *(repr(event) for event in recorder.events)]
    assert not [secret for secret in secrets for text in texts if secret in text]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"account_id": "12"}, "account_id must be a 12-digit AWS account id"),
        ({"account_id": None}, "account_id must be a non-empty single value"),
        ({"role_name": ""}, "role_name must be a non-empty single value"),
        ({"sso_region": "not a region"}, "sso_region must be a region name"),
        ({"start_url": "corp"}, "start_url must be a URL"),
        ({"sso_session": ""}, "sso_session must be a non-empty single value"),
        ({"profile": ""}, "profile must be a non-empty str or None"),
    ],
)
def test_sso_provider_arguments_are_checked_at_construction(
    options: dict[str, Any], words: str
) -> None:
    from aiobotocore.session import AioSession

    arguments: dict[str, Any] = {
        "start_url": START_URL,
        "sso_region": "us-east-1",
        "account_id": ACCOUNT_ID,
        "role_name": ROLE_NAME,
        **options,
    }
    with pytest.raises(ConfigurationError, match=words):
        SSOProvider(AioSession(), **arguments)


@pytest.mark.parametrize("platform", ["no-getuid", "windows"])
def test_platform_without_posix_ownership_refuses_sso_at_construction(
    monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    from aiobotocore.session import AioSession

    from aiostscreds import _sso

    if platform == "no-getuid":
        monkeypatch.delattr(_sso.os, "getuid")
    else:
        monkeypatch.setattr(_sso.os, "name", "nt")
    with pytest.raises(ConfigurationError, match="POSIX file ownership"):
        SSOProvider(
            AioSession(),
            start_url=START_URL,
            sso_region="us-east-1",
            account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
        )


async def test_sso_provider_takes_hooks_of_its_own_like_the_other_providers(
    home: Home, client_config: Any
) -> None:
    from aiobotocore.session import AioSession

    from aiostscreds.instrumentation import get_hooks, set_hooks

    from .fakes import Recorder

    home.login()
    process, own = Recorder(), Recorder()
    saved = get_hooks()
    set_hooks([process])
    try:
        async with SSOProvider(
            AioSession(),
            start_url=START_URL,
            sso_region="us-east-1",
            account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
            sso_session=SESSION,
            client_config=client_config,
            hooks=[own],
        ) as provider:
            credentials = await provider.get_credentials()
    finally:
        set_hooks(saved)
    assert credentials.access_key_id in home.fake.issued_keys
    assert process.events == []
    names = [type(event).__name__ for event in own.events]
    assert names[0] == "RefreshStarted" and names[-1] == "RefreshFinished"
    assert all(event.kind == "sso" for event in own.events)  # type: ignore[attr-defined]


# Shared with botocore and the AWS CLI ------------------------------------------------


def botocore_sso_credentials(home: Home) -> Any:
    """Credentials from botocore's own SSO provider, with the v2 CLI's JSONFileCache."""
    import botocore.session
    from botocore.credentials import SSOProvider as BotocoreSSOProvider

    session = botocore.session.Session(profile="dev")
    provider = BotocoreSSOProvider(
        load_config=lambda: session.full_config,
        client_creator=session.create_client,
        profile_name="dev",
        cache=JSONFileCache(str(home.cli_cache)),
        token_cache=JSONFileCache(str(home.token_dir)),
        token_provider=_botocore_token_provider(session, home),
    )
    return provider.load().get_frozen_credentials()


def _botocore_token_provider(session: Any, home: Home) -> Any:
    from botocore.tokens import SSOTokenProvider

    return SSOTokenProvider(
        session, cache=JSONFileCache(str(home.token_dir), dumps_func=_sso_json_dumps)
    )


async def test_botocore_uses_the_role_credentials_the_library_fetched(
    home: Home, client_config: Any
) -> None:
    home.login()
    cache = FileCache(home.cli_cache)
    async with profile_provider("dev", cache=cache, client_config=client_config) as chain:
        ours = await chain.top.get()
    key = sso_role_cache_key(
        account_id=ACCOUNT_ID, role_name=ROLE_NAME, session_name=SESSION, start_url=START_URL
    )
    entry = json.loads((home.cli_cache / f"{key}.json").read_text())
    assert entry["ProviderType"] == "sso"
    assert entry["Credentials"]["AccountId"] == ACCOUNT_ID
    theirs = await anyio.to_thread.run_sync(botocore_sso_credentials, home)
    assert theirs.access_key == ours.access_key_id
    assert home.fake.role_calls == 1


async def test_the_library_uses_the_role_credentials_botocore_fetched(
    home: Home, client_config: Any
) -> None:
    home.login()
    theirs = await anyio.to_thread.run_sync(botocore_sso_credentials, home)
    assert home.fake.role_calls == 1
    cache = FileCache(home.cli_cache)
    async with profile_provider("dev", cache=cache, client_config=client_config) as chain:
        ours = await chain.top.get()
    assert ours.access_key_id == theirs.access_key
    assert home.fake.role_calls == 1


BOTO3_SCRIPT = """
import json, sys, boto3
session = boto3.Session(profile_name=sys.argv[1])
credentials = session.get_credentials().get_frozen_credentials()
print(json.dumps({"key": credentials.access_key}))
"""


def run_boto3(home: Home, profile: str = "dev") -> str:
    result = home.run([sys.executable, "-c", BOTO3_SCRIPT, profile])
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["key"])


def run_aws_cli(home: Home, profile: str) -> dict[str, Any]:
    result = home.run(
        [sys.executable, "-m", "awscli", "sts", "get-caller-identity", "--profile", profile]
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


async def test_boto3_and_the_aws_cli_use_the_token_the_library_refreshed(
    home: Home, client_config: Any
) -> None:
    refresh_due(home)
    await fetch("dev", client_config)
    assert home.fake.token_calls == 1
    refreshed = home.token()["accessToken"]
    await anyio.to_thread.run_sync(run_boto3, home)
    await anyio.to_thread.run_sync(run_aws_cli, home, "dev")
    assert home.fake.token_calls == 1  # neither made a CreateToken of its own
    assert home.token()["accessToken"] == refreshed
    assert home.fake.role_calls == 3


async def test_the_library_uses_the_token_botocore_refreshed(
    home: Home, client_config: Any
) -> None:
    refresh_due(home)
    await anyio.to_thread.run_sync(run_boto3, home)
    assert home.fake.token_calls == 1
    await fetch("dev", client_config)
    assert home.fake.token_calls == 1
    assert home.fake.role_calls == 2


# Chains and the command -------------------------------------------------------------


async def test_sso_then_assume_role_chain_works_end_to_end_against_moto(
    home: Home, client_config: Any
) -> None:
    home.login()
    session = session_from_profile("deploy", client_config=client_config)
    async with session.create_client("sts", config=client_config) as sts:
        identity = await sts.get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/deploy/sso-chain"
    assert home.fake.role_calls == 1


def test_sixteen_aws_cli_runs_through_credential_process_share_one_refresh_and_one_fetch(
    home: Home,
) -> None:
    refresh_due(home)
    process = shlex.join([*COMMAND, "credential-process", "--profile", "dev"])
    with (home.path / ".aws" / "config").open("a") as config:
        config.write(f"\n[profile proc]\ncredential_process = {process}\n")
    env = home.environment()
    command = [sys.executable, "-m", "awscli", "sts", "get-caller-identity", "--profile", "proc"]
    processes = [
        subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=home.path,
        )
        for _ in range(16)
    ]
    outcomes = [process.communicate(timeout=300) for process in processes]
    failures = [err for (_, err), p in zip(outcomes, processes, strict=True) if p.returncode]
    assert failures == []
    assert all("Account" in json.loads(out) for out, _ in outcomes)
    assert (home.fake.token_calls, home.fake.role_calls) == (1, 1)


def test_expired_token_gives_one_line_and_the_sso_exit_status_listed_in_help(
    home: Home,
) -> None:
    home.login(lifetime=-60, refreshable=False)
    for subcommand in (
        ["credential-process", "--profile", "dev"],
        ["export", "--profile", "dev"],
        ["exec", "--profile", "dev", "--", sys.executable, "-c", "print('ran')"],
        ["exec", "dev", "--", sys.executable, "-c", "print('ran')"],
        ["serve", "--profile", "dev"],
    ):
        result = run_command(home, *subcommand)
        assert result.returncode == 6
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert "aws sso login --profile dev" in lines[0]
        assert "Traceback" not in result.stderr
    assert home.fake.role_calls == 0
    assert "6    IAM Identity Center (SSO): sign-in needed" in run_command(home, "--help").stdout


def test_unreachable_sso_portal_is_named_as_such_not_as_sts(home: Home) -> None:
    home.login()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env = {**home.environment(), "AWS_ENDPOINT_URL_SSO": endpoint}
    result = subprocess.run(
        [*COMMAND, "credential-process", "--profile", "dev"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=home.path,
    )
    assert result.returncode == 5
    [line] = result.stderr.splitlines()
    assert line.startswith("aiostscreds: error: GetRoleCredentials for role Developer")
    assert line.endswith(f"could not connect to the endpoint {endpoint}/federation/credentials")
    assert "STS" not in line


def test_sso_profile_works_with_export_exec_and_serve(home: Home) -> None:
    home.login()
    export = run_command(home, "export", "--format", "json", "--profile", "dev")
    assert export.returncode == 0, export.stderr
    assert json.loads(export.stdout)["AccessKeyId"] in home.fake.issued_keys
    probe = "import boto3; print(boto3.client('sts').get_caller_identity()['Account'])"
    executed = run_command(home, "exec", "--profile", "dev", "--", sys.executable, "-c", probe)
    assert executed.returncode == 0, executed.stderr
    assert home.fake.role_calls == 1  # export cached it; exec used that entry
    with subprocess.Popen(
        [*COMMAND, "serve", "--profile", "dev"],
        env=home.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=home.path,
    ) as server:
        assert server.stdout is not None
        served = dict(
            server.stdout.readline().removeprefix("export ").strip().split("=", 1) for _ in range(2)
        )
        through = run_command(home, "exec", "--env", "--profile", "dev", "--", "true")
        boto3 = subprocess.run(
            [sys.executable, "-c", probe],
            env={**home.environment(), **served},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=home.path,
        )
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert boto3.returncode == 0, boto3.stderr
    assert through.returncode == 0, through.stderr
    assert (server.returncode, stderr) == (0, "")  # serve's clean stop
    assert home.fake.role_calls == 1  # serve, too, answered from the entry export cached


def test_credential_process_answers_an_sso_profile_from_the_cli_cache_without_aiobotocore(
    home: Home,
) -> None:
    home.login()
    cold = run_command(home, "credential-process", "--profile", "dev")
    assert cold.returncode == 0, cold.stderr
    probe = (
        "import sys\n"
        "from aiostscreds.cli import main\n"
        "status = main(['credential-process', '--profile', 'dev'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('aiobotocore', 'aiohttp'))\n"
        "print(repr(heavy), file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    warm = home.run([sys.executable, "-c", probe])
    assert warm.returncode == 0, warm.stderr
    assert warm.stderr.strip() == "[]"
    assert json.loads(warm.stdout)["AccessKeyId"] == json.loads(cold.stdout)["AccessKeyId"]
    assert home.fake.role_calls == 1
