"""FileCache: the AWS CLI's cache files, shared safely across processes."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import multiprocessing
import os
import stat
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.credentials import AssumeRoleCredentialFetcher
from botocore.utils import JSONFileCache

from aiostscreds import AssumeRoleProvider, FileCache

from .conftest import MFA_SERIAL, ROLE_ARN
from .moto_recorder import recording
from .spawned import file_cache_peer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class CountingSTS:
    """A stand-in STS client that counts AssumeRole calls."""

    def __init__(self, lifetime: float = 3600) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lifetime = lifetime

    async def assume_role(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIAFRESHFROMSTS{n:04d}",
                "SecretAccessKey": f"fresh-secret-{n}",
                "SessionToken": f"fresh-token-{n}",
                "Expiration": dt.datetime.now(dt.timezone.utc)
                + dt.timedelta(seconds=self.lifetime),
            },
            "AssumedRoleUser": {
                "Arn": "arn:aws:sts::123456789012:assumed-role/aiostscreds-test/s",
                "AssumedRoleId": "AROAEXAMPLE:s",
            },
        }


async def device(serial_number: str) -> str:
    return "778899"


def botocore_fetcher(directory: Path, extra_args: dict[str, Any]) -> AssumeRoleCredentialFetcher:
    def no_client(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("botocore must read the entry, not call STS")

    return AssumeRoleCredentialFetcher(
        client_creator=no_client,
        source_credentials=None,
        role_arn=ROLE_ARN,
        extra_args=extra_args,
        cache=JSONFileCache(str(directory)),
    )


def entry_path(directory: Path) -> Path:
    (path,) = directory.glob("*.json")
    return path


@pytest.mark.parametrize(
    ("options", "extra_args"),
    [
        ({}, {}),
        ({"role_session_name": "named"}, {"RoleSessionName": "named"}),
        (
            {"external_id": "ext-1", "duration": dt.timedelta(hours=1)},
            {"ExternalId": "ext-1", "DurationSeconds": 3600},
        ),
        (
            {"serial_number": MFA_SERIAL, "token_provider": device},
            {"SerialNumber": MFA_SERIAL},
        ),
    ],
)
async def test_cache_key_is_the_aws_clis(
    tmp_path: Path, options: dict[str, Any], extra_args: dict[str, Any]
) -> None:
    cache = FileCache(tmp_path)
    provider = AssumeRoleProvider(CountingSTS(), ROLE_ARN, cache=cache, **options)
    await provider.get_credentials()
    expected = botocore_fetcher(tmp_path, extra_args)._cache_key
    assert entry_path(tmp_path).name == f"{expected}.json"


@pytest.mark.parametrize("suffix", ["UTC", "Z", "+00:00"])
async def test_entry_written_by_the_cli_is_used_without_an_sts_call(
    tmp_path: Path, suffix: str
) -> None:
    expiration = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(minutes=50)
    key = botocore_fetcher(tmp_path, {"DurationSeconds": 3600})._cache_key
    JSONFileCache(str(tmp_path))[key] = {
        "Credentials": {
            "AccessKeyId": "ASIAWRITTENBYTHECLI1",
            "SecretAccessKey": "cli-secret",
            "SessionToken": "cli-token",
            "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%S") + suffix,
        },
        "AssumedRoleUser": {"Arn": "arn:aws:sts::123456789012:assumed-role/aiostscreds-test/x"},
    }
    client = CountingSTS()
    provider = AssumeRoleProvider(
        client, ROLE_ARN, duration=dt.timedelta(hours=1), cache=FileCache(tmp_path)
    )
    credentials = await provider.get_credentials()
    assert credentials.access_key_id == "ASIAWRITTENBYTHECLI1"
    assert credentials.expiration == expiration
    assert client.calls == []


async def test_entry_we_write_has_the_cli_shape_and_botocore_reads_it(tmp_path: Path) -> None:
    provider = AssumeRoleProvider(
        CountingSTS(),
        ROLE_ARN,
        duration=dt.timedelta(hours=1),
        serial_number=MFA_SERIAL,
        token_provider=device,
        cache=FileCache(tmp_path),
    )
    ours = await provider.get_credentials()
    document = json.loads(entry_path(tmp_path).read_text())
    assert set(document["Credentials"]) == {
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
        "AccountId",
    }
    assert document["Credentials"]["Expiration"].endswith("UTC")
    assert "AssumedRoleUser" in document
    assert "778899" not in entry_path(tmp_path).read_text()  # the token code is never written
    fetched = botocore_fetcher(
        tmp_path, {"DurationSeconds": 3600, "SerialNumber": MFA_SERIAL}
    ).fetch_credentials()
    assert fetched["access_key"] == ours.access_key_id
    assert fetched["token"] == ours.session_token


async def test_files_are_private_and_writes_atomic(tmp_path: Path) -> None:
    directory = tmp_path / "fresh" / "cache"
    await AssumeRoleProvider(CountingSTS(), ROLE_ARN, cache=FileCache(directory)).get_credentials()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry_path(directory).stat().st_mode) == 0o600
    assert not list(directory.glob("*.tmp"))


async def test_our_windows_decide_reuse_not_the_clis_15_minutes(tmp_path: Path) -> None:
    writer = CountingSTS(lifetime=900)
    await AssumeRoleProvider(writer, ROLE_ARN, cache=FileCache(tmp_path)).get_credentials()
    reader = CountingSTS(lifetime=900)
    reused = await AssumeRoleProvider(reader, ROLE_ARN, cache=FileCache(tmp_path)).get_credentials()
    assert reader.calls == []  # under 15 minutes left, yet outside our 60 s expiry window
    assert reused.access_key_id == "ASIAFRESHFROMSTS0001"


async def test_entry_inside_the_expiry_window_is_not_reused(tmp_path: Path) -> None:
    writer = CountingSTS(lifetime=50)  # already inside the default 60 s expiry window
    await AssumeRoleProvider(writer, ROLE_ARN, cache=FileCache(tmp_path)).get_credentials()
    reader = CountingSTS()
    await AssumeRoleProvider(reader, ROLE_ARN, cache=FileCache(tmp_path)).get_credentials()
    assert len(reader.calls) == 1


async def test_invalidated_key_on_disk_is_never_picked_up_again(tmp_path: Path) -> None:
    client = CountingSTS()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=FileCache(tmp_path))
    first = await provider.get_credentials()
    provider.invalidate(first.access_key_id)
    second = await provider.get_credentials()
    assert second.access_key_id != first.access_key_id
    assert len(client.calls) == 2
    assert json.loads(entry_path(tmp_path).read_text())["Credentials"]["AccessKeyId"] == (
        second.access_key_id
    )


async def test_only_entries_newer_than_the_held_credentials_count(tmp_path: Path) -> None:
    client = CountingSTS()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=FileCache(tmp_path))
    await provider.get_credentials()
    await provider.force_refresh()  # the entry on disk is what we hold: not newer
    assert len(client.calls) == 2


async def test_another_process_entry_is_taken_when_newer(tmp_path: Path) -> None:
    ours = CountingSTS()
    provider = AssumeRoleProvider(ours, ROLE_ARN, cache=FileCache(tmp_path))
    held = await provider.get_credentials()
    other = CountingSTS(lifetime=7200)
    other.calls = [{}] * 5  # its keys get other numbers
    other_provider = AssumeRoleProvider(other, ROLE_ARN, cache=FileCache(tmp_path))
    taken = await other_provider.get_credentials()
    assert taken.access_key_id == held.access_key_id  # it takes ours from disk
    await other_provider.force_refresh()  # then refreshes past it, writing a newer entry
    newer = await provider.force_refresh()
    assert newer.access_key_id != held.access_key_id
    assert newer.expires_at > held.expires_at
    assert len(ours.calls) == 1


@pytest.mark.parametrize(
    "plant", ["mode-0644", "symlink", "corrupt", "truncated", "foreign", "expired"]
)
async def test_untrusted_or_unusable_entries_are_ignored_and_replaced(
    tmp_path: Path, plant: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache_dir = tmp_path / "cache"
    await AssumeRoleProvider(CountingSTS(), ROLE_ARN, cache=FileCache(cache_dir)).get_credentials()
    path = entry_path(cache_dir)
    good = path.read_text()
    if plant == "mode-0644":
        path.chmod(0o644)
    elif plant == "symlink":
        target = tmp_path / "elsewhere.json"
        target.write_text(good)
        target.chmod(0o600)
        path.unlink()
        path.symlink_to(target)
    elif plant == "corrupt":
        path.write_text("{not json")
    elif plant == "truncated":
        path.write_text(good[: len(good) // 2])
    elif plant == "foreign":
        path.write_text(json.dumps({"ProviderType": "sso", "AccessToken": "x"}))
    elif plant == "expired":
        document = json.loads(good)
        document["Credentials"]["Expiration"] = "2001-01-01T00:00:00Z"
        path.write_text(json.dumps(document))
    client = CountingSTS()
    with caplog.at_level(logging.DEBUG, logger="aiostscreds"):
        credentials = await AssumeRoleProvider(
            client, ROLE_ARN, cache=FileCache(cache_dir)
        ).get_credentials()
    assert len(client.calls) == 1  # not trusted: STS was asked
    assert not path.is_symlink()
    assert json.loads(path.read_text())["Credentials"]["AccessKeyId"] == credentials.access_key_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_directory_writable_by_others_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    client = CountingSTS()
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        await AssumeRoleProvider(client, ROLE_ARN, cache=FileCache(shared)).get_credentials()
    assert list(shared.iterdir()) == []
    assert any("writable by others" in r.getMessage() for r in caplog.records)
    assert len(client.calls) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory away needs root")
async def test_directory_owned_by_another_user_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 4242, 4242)
    client = CountingSTS()
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        await AssumeRoleProvider(client, ROLE_ARN, cache=FileCache(foreign)).get_credentials()
    assert list(foreign.iterdir()) == []
    assert any("owned by another user" in r.getMessage() for r in caplog.records)
    assert len(client.calls) == 1


async def test_lock_timeout_refreshes_without_the_lock_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = FileCache(tmp_path, lock_timeout=0.2)
    client = CountingSTS()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=cache)
    lock_path = tmp_path / f"{provider.source.info.cache_key}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process is mid-refresh and never finishes
    try:
        with caplog.at_level(logging.WARNING, logger="aiostscreds"):
            await provider.get_credentials()
    finally:
        os.close(fd)
    assert len(client.calls) == 1
    assert any("refreshing without it" in r.getMessage() for r in caplog.records)


async def test_waiting_for_the_lock_is_cancellable(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, lock_timeout=60)
    provider = AssumeRoleProvider(CountingSTS(), ROLE_ARN, cache=cache)
    fd = os.open(tmp_path / f"{provider.source.info.cache_key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with anyio.move_on_after(0.2) as scope:
            await provider.retrieve()
        assert scope.cancelled_caught
    finally:
        os.close(fd)


def test_lock_timeout_is_validated() -> None:
    from aiostscreds import ConfigurationError

    with pytest.raises(ConfigurationError, match="lock_timeout"):
        FileCache("/tmp/x", lock_timeout=-1)


# Across processes ---------------------------------------------------------------------

CONFIG = f"""
[profile role]
role_arn = {ROLE_ARN}
source_profile = base
mfa_serial = {MFA_SERIAL}
region = us-east-1
"""
CREDENTIALS = """
[base]
aws_access_key_id = AKIAMULTIPROCESS0001
aws_secret_access_key = multi-process-secret
"""


def test_eight_processes_make_one_assume_role_call_and_one_prompt(
    tmp_path: Path, moto_endpoint: str
) -> None:
    (tmp_path / "config").write_text(CONFIG)
    (tmp_path / "credentials").write_text(CREDENTIALS)
    environment = {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_ENDPOINT_URL_STS": moto_endpoint,
    }
    prompt_log = tmp_path / "prompts.log"
    prompt_log.touch()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    ready = context.Queue()
    go = context.Event()  # set once every process is up and has imported everything
    with recording(moto_endpoint) as server:
        processes = [
            context.Process(
                target=file_cache_peer,
                args=(environment, str(tmp_path / "cache"), str(prompt_log), ready, go, results),
            )
            for _ in range(8)
        ]
        for process in processes:
            process.start()
        assert len({ready.get(timeout=120) for _ in processes}) == 8
        go.set()
        arns = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
        assume_role_calls = server.assume_role_calls(ROLE_ARN)
    assert assume_role_calls == 1
    assert len(prompt_log.read_text().splitlines()) == 1
    assert len(set(arns)) == 1 and ":assumed-role/aiostscreds-test/" in arns[0]


# Hostile or broken entries (issue 9, item 4) ------------------------------------------


def _deeply_nested() -> str:
    return '{"Credentials": ' + "[" * 100_000 + "]" * 100_000 + "}"


def _entry(
    expiration: str, arn: str = "arn:aws:sts::123456789012:assumed-role/aiostscreds-test/s"
) -> str:
    return json.dumps(
        {
            "Credentials": {
                "AccessKeyId": "ASIAPLANTEDENTRY0001",
                "SecretAccessKey": "planted-secret",
                "SessionToken": "planted-token",
                "Expiration": expiration,
            },
            "AssumedRoleUser": {"Arn": arn, "AssumedRoleId": "AROAPLANTED:s"},
        }
    )


def _in_an_hour() -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(_deeply_nested, id="json-nested-100000-deep"),
        pytest.param(lambda: _entry("1e20"), id="expiration-1e20"),
        pytest.param(lambda: _entry("99999-12-31T00:00:00Z"), id="expiration-year-99999"),
        pytest.param(lambda: _entry("nan"), id="expiration-nan"),
        pytest.param(lambda: '{"Credentials": 1e999999}', id="huge-number"),
        pytest.param(
            lambda: "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"), id="bad-utf8"
        ),
        pytest.param(
            lambda: _entry(_in_an_hour(), "arn:aws:sts::123456789012:assumed-role/other-role/s"),
            id="another-role",
        ),
        pytest.param(
            lambda: _entry(
                _in_an_hour(), "arn:aws:sts::999999999999:assumed-role/aiostscreds-test/s"
            ),
            id="another-account",
        ),
        pytest.param(lambda: _entry(_in_an_hour(), "not an arn"), id="unparseable-role"),
    ],
)
async def test_hostile_or_broken_entry_is_ignored_and_replaced_after_one_sts_call(
    tmp_path: Path, content: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cache = FileCache(tmp_path)
    client = CountingSTS()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=cache)
    path = tmp_path / f"{provider.source.info.cache_key}.json"
    path.write_text(content(), encoding="latin-1")
    path.chmod(0o600)
    with caplog.at_level(logging.DEBUG, logger="aiostscreds"):
        credentials = await provider.get_credentials()
    assert len(client.calls) == 1
    assert credentials.access_key_id == "ASIAFRESHFROMSTS0001"
    assert json.loads(path.read_text())["Credentials"]["AccessKeyId"] == credentials.access_key_id
    ignored = [r for r in caplog.records if "ignored" in r.getMessage()]
    assert ignored and all(r.levelno == logging.DEBUG for r in ignored)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_entry_for_the_same_role_reached_by_a_path_is_trusted(tmp_path: Path) -> None:
    role = "arn:aws:iam::123456789012:role/team/ops/aiostscreds-test"
    cache = FileCache(tmp_path)
    provider = AssumeRoleProvider(CountingSTS(), role, cache=cache)
    path = tmp_path / f"{provider.source.info.cache_key}.json"
    path.write_text(_entry(_in_an_hour()))  # assumed-role ARNs carry the name, not the path
    path.chmod(0o600)
    assert (await provider.get_credentials()).access_key_id == "ASIAPLANTEDENTRY0001"


class FifoProbe:
    """Watches a FIFO: a reader blocked on it would be found and released."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.blocked_readers = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self.stop.wait(0.02):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody is reading
                continue
            self.blocked_readers += 1
            os.close(fd)  # the reader gets EOF and goes on

    def __enter__(self) -> FifoProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join()


async def test_fifo_at_the_entry_path_never_blocks_the_refresh_or_aclose(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    client = CountingSTS()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=cache)
    path = tmp_path / f"{provider.source.info.cache_key}.json"
    os.mkfifo(path, 0o600)
    with FifoProbe(path) as probe:
        credentials = await provider.get_credentials()
        await provider.aclose()
    assert probe.blocked_readers == 0  # the FIFO was never opened
    assert len(client.calls) == 1
    assert stat.S_ISREG(path.lstat().st_mode)  # replaced by a real entry
    assert json.loads(path.read_text())["Credentials"]["AccessKeyId"] == credentials.access_key_id


@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's files needs root")
async def test_lock_file_planted_by_another_user_is_replaced(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    client = CountingSTS()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=cache)
    lock = tmp_path / f"{provider.source.info.cache_key}.lock"
    lock.touch(mode=0o666)
    os.chown(lock, 4242, 4242)
    await provider.get_credentials()
    assert lock.stat().st_uid == os.getuid()
    assert len(client.calls) == 1


# umask 002: the directory botocore creates (item 3) -----------------------------------


@pytest.fixture
def umask_002() -> Any:
    previous = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(previous)


def _botocore_writes_an_entry(directory: Path, key: str) -> None:
    JSONFileCache(str(directory))[key] = json.loads(_entry(_in_an_hour()))


async def test_directory_botocore_made_under_umask_002_is_tightened_and_shared(
    tmp_path: Path, umask_002: None, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / ".aws" / "cli" / "cache"
    client = CountingSTS()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=FileCache(directory))
    _botocore_writes_an_entry(directory, provider.source.info.cache_key)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o775  # what botocore leaves
    with caplog.at_level(logging.INFO, logger="aiostscreds"):
        credentials = await provider.get_credentials()
    assert client.calls == []  # botocore's entry was used: one prompt between the two
    assert credentials.access_key_id == "ASIAPLANTEDENTRY0001"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    (line,) = [r for r in caplog.records if "tightened" in r.getMessage()]
    assert line.levelno == logging.INFO


@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's files needs root")
async def test_group_member_gets_nothing_trusted_in_a_umask_002_directory(
    tmp_path: Path, umask_002: None
) -> None:
    directory = tmp_path / "cache"
    client = CountingSTS()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=FileCache(directory))
    _botocore_writes_an_entry(directory, provider.source.info.cache_key)
    # A member of the group planted their own entry before we first ran.
    path = directory / f"{provider.source.info.cache_key}.json"
    os.chown(path, 4242, os.getgid())
    await provider.get_credentials()
    assert len(client.calls) == 1
    assert path.stat().st_uid == os.getuid()


async def test_world_writable_directory_is_refused_not_tightened(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    await AssumeRoleProvider(CountingSTS(), ROLE_ARN, cache=FileCache(shared)).get_credentials()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o777
    assert list(shared.iterdir()) == []


# Bad input and platforms (items 5 and 8) ----------------------------------------------


NO_SUCH_USER = "aiostscreds-no-such-user"


@pytest.mark.parametrize("directory", [None, 3, b"/tmp/cache", "", "a\x00b", 1.5, ["x"]])
def test_bad_directory_is_a_configuration_error(directory: Any) -> None:
    from aiostscreds import ConfigurationError

    with pytest.raises(ConfigurationError, match="directory"):
        FileCache(directory)


def test_a_home_directory_that_cannot_be_found_is_a_configuration_error() -> None:
    # Path.expanduser raises RuntimeError for an unknown ~user: refused at construction.
    import pwd

    from aiostscreds import ConfigurationError

    with pytest.raises(KeyError):
        pwd.getpwnam(NO_SUCH_USER)
    with pytest.raises(ConfigurationError, match=f"directory starts with '~{NO_SUCH_USER}'"):
        FileCache(f"~{NO_SUCH_USER}/cache")


@pytest.mark.parametrize("platform", ["no-fcntl", "no-getuid", "windows"])
def test_platform_without_posix_locks_and_ownership_is_refused_at_construction(
    monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    from aiostscreds import ConfigurationError
    from aiostscreds.caches import _file

    if platform == "no-fcntl":
        monkeypatch.setattr(_file, "fcntl", None)
    elif platform == "no-getuid":
        monkeypatch.delattr(_file.os, "getuid")
    else:
        monkeypatch.setattr(_file.os, "name", "nt")
    with pytest.raises(ConfigurationError, match="RedisCache"):
        FileCache("/tmp/never-created")
