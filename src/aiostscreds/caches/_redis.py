"""A credential cache in Redis, shared by a fleet: encrypted entries and a cross-host lock.

Needs the ``redis`` extra (coredis and cryptography). coredis is built on anyio,
so the cache runs on asyncio and trio.

One idea, though over 400 lines: the :class:`SharedCache` contract kept over a
network store. Entry encryption, the lock and the circuit breaker that bounds
every Redis operation serve that one contract and share one client's state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import coredis
from coredis.exceptions import LockReleaseError
from coredis.patterns.lock import Lock
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .._arn import same_role
from .._credentials import Credentials
from .._errors import ConfigurationError
from .._policy import Duration, to_seconds

__all__ = ["RedisCache"]

log = logging.getLogger("aiostscreds")

T = TypeVar("T")

# An entry: MAGIC | key id (8 bytes) | nonce (12 bytes) | AES-GCM ciphertext and tag.
_MAGIC = b"asc1"
_KEY_ID_SIZE = 8
_NONCE_SIZE = 12
_KEY_SIZE = 32
_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_SCHEMES = ("redis", "rediss", "unix")
_FAILED: Any = object()  # what _call returns when Redis could not be used


def _key_id(key: bytes) -> bytes:
    # Names a key without revealing it: a domain-separated SHA-256 of 256 random bits.
    return hashlib.sha256(b"aiostscreds redis key id\x00" + key).digest()[:_KEY_ID_SIZE]


def _check_keys(keys: object) -> list[tuple[bytes, AESGCM]]:
    if isinstance(keys, (bytes, bytearray, str)) or not isinstance(keys, Sequence):
        raise ConfigurationError(
            "encryption_keys must be a sequence of 32-byte keys (bytes), the first of which "
            "encrypts; got " + type(keys).__name__
        )
    if not keys:
        raise ConfigurationError("encryption_keys must hold at least one 32-byte key")
    checked = []
    for index, key in enumerate(keys):
        if not isinstance(key, (bytes, bytearray)):
            raise ConfigurationError(
                f"encryption_keys[{index}] must be bytes (for example base64-decoded), "
                f"not {type(key).__name__}"
            )
        if len(key) != _KEY_SIZE:
            raise ConfigurationError(
                f"encryption_keys[{index}] must be exactly {_KEY_SIZE} bytes (AES-256), "
                f"not {len(key)}"
            )
        checked.append((_key_id(bytes(key)), AESGCM(bytes(key))))
    return checked


def _check_namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise ConfigurationError(
            "namespace must be 1-100 characters of letters, digits and _.:- "
            "starting with a letter or digit"
        )
    return namespace


def _client_from_url(url: str, timeout: float) -> coredis.Redis[bytes]:
    # Never quote the URL in an error: it may carry the password.
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigurationError("url is not a valid URL") from None
    if parts.scheme not in _SCHEMES:
        raise ConfigurationError(
            "url must start with redis://, rediss:// or unix:// (for Cluster or Sentinel, "
            "pass a coredis client)"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigurationError("url must name a host, as in redis://host:6379/0")
    if parts.scheme == "unix" and not parts.path:
        raise ConfigurationError("url must name a socket path, as in unix:///run/redis.sock")
    try:
        return coredis.Redis.from_url(
            url, decode_responses=False, stream_timeout=timeout, connect_timeout=timeout
        )
    except Exception:
        raise ConfigurationError("url is not a URL coredis accepts") from None


def _describe_location(client: Any) -> str:
    # Where the server is, for the repr and log lines: coredis's pool location
    # (host:port or a socket path), never the password.
    location = getattr(getattr(client, "connection_pool", None), "location", None)
    return str(location) if location else type(client).__name__


class RedisCache:
    """Assumed-role credentials in Redis, shared by every host of a fleet.

    Pass it as ``cache=`` to :class:`AssumeRoleProvider` or
    :func:`session_from_profile` in every process of the fleet: each refresh
    then costs the fleet one STS call, however many hosts start together.
    Needs the ``redis`` extra: ``pip install 'aiostscreds[redis]'``.

    **Lifecycle.** Use it as ``async with RedisCache(...) as cache:`` (or
    ``await cache.aclose()`` after entering), in the task that owns it, before
    any provider uses it: a coredis client must be entered before use. Outside
    that block the cache does nothing (one WARNING) and providers call STS
    themselves. A client you pass in is entered and exited too (coredis counts
    entries), so it may or may not be entered already.

    **Encryption.** Values are AES-GCM encrypted with the first of
    ``encryption_keys``; the key's id and the entry's Redis key are
    authenticated as associated data, so an entry cannot be moved to another
    key. Every key decrypts, so keys rotate: put the new key first on every
    host, wait one credential lifetime, then drop the old one. An entry that
    does not decrypt (another key, tampering, garbage) is ignored with a DEBUG
    line and replaced by the next refresh; it never raises. Redis sees the key
    names (a namespace and SHA-1 hex digests), encrypted values and their
    TTLs, which end with the credentials.

    **The lock and its TTL.** "Read, else refresh and write" runs under a
    Redis lock per entry: ``SET NX PX`` with a random owner token, released by
    coredis's compare-and-delete script, so only its owner deletes it.
    ``lock_timeout`` is the lock's TTL: a holder that dies mid-refresh stops
    the others for at most that long. Waiters poll with cancellable sleeps and
    wait up to twice ``lock_timeout``: long enough for a dead holder's TTL to
    run out *and* for the live peer that takes the lock next to finish, so a
    waiter never gives up while a live peer is refreshing and never makes a
    second STS call for the same refresh. The provider then reads the entry
    once more under the lock before calling STS. A refresh that outlives the
    TTL (an MFA prompt, with ``allow_mfa=True``) loses the lock: raise
    ``lock_timeout`` above the time a human takes.

    **Redis trouble is never a credential outage.** Every Redis operation is
    bounded by ``operation_timeout``, the client's retries included, so a
    server that accepts connections but never answers costs a refresh one
    ``operation_timeout``. A failure (refused, timeout, authentication) makes
    the provider call STS itself; it is logged as one WARNING per incident,
    then DEBUG, and Redis is left alone for ``operation_timeout`` before the
    next try. Sharing resumes at the first operation that succeeds (INFO).

    **MFA.** Credentials from an STS call that carried an MFA code are not
    stored unless ``allow_mfa=True``. A role whose policy demands
    ``aws:MultiFactorAuthPresent`` trusts that a human typed a code for this
    session; shared through Redis, that session would serve hosts where
    nobody did. Turn it on only when every host sharing the namespace is
    meant to act on that one human's authentication.

    **Cluster and Sentinel.** Pass a coredis client instead of a URL:
    ``coredis.RedisCluster(...)``, or ``coredis.Sentinel(...).primary_for(name)``.
    Entries and locks each live under one key, so they work on a cluster
    (coredis's lock waits for replication to half the replicas there).

    Args:
        redis: A ``redis://``, ``rediss://`` or ``unix://`` URL, or a coredis
            client (``decode_responses=False``).
        encryption_keys: One or more 32-byte keys (``os.urandom(32)``), the
            same on every host. The first encrypts; all decrypt.
        namespace: Prefix of every Redis key; separates fleets or
            environments that share a server.
        lock_timeout: The lock's TTL. Default 30 s.
        operation_timeout: Bound on each Redis operation. Default 2 s.
        allow_mfa: Share MFA-derived credentials too. Default False.

    Raises:
        ConfigurationError: An argument is invalid.
    """

    def __init__(
        self,
        redis: str | coredis.Redis[Any] | coredis.RedisCluster[Any],
        *,
        encryption_keys: Sequence[bytes],
        namespace: str = "aiostscreds",
        lock_timeout: Duration = dt.timedelta(seconds=30),
        operation_timeout: Duration = dt.timedelta(seconds=2),
        allow_mfa: bool = False,
    ) -> None:
        self._keys = _check_keys(encryption_keys)
        self.namespace = _check_namespace(namespace)
        lock_seconds = to_seconds(lock_timeout, "lock_timeout")
        operation_seconds = to_seconds(operation_timeout, "operation_timeout")
        if lock_seconds < 0.1:
            raise ConfigurationError("lock_timeout must be at least 0.1 s")
        if not 0 < operation_seconds < lock_seconds:
            raise ConfigurationError(
                "operation_timeout must be more than 0 s and less than lock_timeout"
            )
        self.lock_timeout = dt.timedelta(seconds=lock_seconds)
        self.operation_timeout = dt.timedelta(seconds=operation_seconds)
        if not isinstance(allow_mfa, bool):
            raise ConfigurationError("allow_mfa must be True or False")
        self.allow_mfa = allow_mfa
        if isinstance(redis, str):
            self._client: Any = _client_from_url(redis, operation_seconds)
        elif isinstance(redis, coredis.client.Client):
            if redis.decode_responses:
                raise ConfigurationError("the coredis client must use decode_responses=False")
            self._client = redis
        else:
            raise ConfigurationError(
                "redis must be a redis:// URL or a coredis client, "
                f"not {type(redis).__name__}"
            )
        self._location = _describe_location(self._client)
        self._entered = False
        self._closed = False
        self._warned_unentered = False
        self._incident = False
        self._quiet_until = -math.inf

    def __repr__(self) -> str:
        return f"RedisCache({self._location!r}, namespace={self.namespace!r})"

    # Lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> RedisCache:
        if self._closed or self._entered:
            raise RuntimeError("a RedisCache is entered once")
        await self._client.__aenter__()
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop sharing and exit the client; providers then call STS themselves."""
        if self._entered and not self._closed:
            self._closed = True
            await self._client.__aexit__(None, None, None)
        self._closed = True

    # Redis operations, each bounded and never raising ---------------------------------

    def _usable(self) -> bool:
        if self._entered and not self._closed:
            return True
        if not self._warned_unentered:
            self._warned_unentered = True
            log.warning(
                "%r is used outside `async with`: not sharing, providers call STS themselves",
                self,
            )
        return False

    async def _call(
        self, what: str, operation: Callable[[], Awaitable[T]], *, always: bool = False
    ) -> T:
        """``operation()`` bounded by operation_timeout; ``_FAILED`` if Redis let us down.

        ``always`` tries even during the cool-down after a failure.
        """
        if not self._usable() or (not always and time.monotonic() < self._quiet_until):
            return _FAILED  # type: ignore[no-any-return]
        try:
            with anyio.fail_after(self.operation_timeout.total_seconds()):
                result = await operation()
        except Exception as error:
            # Types only: a server's message is not ours to repeat.
            self._quiet_until = time.monotonic() + self.operation_timeout.total_seconds()
            if self._incident:
                log.debug("%r: %s failed again: %s", self, what, type(error).__name__)
            else:
                self._incident = True
                log.warning(
                    "%r unusable (%s during %s): calling STS directly until it is back",
                    self,
                    type(error).__name__,
                    what,
                )
            return _FAILED  # type: ignore[no-any-return]
        if self._incident:
            self._incident = False
            log.info("%r is back: sharing refreshes again", self)
        return result

    def _redis_key(self, key: str, kind: str) -> str:
        return f"{self.namespace}:{kind}:{key}"

    # Encryption ----------------------------------------------------------------------

    def _seal(self, redis_key: str, plaintext: bytes) -> bytes:
        key_id, aead = self._keys[0]
        nonce = os.urandom(_NONCE_SIZE)
        associated = _MAGIC + key_id + redis_key.encode()
        return _MAGIC + key_id + nonce + aead.encrypt(nonce, plaintext, associated)

    def _open(self, redis_key: str, value: bytes) -> bytes | None:
        header = len(_MAGIC) + _KEY_ID_SIZE
        if len(value) < header + _NONCE_SIZE + 16 or not value.startswith(_MAGIC):
            log.debug("redis cache entry %s is not ours: ignored", redis_key)
            return None
        key_id = value[len(_MAGIC) : header]
        nonce = value[header : header + _NONCE_SIZE]
        for candidate_id, aead in self._keys:
            if candidate_id == key_id:
                try:
                    associated = value[:header] + redis_key.encode()
                    return aead.decrypt(nonce, value[header + _NONCE_SIZE :], associated)
                except InvalidTag:
                    break
        log.debug("redis cache entry %s does not decrypt with our keys: ignored", redis_key)
        return None

    # SharedCache -----------------------------------------------------------------------

    async def load(self, key: str, *, role_arn: str | None = None) -> Credentials | None:
        """The credentials stored under ``key``, if an entry decrypts and is for ``role_arn``."""
        redis_key = self._redis_key(key, "entry")
        value = await self._call("GET", lambda: self._client.get(redis_key))
        if value is _FAILED or value is None:
            return None
        plaintext = self._open(redis_key, bytes(value))
        if plaintext is None:
            return None
        try:
            document = json.loads(plaintext)
            credentials = Credentials(
                access_key_id=document["AccessKeyId"],
                secret_access_key=document["SecretAccessKey"],
                session_token=document["SessionToken"],
                expiration=dt.datetime.fromtimestamp(document["ExpiresAt"], dt.timezone.utc),
                account_id=document.get("AccountId") or None,
            )
            assumed = document.get("AssumedRoleArn")
        except (ValueError, TypeError, KeyError, OverflowError, OSError):
            log.debug("redis cache entry %s is malformed: ignored", redis_key)
            return None
        # The key (authenticated with the value) already names the role; this is a second look.
        if role_arn is not None and assumed is not None and not same_role(assumed, role_arn):
            log.debug("redis cache entry %s is for another role: ignored", redis_key)
            return None
        return credentials

    async def store(
        self,
        key: str,
        response: Mapping[str, Any],
        credentials: Credentials,
        *,
        mfa: bool = False,
    ) -> None:
        """Encrypt and store the credentials under ``key`` until they expire.

        Declines MFA-derived credentials unless ``allow_mfa`` is set.
        """
        redis_key = self._redis_key(key, "entry")
        if mfa and not self.allow_mfa:
            log.debug("MFA-derived credentials are not shared through %r", self)
            return
        ttl_ms = int((credentials.expires_at - time.time()) * 1000)
        if ttl_ms <= 1000:
            return
        user = response.get("AssumedRoleUser")
        document = {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "SessionToken": credentials.session_token,
            "ExpiresAt": credentials.expires_at,
            "AccountId": credentials.account_id,
            "AssumedRoleArn": user.get("Arn") if isinstance(user, Mapping) else None,
        }
        value = self._seal(redis_key, json.dumps(document).encode())
        await self._call("SET", lambda: self._client.set(redis_key, value, px=ttl_ms))

    @contextlib.asynccontextmanager
    async def locked(self, key: str, *, mfa: bool = False) -> AsyncIterator[None]:
        """Hold the fleet-wide lock for ``key``, or go on without it (see the class doc).

        An MFA-derived refresh takes no lock unless ``allow_mfa`` is set: its
        entry is never shared, so no other host should wait for its prompt.
        """
        if mfa and not self.allow_mfa:
            yield
            return
        lock: Lock[bytes] = Lock(
            self._client,
            self._redis_key(key, "lock"),
            timeout=self.lock_timeout.total_seconds(),
            blocking=False,
        )
        held = await self._acquire(lock)
        try:
            yield
        finally:
            if held:
                # Always tried, even if an operation under the lock just started the
                # cool-down: a lock left behind stops every other host for its whole TTL.
                with anyio.CancelScope(shield=True):
                    await self._call("unlock", lambda: self._release(lock), always=True)

    async def _release(self, lock: Lock[bytes]) -> None:
        try:
            await lock.release()
        except LockReleaseError:
            # Our TTL ran out during the refresh: the lock is no longer ours to delete.
            log.debug("%r: lock expired before release", self)

    async def _acquire(self, lock: Lock[bytes]) -> bool:
        wait = 2 * self.lock_timeout.total_seconds()
        deadline = time.monotonic() + wait
        pause = 0.01
        while True:
            acquired = await self._call("lock", lock.acquire)
            if acquired is _FAILED:
                return False
            if acquired:
                return True
            if time.monotonic() >= deadline:
                log.warning(
                    "%r: lock not acquired within %.0f s: refreshing without it", self, wait
                )
                return False
            await anyio.sleep(pause)  # cancellable
            pause = min(pause * 2, 0.25)
