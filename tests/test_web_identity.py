"""WebIdentityProvider and web identity profiles, against moto's STS on loopback."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiobotocore.credentials import AioCredentialResolver
from aiobotocore.session import AioSession

from aiostscreds import (
    AssumeRoleProvider,
    ConfigurationError,
    RefreshError,
    RefreshPolicy,
    WebIdentityProvider,
    install,
    profile_provider,
    session_from_profile,
)

from .hygiene import HYGIENE
from .moto_recorder import recording

pytestmark = pytest.mark.anyio

WEB_ROLE = "arn:aws:iam::333333333333:role/irsa/web-role"
TOP_ROLE = "arn:aws:iam::444444444444:role/top"
ROTATED = "eyJhbGciOiJSUzI1NiJ9.cm90YXRlZCBieSB0aGUga3ViZWxldA.c2lnbmF0dXJlMg"
BOTH_BACKENDS = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    # The token is a bearer credential: the hygiene check fails any log line,
    # exception message or repr of the library's that carries it.
    HYGIENE.note_secret(TOKEN)
    HYGIENE.note_secret(ROTATED)
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def sts_endpoint(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_endpoint)
    return moto_endpoint


def web_identity_calls(requests: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in requests if r.get("Action") == "AssumeRoleWithWebIdentity"]


class CredentialProbe:
    """A credential provider that counts how often a session looks for credentials."""

    METHOD = "probe"
    CANONICAL_NAME = "Probe"

    def __init__(self) -> None:
        self.loads = 0

    async def load(self) -> None:
        self.loads += 1


@BOTH_BACKENDS
async def test_web_identity_provider_assumes_the_role_with_an_unsigned_call(
    sts_endpoint: str, token_file: Path, client_config: Any
) -> None:
    probe = CredentialProbe()
    unsigned_session = AioSession()
    unsigned_session.register_component("credential_provider", AioCredentialResolver([probe]))
    provider = WebIdentityProvider.from_session(
        unsigned_session,
        WEB_ROLE,
        token_file,
        role_session_name="pod-1",
        client_config=client_config,
    )
    with recording(sts_endpoint) as server:
        credentials = await provider.get_credentials()
        session = install(AioSession(), provider)
        async with session.create_client("sts", config=client_config) as sts:
            identity = await sts.get_caller_identity()
        (call,) = web_identity_calls(server.requests())
    assert identity["Arn"] == "arn:aws:sts::333333333333:assumed-role/web-role/pod-1"
    assert call["WebIdentityToken"] == TOKEN  # read from the file, stripped
    assert call["RoleArn"] == WEB_ROLE and call["RoleSessionName"] == "pod-1"
    assert "_signing_key" not in call  # unsigned: no Authorization header at all
    assert "DurationSeconds" not in call  # STS's default, 1 hour
    assert probe.loads == 0  # the session's credentials were never even looked up
    assert credentials.account_id == "333333333333"
    assert provider.duration == dt.timedelta(hours=1)
    assert TOKEN not in repr(provider)


@BOTH_BACKENDS
async def test_token_file_is_read_again_at_every_refresh(
    sts_endpoint: str, token_file: Path, client_config: Any
) -> None:
    provider = WebIdentityProvider.from_session(
        AioSession(), WEB_ROLE, token_file, client_config=client_config
    )
    with recording(sts_endpoint) as server:
        await provider.get_credentials()
        await anyio.Path(token_file).write_text(ROTATED)  # Kubernetes rotates it
        await provider.force_refresh()
        tokens = [call["WebIdentityToken"] for call in web_identity_calls(server.requests())]
    assert tokens == [TOKEN, ROTATED]


@BOTH_BACKENDS
@pytest.mark.parametrize("problem", ["missing", "empty", "directory", "fifo"])
async def test_unusable_token_file_is_a_recoverable_error_naming_the_file_then_recovers(
    sts_endpoint: str, tmp_path: Path, client_config: Any, problem: str
) -> None:
    path = tmp_path / "token"
    if problem == "empty":
        path.write_text(" \n")
    elif problem == "directory":
        path.mkdir()
    elif problem == "fifo":
        os.mkfifo(path)  # never opened: it would block the refresh
    provider = WebIdentityProvider.from_session(
        AioSession(), WEB_ROLE, path, client_config=client_config
    )
    with recording(sts_endpoint) as server:
        with pytest.raises(RefreshError) as caught:
            await provider.get_credentials()
        assert web_identity_calls(server.requests()) == []
        assert caught.value.recoverable
        assert str(path) in str(caught.value)
        # Kubernetes writes it: the next call reads it and succeeds.
        if path.is_dir():
            path.rmdir()
        elif path.exists():
            path.unlink()
        path.write_text(TOKEN)
        await provider.get_credentials()
        assert len(web_identity_calls(server.requests())) == 1


class NoSTS:
    calls = 0

    async def assume_role_with_web_identity(self, **kwargs: Any) -> Any:
        NoSTS.calls += 1
        raise AssertionError("no STS call for bad input")


@pytest.mark.parametrize(
    ("arguments", "options", "named"),
    [
        ((WEB_ROLE, None), {}, "token_file"),
        ((WEB_ROLE, 3), {}, "token_file"),
        ((WEB_ROLE, b"/var/run/token"), {}, "token_file"),
        ((WEB_ROLE, ""), {}, "token_file"),
        ((WEB_ROLE, "a\x00b"), {}, "token_file"),
        (("arn:aws:iam::1:role/x", "/t"), {}, "role_arn"),
        ((WEB_ROLE, "/t"), {"duration": 100}, "duration"),
        ((WEB_ROLE, "/t"), {"duration": 50000}, "duration"),
        ((WEB_ROLE, "/t"), {"role_session_name": "has space"}, "role_session_name"),
        ((WEB_ROLE, "/t"), {"policy_arns": ["nope"]}, "policy_arns"),
        ((WEB_ROLE, "/t"), {"policy": "[" * 3000}, "policy"),
        ((WEB_ROLE, "/t"), {"refresh": "often"}, "refresh"),
        ((WEB_ROLE, "/t"), {"refresh": RefreshPolicy(expiry_window=3600)}, "expiry_window"),
    ],
)
def test_bad_parameters_are_configuration_errors_naming_them(
    arguments: tuple[Any, ...], options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        WebIdentityProvider(NoSTS(), *arguments, **options)
    assert NoSTS.calls == 0


# Profiles ---------------------------------------------------------------------------


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sts_endpoint: str) -> Any:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", *ENVIRONMENT_FORM):
        monkeypatch.delenv(name, raising=False)

    def write(text: str) -> None:
        path = tmp_path / "config"
        path.write_text(text)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(path))

    return write


ENVIRONMENT_FORM = ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_web_identity_profile_is_supported_directly(
    write_config: Any, token_file: Path, sts_endpoint: str
) -> None:
    write_config(
        f"[profile irsa]\nrole_arn = {WEB_ROLE}\nweb_identity_token_file = {token_file}\n"
        "role_session_name = from-profile\n"
    )
    with recording(sts_endpoint) as server:
        session = session_from_profile("irsa")
        async with session.create_client("sts") as sts:
            identity = await sts.get_caller_identity()
        (call,) = web_identity_calls(server.requests())
    assert identity["Arn"] == "arn:aws:sts::333333333333:assumed-role/web-role/from-profile"
    assert "_signing_key" not in call


async def test_web_identity_profile_as_a_source_profile_then_assume_role(
    write_config: Any, token_file: Path, sts_endpoint: str
) -> None:
    write_config(
        f"[profile irsa]\nrole_arn = {WEB_ROLE}\nweb_identity_token_file = {token_file}\n"
        f"[profile top]\nrole_arn = {TOP_ROLE}\nsource_profile = irsa\n"
        "role_session_name = on-top\n"
    )
    handle = profile_provider("top")
    with recording(sts_endpoint) as server:
        async with handle.session.create_client("sts") as sts:
            identity = await sts.get_caller_identity()
        requests = server.requests()
    web, top = handle.hops
    assert isinstance(web, WebIdentityProvider) and isinstance(top, AssumeRoleProvider)
    assert identity["Arn"] == "arn:aws:sts::444444444444:assumed-role/top/on-top"
    actions = [r["Action"] for r in requests if r.get("Action", "").startswith("Assume")]
    assert actions == ["AssumeRoleWithWebIdentity", "AssumeRole"]
    (assume_role,) = [r for r in requests if r.get("Action") == "AssumeRole"]
    web_credentials = web.credentials
    assert web_credentials is not None
    assert assume_role["_signing_key"] == web_credentials.access_key_id


async def test_environment_form_is_honoured_when_no_profile_is_named(
    write_config: Any, token_file: Path, sts_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config("")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # botocore's environment keys would come first
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ROLE_ARN", WEB_ROLE)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "from-env")
    with recording(sts_endpoint) as server:
        session = session_from_profile()
        async with session.create_client("sts") as sts:
            identity = await sts.get_caller_identity()
        assert len(web_identity_calls(server.requests())) == 1
    assert identity["Arn"] == "arn:aws:sts::333333333333:assumed-role/web-role/from-env"


async def test_environment_form_wins_key_by_key_over_the_profile_chosen_by_aws_profile(
    write_config: Any, token_file: Path, sts_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        f"[profile irsa]\nrole_arn = {TOP_ROLE}\nweb_identity_token_file = {token_file}\n"
        "role_session_name = from-profile\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "irsa")  # chosen, not named: the environment counts
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.setenv("AWS_ROLE_ARN", WEB_ROLE)
    handle = profile_provider()
    assert handle.top.request == {"RoleArn": WEB_ROLE, "RoleSessionName": "from-profile"}


def test_environment_form_is_ignored_for_an_explicit_profile_as_botocore_does(
    write_config: Any, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        f"[profile static]\nregion = us-east-1\n[profile irsa]\nrole_arn = {TOP_ROLE}\n"
        f"web_identity_token_file = {token_file}\n"
    )
    monkeypatch.setenv("AWS_ROLE_ARN", WEB_ROLE)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    assert profile_provider("irsa").top.request["RoleArn"] == TOP_ROLE
    with pytest.raises(ConfigurationError, match="'static'"):
        profile_provider("static")  # no role of its own: the environment's isn't taken


def test_environment_keys_come_before_the_environment_web_identity(
    write_config: Any, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config("")
    monkeypatch.setenv("AWS_ROLE_ARN", WEB_ROLE)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    with pytest.raises(ConfigurationError, match="neither role_arn"):
        profile_provider()  # AWS_ACCESS_KEY_ID is set: botocore's EnvProvider wins


@pytest.mark.parametrize(
    ("config", "environment", "named"),
    [
        ("[profile p]\nweb_identity_token_file = /t\n", {}, "profile 'p'"),
        ("", {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}, "AWS_ROLE_ARN"),
        (
            f"[profile p]\nrole_arn = {WEB_ROLE}\nweb_identity_token_file = /t\n"
            "role_session_name = has space\n",
            {},
            "role_session_name in profile 'p'",
        ),
        (
            f"[profile p]\nrole_arn = {WEB_ROLE}\nweb_identity_token_file = /t\n"
            "duration_seconds = 10\n",
            {},
            "duration_seconds",
        ),
        (
            f"[profile p]\nrole_arn = {WEB_ROLE}\nweb_identity_token_file = /t\n"
            f"[profile q]\nrole_arn = {TOP_ROLE}\nsource_profile = p\nduration_seconds = 7200\n",
            {},
            "1 hour",
        ),
    ],
)
def test_bad_web_identity_config_is_a_configuration_error(
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
    config: str,
    environment: dict[str, str],
    named: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_config(config)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    profile = None if not config else ("q" if "profile q" in config else "p")
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigurationError, match=named):
        profile_provider(profile)


# Precedence, differentially: the provider botocore's own chain picks is the one we build.

PROFILE_KINDS = {
    "static": "aws_access_key_id = AKIAPROFILESTATIC001\naws_secret_access_key = s\n",
    "web": "role_arn = {web_role}\nweb_identity_token_file = {token_file}\n",
    "role": "role_arn = {top_role}\nsource_profile = base\n",
}
PRECEDENCE_CASES = [
    (how, kind, env_keys, env_web)
    for how in ("explicit", "aws_profile", "implied-empty")
    for kind in (PROFILE_KINDS if how != "implied-empty" else ["none"])
    for env_keys in (False, True)
    for env_web in (False, True)
]


def _botocore_method() -> str | None:
    import botocore.session

    profile = os.environ.pop("_TEST_EXPLICIT_PROFILE", None)
    credentials = botocore.session.Session(profile=profile).get_credentials()
    return None if credentials is None else str(credentials.method)


@pytest.mark.parametrize(("how", "kind", "env_keys", "env_web"), PRECEDENCE_CASES)
async def test_the_provider_botocore_would_pick_is_the_one_built(
    write_config: Any,
    monkeypatch: pytest.MonkeyPatch,
    token_file: Path,
    how: str,
    kind: str,
    env_keys: bool,
    env_web: bool,
) -> None:
    documented_difference = how == "aws_profile" and env_keys and kind in ("web", "role")
    config = "[profile base]\naws_access_key_id = AKIABASE000000000001\naws_secret_access_key = s\n"
    if how != "implied-empty":
        body = PROFILE_KINDS[kind].format(
            web_role=WEB_ROLE, top_role=TOP_ROLE, token_file=token_file
        )
        config += f"[profile p]\n{body}"
    write_config(config)
    if not env_keys:
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    if env_web:
        monkeypatch.setenv("AWS_ROLE_ARN", TOP_ROLE)
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    if how == "aws_profile":
        monkeypatch.setenv("AWS_PROFILE", "p")
    if how == "explicit":
        monkeypatch.setenv("_TEST_EXPLICIT_PROFILE", "p")
    expected = _botocore_method()
    if documented_difference:
        # botocore lets the environment's keys win; aiostscreds serves the role that
        # AWS_PROFILE names (docs/design.md, "Differences from botocore").
        assert expected == "env"
        expected = "assume-role" if kind == "role" else "assume-role-with-web-identity"

    from aiostscreds._profiles import _assemble

    session, providers = _assemble(
        "p" if how == "explicit" else None,
        token_provider=None,
        cache=None,
        refresh=RefreshPolicy(),
        region_name=None,
    )
    if providers:
        top = providers[-1]
        built = (
            "assume-role-with-web-identity"
            if isinstance(top, WebIdentityProvider)
            else "assume-role"
        )
        if isinstance(top, WebIdentityProvider) and documented_difference:
            assert top.role_arn == WEB_ROLE  # the profile's, as AWS_PROFILE names it
        elif isinstance(top, WebIdentityProvider) and env_web and how != "explicit":
            assert top.role_arn == TOP_ROLE  # the environment's role_arn won
    else:
        credentials = await session.get_credentials()
        built = None if credentials is None else credentials.method
    assert built == expected


@pytest.mark.parametrize("problem", ["too long", "not ascii"])
async def test_a_refused_token_is_in_no_local_of_the_library_frames_of_the_error(
    tmp_path: Path, problem: str
) -> None:
    # Error reporters (Sentry...) record repr() of every local of every frame.
    secret = "eyJREFUSEDTOKENSECRET"
    path = tmp_path / "token"
    if problem == "too long":
        path.write_text(secret + "A" * 20000)
    else:
        path.write_bytes(secret.encode() + b"\xff")
    provider = WebIdentityProvider(NoSTS(), WEB_ROLE, path)
    with pytest.raises(RefreshError) as caught:
        await provider.retrieve()
    assert NoSTS.calls == 0
    traceback = caught.value.__traceback__
    seen = 0
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_globals.get("__name__", "").startswith("aiostscreds"):
            for value in frame.f_locals.values():
                seen += 1
                assert secret not in repr(value)
        traceback = traceback.tb_next
    assert seen
