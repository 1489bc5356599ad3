"""RedisCache against a real redis-server: encrypted entries, the fleet lock, and Redis
trouble that never becomes a credential outage. The multi-process fleet proofs are in
tests/test_redis_fleet.py."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
from typing import Any

import anyio
import coredis
import pytest

from aiostscreds import AssumeRoleProvider, ConfigurationError, SharedCache
from aiostscreds._cache_format import cache_key
from aiostscreds.caches import RedisCache

from .conftest import MFA_SERIAL, ROLE_ARN
from .redis_server import RedisServer

pytestmark = pytest.mark.anyio

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
ROLE_KEY = cache_key({"RoleArn": ROLE_ARN})


def count_assume_role(client: Any) -> list[int]:
    calls: list[int] = []
    client.meta.events.register("before-send.sts.AssumeRole", lambda **kw: calls.append(1))
    return calls


def redis_cache(server: RedisServer, **options: Any) -> RedisCache:
    options.setdefault("encryption_keys", [KEY])
    options.setdefault("namespace", f"t{os.urandom(4).hex()}")
    return RedisCache(server.url, **options)


async def raw(server: RedisServer) -> coredis.Redis[bytes]:
    return coredis.Redis(host="127.0.0.1", port=server.port, password=server.password)


# Construction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"encryption_keys": []}, "at least one"),
        ({"encryption_keys": KEY}, "sequence of 32-byte keys"),
        ({"encryption_keys": ["k" * 32]}, r"encryption_keys\[0\] must be bytes"),
        ({"encryption_keys": [KEY, b"short"]}, r"encryption_keys\[1\] must be exactly 32"),
        ({"namespace": ""}, "namespace must be"),
        ({"namespace": "has space"}, "namespace must be"),
        ({"namespace": 7}, "namespace must be"),
        ({"lock_timeout": -1}, "lock_timeout must not be negative"),
        ({"lock_timeout": 0}, "lock_timeout must be at least"),
        ({"operation_timeout": 0}, "operation_timeout must be more than 0"),
        ({"lock_timeout": 1, "operation_timeout": 2}, "less than lock_timeout"),
        ({"allow_mfa": "yes"}, "allow_mfa must be True or False"),
    ],
)
def test_bad_arguments_raise_configuration_error_naming_them(
    options: dict[str, Any], message: str
) -> None:
    options.setdefault("encryption_keys", [KEY])
    with pytest.raises(ConfigurationError, match=message):
        RedisCache("redis://127.0.0.1:6379/0", **options)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379", "must start with redis://"),
        ("redis://:secret-pw@127.0.0.1:notaport/0", "not a valid URL"),
        ("redis://", "must name a host"),
        ("unix://", "must name a socket path"),
        (6379, "must be a redis:// URL or a coredis client"),
    ],
)
def test_a_bad_url_or_client_raises_configuration_error_without_quoting_it(
    url: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        RedisCache(url, encryption_keys=[KEY])
    assert "secret-pw" not in str(raised.value)


def test_a_client_that_decodes_responses_is_refused() -> None:
    client = coredis.Redis(decode_responses=True)
    with pytest.raises(ConfigurationError, match="decode_responses=False"):
        RedisCache(client, encryption_keys=[KEY])


def test_the_repr_names_the_server_never_the_password(redis_server: RedisServer) -> None:
    cache = redis_cache(redis_server)
    assert isinstance(cache, SharedCache)
    assert f"127.0.0.1:{redis_server.port}" in repr(cache)
    assert redis_server.password not in repr(cache)


def test_importing_the_package_does_not_import_coredis_or_cryptography() -> None:
    import subprocess
    import sys

    code = (
        "import sys, aiostscreds; "
        "print(sorted(m for m in ('coredis', 'cryptography') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    ).stdout
    assert out.strip() == "[]"


# Sharing, encryption ------------------------------------------------------------------


async def test_two_hosts_share_one_assume_role_call(
    sts_client: Any, redis_server: RedisServer
) -> None:
    calls = count_assume_role(sts_client)
    namespace = f"t{os.urandom(4).hex()}"
    async with redis_cache(redis_server, namespace=namespace) as one, redis_cache(
        redis_server, namespace=namespace
    ) as two:
        first = await AssumeRoleProvider(sts_client, ROLE_ARN, cache=one).get_credentials()
        second = await AssumeRoleProvider(sts_client, ROLE_ARN, cache=two).get_credentials()
    assert first == second
    assert len(calls) == 1


async def test_entries_are_encrypted_and_expire_with_the_credentials(
    sts_client: Any, redis_server: RedisServer
) -> None:
    async with redis_cache(redis_server) as cache, await raw(redis_server) as client:
        credentials = await AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache).get_credentials()
        keys = [key async for key in client.scan_iter(match=f"{cache.namespace}:*")]
        assert [k.decode() for k in keys] == [f"{cache.namespace}:entry:{ROLE_KEY}"]
        value = await client.get(keys[0])
        ttl_ms = await client.pttl(keys[0])
    assert value is not None
    for secret in (credentials.secret_access_key, credentials.session_token):
        assert secret.encode() not in value
    assert credentials.access_key_id.encode() not in value
    remaining = credentials.expires_at - dt.datetime.now(dt.timezone.utc).timestamp()
    assert 0 < ttl_ms / 1000 <= remaining + 1


@pytest.mark.parametrize("damage", ["flipped", "truncated", "other_key", "garbage", "moved"])
async def test_a_damaged_entry_is_ignored_and_replaced(
    sts_client: Any, redis_server: RedisServer, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls = count_assume_role(sts_client)
    async with redis_cache(redis_server) as cache, await raw(redis_server) as client:
        entry = f"{cache.namespace}:entry:{ROLE_KEY}"
        await AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache).get_credentials()
        good = await client.get(entry)
        assert good is not None
        if damage == "flipped":
            bad = good[:-5] + bytes([good[-5] ^ 1]) + good[-4:]
        elif damage == "truncated":
            bad = good[: len(good) // 2]
        elif damage == "garbage":
            bad = b"\x00not an entry at all"
        elif damage == "other_key":
            async with redis_cache(
                redis_server, namespace=cache.namespace, encryption_keys=[OTHER_KEY]
            ) as stranger:
                await AssumeRoleProvider(sts_client, ROLE_ARN, cache=stranger).force_refresh()
            bad = await client.get(entry)
            assert bad is not None and bad != good
        else:  # a valid entry of another key, copied over: the key is authenticated
            other = cache_key({"RoleArn": ROLE_ARN, "ExternalId": "xx"})
            entry_other = f"{cache.namespace}:entry:{other}"
            await client.set(entry_other, good)
            provider = AssumeRoleProvider(sts_client, ROLE_ARN, external_id="xx", cache=cache)
            before = len(calls)
            with caplog.at_level(logging.DEBUG, logger="aiostscreds"):
                await provider.get_credentials()
            assert len(calls) == before + 1
            assert await client.get(entry_other) != good
            return
        await client.set(entry, bad, px=600_000)
        before = len(calls)
        with caplog.at_level(logging.DEBUG, logger="aiostscreds"):
            fresh = await AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache).get_credentials()
        # Ignored, never raised: one more STS call, and the entry is replaced by one that loads.
        assert len(calls) == before + 1
        assert await client.get(entry) not in (bad, good)
        assert await cache.load(ROLE_KEY, role_arn=ROLE_ARN) == fresh
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_rotated_keys_still_decrypt_old_entries_and_write_with_the_new_key(
    sts_client: Any, redis_server: RedisServer
) -> None:
    calls = count_assume_role(sts_client)
    namespace = f"t{os.urandom(4).hex()}"
    async with redis_cache(redis_server, namespace=namespace, encryption_keys=[KEY]) as old:
        written = await AssumeRoleProvider(sts_client, ROLE_ARN, cache=old).get_credentials()
    async with redis_cache(
        redis_server, namespace=namespace, encryption_keys=[OTHER_KEY, KEY]
    ) as rotated:
        provider = AssumeRoleProvider(sts_client, ROLE_ARN, cache=rotated)
        read = await provider.get_credentials()
        assert read == written and len(calls) == 1
        renewed = await provider.force_refresh()
        assert len(calls) == 2
    async with redis_cache(redis_server, namespace=namespace, encryption_keys=[OTHER_KEY]) as new:
        assert await new.load(ROLE_KEY, role_arn=ROLE_ARN) == renewed


async def test_an_entry_for_another_role_is_not_served(
    sts_client: Any, redis_server: RedisServer
) -> None:
    async with redis_cache(redis_server) as cache:
        await AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache).get_credentials()
        other_role = "arn:aws:iam::123456789012:role/another"
        assert await cache.load(ROLE_KEY, role_arn=ROLE_ARN) is not None
        assert await cache.load(ROLE_KEY, role_arn=other_role) is None


async def test_mfa_derived_credentials_are_not_shared_unless_allowed(
    sts_client: Any, redis_server: RedisServer
) -> None:
    calls = count_assume_role(sts_client)
    prompts: list[str] = []

    async def code(serial_number: str) -> str:
        prompts.append(serial_number)
        return "123456"

    def provider(cache: RedisCache) -> AssumeRoleProvider:
        return AssumeRoleProvider(
            sts_client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=code, cache=cache
        )

    namespace = f"t{os.urandom(4).hex()}"
    async with redis_cache(redis_server, namespace=namespace) as one, redis_cache(
        redis_server, namespace=namespace
    ) as two:
        await provider(one).get_credentials()
        await provider(two).get_credentials()
    assert len(calls) == 2 and len(prompts) == 2  # each host's human typed a code
    namespace = f"t{os.urandom(4).hex()}"
    async with redis_cache(redis_server, namespace=namespace, allow_mfa=True) as one, redis_cache(
        redis_server, namespace=namespace, allow_mfa=True
    ) as two:
        await provider(one).get_credentials()
        await provider(two).get_credentials()
    assert len(calls) == 3 and len(prompts) == 3


# Redis trouble ---------------------------------------------------------------------------


async def test_an_unentered_cache_warns_once_and_providers_call_sts(
    sts_client: Any, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    calls = count_assume_role(sts_client)
    cache = redis_cache(redis_server)
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        for _ in range(3):
            await AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache).get_credentials()
    assert len(calls) == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "outside `async with`" in warnings[0]


@pytest.mark.parametrize("trouble", ["refused", "wrong_password", "stopped"])
async def test_redis_trouble_means_sts_with_one_warning_per_incident_then_sharing_again(
    sts_client: Any,
    own_redis_server: RedisServer,
    trouble: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = own_redis_server
    calls = count_assume_role(sts_client)
    url = server.url
    if trouble == "wrong_password":
        url = url.replace(server.password, "wrong")
    # "stopped" uses a client of the user's own, without timeouts: only the cache's
    # operation_timeout stands between a silent server and a hung refresh.
    target: Any = url
    if trouble == "stopped":
        target = coredis.Redis(host="127.0.0.1", port=server.port, password=server.password)
    cache = RedisCache(
        target,
        encryption_keys=[KEY],
        lock_timeout=dt.timedelta(seconds=2),
        operation_timeout=dt.timedelta(seconds=0.3),
    )
    async with cache:
        if trouble == "refused":
            server.kill()
        elif trouble == "stopped":  # accepts connections, never answers
            assert server.process is not None
            server.process.send_signal(signal.SIGSTOP)
        try:
            with caplog.at_level(logging.DEBUG, logger="aiostscreds"):
                for _ in range(3):
                    # Each host-refresh is bounded: a hang would trip this guard, not the test.
                    with anyio.fail_after(20):
                        provider = AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache)
                        credentials = await provider.get_credentials()
                    assert credentials.access_key_id.startswith("ASIA")
                    await anyio.sleep(0.35)  # past the cool-down: each refresh tries Redis again
        finally:
            if trouble == "stopped" and len(calls) < 3:  # let the teardown talk to it
                assert server.process is not None
                server.process.send_signal(signal.SIGCONT)
        assert len(calls) == 3
        records = [r for r in caplog.records if r.name == "aiostscreds"]
        warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings
        assert "calling STS directly" in warnings[0]
        assert "shared cache" not in warnings[0]  # the provider's own guard never fired
        if trouble == "wrong_password":
            return
        if trouble == "refused":
            server.start()
        else:
            assert server.process is not None
            server.process.send_signal(signal.SIGCONT)
        await anyio.sleep(0.35)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="aiostscreds"):
            first = await AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache).get_credentials()
            second = await AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache).get_credentials()
        assert first == second and len(calls) == 4  # shared again
        assert any("is back" in r.getMessage() for r in caplog.records)


async def test_the_lock_is_released_only_by_its_owner(redis_server: RedisServer) -> None:
    async with redis_cache(redis_server) as cache, await raw(redis_server) as client:
        lock_key = f"{cache.namespace}:lock:{ROLE_KEY}"
        async with cache.locked(ROLE_KEY):
            owner_token = await client.get(lock_key)
            assert owner_token is not None
            assert 0 < await client.pttl(lock_key) <= 30_000  # a dead holder frees it by TTL
            # Our TTL ran out and another host took the lock: our release must not free it.
            await client.set(lock_key, b"another-host", px=30_000)
        assert await client.get(lock_key) == b"another-host"
        await client.delete([lock_key])
        async with cache.locked(ROLE_KEY):
            pass
        assert await client.get(lock_key) is None  # our own lock is released on exit


async def test_an_mfa_refresh_takes_no_fleet_lock_unless_mfa_entries_are_shared(
    redis_server: RedisServer,
) -> None:
    # Its entry is never shared, so no other host may queue behind its human's prompt.
    async with redis_cache(redis_server) as cache, await raw(redis_server) as client:
        lock_key = f"{cache.namespace}:lock:{ROLE_KEY}"
        async with cache.locked(ROLE_KEY, mfa=True):
            assert await client.get(lock_key) is None
    async with redis_cache(redis_server, allow_mfa=True) as cache, await raw(
        redis_server
    ) as client:
        lock_key = f"{cache.namespace}:lock:{ROLE_KEY}"
        async with cache.locked(ROLE_KEY, mfa=True):
            assert await client.get(lock_key) is not None
