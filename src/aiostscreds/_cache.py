"""The engine: the one object that holds credentials and refreshes them.

One idea, though over 400 lines: the state of a credential supply and every
rule that changes it. Single flight (one refresh at a time, one outcome for
every waiter), the refresh policy's windows, backoff and the error cache,
rejected keys, and the step through a shared cache ("lock, load, else fetch
and store", with the trust checks) all read and write the same few fields;
split apart, each part would have to reach into the others' state.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import random
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar

import anyio
import anyio.lowlevel
import attrs

from ._credentials import Credentials
from ._errors import (
    ConfigurationError,
    CredentialsError,
    CredentialsExpiredError,
    CredentialsRejectedError,
    RefreshError,
    fresh_copy,
    is_recoverable,
)
from ._gate import Gate, new_gate
from ._policy import RefreshPolicy, backoff_seconds, error_cache_seconds, schedule
from ._source import CredentialSource, ShareableSource, SourceInfo
from .caches._shared import SharedCache, check_shared_cache
from .instrumentation._events import (
    BackoffEntered,
    KeyRejected,
    RefreshFinished,
    RefreshStarted,
    SharedCacheAccessed,
)
from .instrumentation._hooks import Emitter, Hook, check_hooks, current_refresh, detach_refresh

__all__ = ["CredentialSource", "CredentialsCache"]

_Self = TypeVar("_Self", bound="CredentialsCache")

_NEVER = -math.inf


@attrs.define(eq=False)
class _Flight:
    """One refresh in progress and, once ``done`` is open, its outcome."""

    loop: object
    done: Gate
    scope: anyio.CancelScope | None = None
    close_requested: bool = False
    credentials: Credentials | None = None
    error: BaseException | None = None
    # For the instrumentation hooks; the emitter is None when no hook is in force.
    emitter: Emitter | None = None
    trigger: str = ""
    callers: int = 0  # get() and force_refresh() calls waiting for this outcome
    retry_in: float | None = None  # after a failure: the backoff, or the error cache
    serving: bool = False  # after a failure: the held credentials are still handed out
    backoff: BackoffEntered | None = None

    def cancel(self) -> None:
        self.close_requested = True
        if self.scope is not None:
            self.scope.cancel()


# Strong references to refresh tasks on asyncio, which otherwise keeps only weak ones.
_asyncio_tasks: set[asyncio.Task[None]] = set()


def _spawn_detached(loop: object, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    # The refresh must outlive whichever caller started it: cancelling that caller
    # may neither abort nor restart it. anyio has no detached tasks, so use the
    # backend's own: a plain asyncio task, or a trio system task.
    if isinstance(loop, asyncio.AbstractEventLoop):
        task = loop.create_task(fn())
        _asyncio_tasks.add(task)
        task.add_done_callback(_asyncio_tasks.discard)
    else:
        import trio

        trio.lowlevel.spawn_system_task(fn)


def _current_loop() -> object:
    return anyio.lowlevel.current_token().native_token


def _cancelled_from_outside() -> bool:
    """Whether the current (refresh) task was cancelled by someone, as at loop shutdown.

    On trio, and for anyio's own scopes, the effective deadline says so; on
    asyncio 3.11+, ``Task.cancelling()``. Python 3.10's asyncio cannot tell a
    ``task.cancel()`` from a CancelledError raised by the source: there, only
    :meth:`CredentialsCache.aclose` (checked by the caller) counts. The task is
    private to the cache, so only a loop shutdown can cancel it otherwise.
    """
    if anyio.current_effective_deadline() == -math.inf:
        return True
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not on asyncio
        return False
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling is not None and cancelling())


def _as_refresh_error(error: Exception) -> CredentialsError:
    if isinstance(error, CredentialsError):
        return error
    # A source outside this library failed. Network trouble is worth retrying;
    # anything else is most likely a bug, which retrying would only hammer.
    recoverable = isinstance(error, (OSError, TimeoutError))
    wrapped = RefreshError(
        f"credential source raised {type(error).__name__}", recoverable=recoverable
    )
    wrapped.__cause__ = error
    return wrapped


class CredentialsCache:
    """Holds credentials from a source and refreshes them, one refresh at a time.

    However many tasks call :meth:`get` while a refresh is due, the source is
    asked once and every waiter gets that one outcome, value or error. The
    refresh runs in a task of its own: cancelling a waiter, even the one that
    started it, returns control to that waiter at once and leaves the refresh
    running for the others. When the credentials are fresh, :meth:`get` takes
    no lock and awaits nothing.

    Args:
        source: Any object with ``async retrieve() -> Credentials``.
        refresh: When to refresh and how to behave on failure.
        clock: Returns epoch seconds. Every decision about windows, backoff and
            the error cache reads it; tests inject a fake one. A reading
            earlier than the one at which a backoff or error-cache deadline
            was set (a wall clock stepped back) ends that deadline: a step
            back never lengthens one.
        shared: A :class:`SharedCache` to share each refresh with, for a
            source that says what it fetches (the library's STS sources).
            Each refresh then takes the cache's lock, uses a stored entry if
            it can be trusted, else fetches and stores the answer. A failing
            cache is bypassed with a WARNING, never a credential outage.
        hooks: Instrumentation hooks for this cache's events, instead of the
            process-wide ones (:func:`aiostscreds.instrumentation.set_hooks`);
            ``[]`` for none.

    It is also an async context manager that calls :meth:`aclose` on exit.
    """

    def __init__(
        self,
        source: CredentialSource,
        *,
        refresh: RefreshPolicy = RefreshPolicy(),
        clock: Callable[[], float] = time.time,
        shared: SharedCache | None = None,
        hooks: Iterable[Hook] | None = None,
    ) -> None:
        if not callable(getattr(source, "retrieve", None)):
            raise ConfigurationError("source must have an async retrieve() method")
        if not isinstance(refresh, RefreshPolicy):
            raise ConfigurationError("refresh must be a RefreshPolicy")
        if not callable(clock):
            raise ConfigurationError("clock must be callable, returning epoch seconds")
        shared = check_shared_cache(shared)
        if shared is not None and not (
            isinstance(source, ShareableSource) and source.info.cache_key is not None
        ):
            raise ConfigurationError(
                "shared needs a source that says what it fetches (info, with a cache_key) "
                f"and hands back STS's response (retrieve_with_response()); "
                f"{type(source).__name__} does not"
            )
        self._source = source
        self._shared = shared
        self._hooks = None if hooks is None else check_hooks(hooks, parameter="hooks")
        info = getattr(source, "info", None)
        # What every event of this cache says it concerns.
        self._kind: str = info.kind if isinstance(info, SourceInfo) else "custom"
        self._role_arn = info.role_arn if isinstance(info, SourceInfo) else None
        self._policy = refresh
        self._clock = clock
        self._rng = random.Random()
        self._credentials: Credentials | None = None
        # Epoch seconds: start of the advisory window, start of the expiry window.
        self._refresh_at = _NEVER
        self._expire_at = _NEVER
        self._advisory_window: float | None = None
        # Deadlines: [set at, until) in clock readings. A reading before "set at"
        # (the wall clock stepped back) is past the deadline.
        self._backoff_from = _NEVER
        self._backoff_until = _NEVER
        self._failures = 0
        self._last_error: CredentialsError | None = None
        self._cached_error: CredentialsError | None = None
        self._error_from = _NEVER
        self._error_until = _NEVER
        self._rejected_keys: list[str] = []
        self._rejected = False  # the held credentials were passed to invalidate()
        self._expired_message: tuple[Credentials, bool, str] | None = None
        self._flight: _Flight | None = None
        self._closed = False

    def __repr__(self) -> str:
        source = type(self._source).__name__
        return f"<CredentialsCache source={source} credentials={self._credentials!r}>"

    @property
    def source(self) -> CredentialSource:
        """The source the credentials are fetched from."""
        return self._source

    @property
    def policy(self) -> RefreshPolicy:
        """The refresh policy in force."""
        return self._policy

    @property
    def credentials(self) -> Credentials | None:
        """The credentials held now, whatever their age; None before the first fetch."""
        return self._credentials

    @property
    def advisory_window(self) -> float | None:
        """The advisory window in seconds chosen at the last refresh, or None."""
        return self._advisory_window

    def current(self) -> Credentials | None:
        """The credentials held, if fresh (before the advisory window); else None.

        The one synchronous freshness check: :meth:`get` returns these same
        credentials without awaiting anything whenever this returns them.
        """
        credentials = self._credentials
        if credentials is not None and self._clock() < self._refresh_at:
            return credentials
        return None

    async def get(self) -> Credentials:
        """Return usable credentials, refreshing them first if they are due.

        Raises:
            RefreshError: The refresh failed and there is nothing to fall back on,
                or the failure is not recoverable.
            CredentialsExpiredError: The credentials expired and could not be
                refreshed (unless ``serve_expired`` is set).
            TokenProviderError: The MFA token provider failed.
            CredentialsError: The cache was closed.
        """
        # current(), inlined: awaiting get() must cost no second call when fresh.
        credentials = self._credentials
        if credentials is not None and self._clock() < self._refresh_at:
            return credentials
        # The slow path lives in this same coroutine: a storm of waiters then
        # has one coroutine less each to create and, on failure, to unwind.
        if self._closed:
            raise CredentialsError("the credentials cache is closed")
        now = self._clock()
        if self._cached_error is not None and self._error_from <= now < self._error_until:
            # Outside the expiry window, held credentials beat any error.
            if credentials is not None and now < self._expire_at:
                return credentials
            raise fresh_copy(self._cached_error)
        flight = self._joinable_flight()
        credentials = self._credentials
        if credentials is not None and now < self._expire_at:
            # Advisory window: only the first caller waits for the refresh.
            if flight is not None or self._backoff_from <= now < self._backoff_until:
                return credentials
        elif flight is None and self._backoff_from <= now < self._backoff_until:
            return self._during_backoff(now)
        if flight is None:
            flight = self._start_flight()
        flight.callers += 1
        try:
            await flight.done.wait()
        except BaseException:
            flight.callers -= 1  # cancelled: not served by this refresh
            raise
        credentials = flight.credentials
        if credentials is not None:
            return credentials
        # Raised here rather than in a helper: one frame less to unwind in
        # each of the waiters that a failed refresh may have.
        outcome = self._failed_outcome(flight)
        if isinstance(outcome, Credentials):
            return outcome
        try:
            raise outcome
        finally:
            # The error's traceback holds this frame: left in a local, it would make
            # each failed waiter a reference cycle that only the GC can free.
            del outcome

    def _during_backoff(self, now: float) -> Credentials:
        credentials = self._credentials
        if credentials is None:
            # Backing off from repeated failures with nothing to serve.
            assert self._last_error is not None
            raise fresh_copy(self._last_error)
        if self._policy.serve_expired or (now < credentials.expires_at and not self._rejected):
            return credentials
        raise self._expired_error()

    def _expired_error(self) -> CredentialsExpiredError:
        credentials = self._credentials
        assert credentials is not None
        rejected = self._rejected
        memo = self._expired_message
        if memo is None or memo[0] is not credentials or memo[1] is not rejected:
            # Written once per credentials: a failed refresh raises this error
            # in every one of its waiters.
            if rejected:
                message = (
                    f"credentials {credentials.access_key_id} were rejected "
                    "(invalidate()) and could not be refreshed"
                )
            else:
                message = (
                    f"credentials {credentials.access_key_id} expired at "
                    f"{credentials.expiration.isoformat()} and could not be refreshed"
                )
            memo = self._expired_message = (credentials, rejected, message)
        error = (CredentialsRejectedError if rejected else CredentialsExpiredError)(memo[2])
        error.__cause__ = self._last_error
        return error

    def _failed_outcome(self, flight: _Flight) -> Credentials | BaseException:
        """What a waiter on a failed ``flight`` gets: credentials, or an error to raise."""
        error = flight.error
        assert error is not None
        credentials = self._credentials
        if credentials is None or self._closed:
            return fresh_copy(error)
        now = self._clock()
        if now < self._expire_at:
            # An advisory refresh failed, recoverably or not: the credentials
            # held are still good, so no caller fails.
            return credentials
        # is_recoverable(), inlined: this runs once in each waiter of a failed refresh.
        if getattr(error, "recoverable", False):
            if self._policy.serve_expired or (now < credentials.expires_at and not self._rejected):
                return credentials
            return self._expired_error()
        return fresh_copy(error)

    def invalidate(self, access_key_id: str) -> None:
        """Mark the credentials with ``access_key_id`` as rejected.

        If they are the ones held, the next :meth:`get` takes the mandatory
        refresh path, still subject to any backoff in force. Until a refresh
        succeeds, callers get :class:`CredentialsRejectedError` chained to the
        refresh error, never the rejected credentials (unless ``serve_expired``
        is set, as in the cross-SDK rules). A key id that is no longer held
        (another refresh already replaced it) changes nothing.
        """
        credentials = self._credentials
        if credentials is not None and credentials.access_key_id == access_key_id:
            if not self._rejected:  # once per rejection, however many report it
                emitter = Emitter.lone(self._hooks, self._kind, self._role_arn)
                if emitter is not None:
                    emitter.emit(
                        KeyRejected(
                            kind=self._kind, role_arn=self._role_arn, access_key_id=access_key_id
                        )
                    )
            # Remembered so that no source (a shared disk cache, a source that
            # hands back what it has) gets the rejected key accepted again.
            self._rejected_keys = [*self._rejected_keys[-15:], access_key_id]
            self._rejected = True
            self._refresh_at = self._expire_at = _NEVER

    @property
    def rejected_keys(self) -> frozenset[str]:
        """The access key ids recently passed to a matching :meth:`invalidate`."""
        return frozenset(self._rejected_keys)

    async def force_refresh(self) -> Credentials:
        """Refresh now, ignoring backoff and the error cache.

        Joins a refresh already in flight instead of starting a second one.
        Raises that refresh's error if it fails.
        """
        if self._closed:
            raise CredentialsError("the credentials cache is closed")
        flight = self._joinable_flight() or self._start_flight(forced=True)
        flight.callers += 1
        try:
            await flight.done.wait()
        except BaseException:
            flight.callers -= 1
            raise
        if flight.credentials is not None:
            return flight.credentials
        assert flight.error is not None
        raise fresh_copy(flight.error)

    def is_expired(self) -> bool:
        """True when there are no credentials, or the expiry window has begun."""
        return self._credentials is None or self._clock() >= self._expire_at

    async def aclose(self) -> None:
        """Close the cache: cancel a refresh in flight and fail its waiters.

        Waiters get a :class:`CredentialsError`; later calls to :meth:`get`
        raise one too.
        """
        self._closed = True
        self._refresh_at = _NEVER
        flight = self._flight
        if flight is None:
            return
        flight.cancel()
        if flight.loop is _current_loop():
            await flight.done.wait()

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _joinable_flight(self) -> _Flight | None:
        flight = self._flight
        if flight is not None and flight.loop is not _current_loop():
            # Left behind by an event loop that is gone (say, an earlier asyncio.run()).
            self._flight = flight = None
        return flight

    def _start_flight(self, *, forced: bool = False) -> _Flight:
        loop = _current_loop()
        flight = _Flight(loop=loop, done=new_gate(loop))
        emitter = Emitter.for_refresh(self._hooks, self._kind, self._role_arn)
        if emitter is not None:
            flight.emitter = emitter
            flight.trigger = self._trigger(forced)
        self._flight = flight

        async def run() -> None:
            await self._run_flight(flight)

        _spawn_detached(loop, run)
        return flight

    def _trigger(self, forced: bool) -> str:
        if forced:
            return "forced"
        if self._credentials is None:
            return "initial"
        if self._rejected:
            return "rejected_key"
        return "advisory" if self._clock() < self._expire_at else "mandatory"

    async def _run_flight(self, flight: _Flight) -> None:
        emitter = flight.emitter
        if emitter is None:  # no hooks: no event is built
            detach_refresh()  # nor is any reported as the refresh that spawned this task's
            await self._fly(flight)
            return
        started = time.monotonic()
        with emitter:  # the refresh's own events (MFA, shared cache) go to the same hooks
            emitter.emit(
                RefreshStarted(
                    kind=emitter.kind,
                    role_arn=emitter.role_arn,
                    refresh_id=emitter.refresh_id or 0,
                    trigger=flight.trigger,
                )
            )
            await self._fly(flight, lambda: self._report(emitter, flight, started))

    async def _fly(self, flight: _Flight, report: Callable[[], None] | None = None) -> None:
        try:
            with anyio.CancelScope() as scope:
                flight.scope = scope
                if flight.close_requested:
                    scope.cancel()
                try:
                    credentials = await self._retrieve()
                except Exception as error:
                    self._record_failure(flight, _as_refresh_error(error))
                except anyio.get_cancelled_exc_class() as error:
                    if flight.close_requested or scope.cancel_called or _cancelled_from_outside():
                        raise
                    # The source raised a cancellation of its own (a library's
                    # timeout leaking out, say): a recoverable failure, with
                    # backoff, not a cancellation of this refresh.
                    wrapped = RefreshError(
                        f"credential source raised {type(error).__name__}", recoverable=True
                    )
                    wrapped.__cause__ = error
                    self._record_failure(flight, wrapped)
                except BaseException as error:
                    # Say, another library's cancellation raised by a token provider.
                    # The waiters get a failure; only a real interrupt goes on up.
                    wrapped = RefreshError(
                        f"credential source raised {type(error).__name__}", recoverable=False
                    )
                    wrapped.__cause__ = error
                    self._record_failure(flight, wrapped)
                    if isinstance(error, (KeyboardInterrupt, SystemExit)):
                        raise
                else:
                    self._record_success(flight, credentials)
            if scope.cancelled_caught:
                flight.error = CredentialsError(
                    "the credentials cache was closed while a refresh was in flight"
                )
        except anyio.get_cancelled_exc_class():
            # Cancelled from outside, as when the event loop shuts down. Not a
            # refresh failure, so no backoff. Nobody awaits this task: end it quietly.
            flight.error = CredentialsError("the refresh was cancelled")
        finally:
            if flight.credentials is None and flight.error is None:
                flight.error = CredentialsError("the refresh was interrupted")
            if self._flight is flight:
                self._flight = None
            if report is not None:
                report()  # before the waiters are released: they see it reported
            flight.done.open()

    async def _retrieve(self) -> Credentials:
        """One fetch from the source, through the shared cache if there is one.

        The shared step: take the cache's lock, load its entry, and use it if it
        can be trusted (:meth:`_trusted`); else fetch and store the answer. The
        role check is the cache's ``load(role_arn=...)`` contract. Whatever the
        cache raises, the refresh goes on to the source.
        """
        if current_refresh() is None:
            # A direct retrieve() (no refresh of this cache): its events go to the
            # cache's hooks, described as the cache's.
            emitter = Emitter.lone(self._hooks, self._kind, self._role_arn)
            if emitter is not None:
                with emitter:
                    return await self._retrieve_from_source()
        return await self._retrieve_from_source()

    async def _retrieve_from_source(self) -> Credentials:
        shared = self._shared
        if shared is None:
            return await self._source.retrieve()
        source: ShareableSource = self._source  # type: ignore[assignment]
        info = source.info
        key = info.cache_key
        assert key is not None
        async with _guarded_lock(shared, key, mfa=info.mfa):
            stored = await _guarded_load(shared, key, info.role_arn)
            if stored is not None and self._trusted(stored):
                # The LoggingHook's INFO line ("using credentials for ... from ...").
                _report_shared(shared, "hit", expiration=stored.expiration)
                return stored
            if stored is not None:
                _report_shared(shared, "miss")  # an entry, but not one to trust
            credentials, response = await source.retrieve_with_response()
            await _guarded_store(shared, key, response.value, credentials, mfa=info.mfa)
            return credentials

    def _trusted(self, stored: Credentials) -> bool:
        """Whether a shared cache's entry may replace a fetch.

        It must be outside the expiry window, newer than the credentials held,
        and not a key passed to :meth:`invalidate`.
        """
        expiry = self._policy.expiry_window.total_seconds()
        if stored.expires_at - expiry <= self._clock():
            return False
        held = self._credentials
        if held is not None and stored.expires_at <= held.expires_at:
            return False
        return stored.access_key_id not in self._rejected_keys

    def _record_success(self, flight: _Flight, credentials: object) -> None:
        now = self._clock()
        if not isinstance(credentials, Credentials):
            error = RefreshError(
                f"credential source returned {type(credentials).__name__}, not Credentials",
                recoverable=False,
            )
            self._record_failure(flight, error)
            return
        if credentials.expires_at <= now:
            error = RefreshError(
                f"credential source returned credentials that expired at "
                f"{credentials.expiration.isoformat()}",
                recoverable=True,
            )
            self._record_failure(flight, error)
            return
        if credentials.access_key_id in self._rejected_keys:
            error = RefreshError(
                f"credential source returned {credentials.access_key_id} again, "
                "a key passed to invalidate()",
                recoverable=True,
            )
            self._record_failure(flight, error)
            return
        refresh_at, expire_at, advisory = schedule(
            self._policy, now=now, expires_at=credentials.expires_at
        )
        self._advisory_window = advisory
        self._credentials = credentials
        self._rejected = False
        self._expire_at = expire_at
        self._refresh_at = refresh_at
        self._failures = 0
        self._backoff_from = self._backoff_until = _NEVER
        self._last_error = None
        self._cached_error = None
        flight.credentials = credentials

    def _record_failure(self, flight: _Flight, error: CredentialsError) -> None:
        now = self._clock()
        flight.error = error
        credentials = self._credentials
        serving = credentials is not None and now < self._expire_at
        # What follows is reported when the refresh ends (the LoggingHook's WARNING).
        flight.serving = serving
        if not is_recoverable(error):
            pause = error_cache_seconds(self._policy, self._rng)
            self._cached_error = error
            self._error_from, self._error_until = now, now + pause
            flight.retry_in = pause
            return
        self._last_error = error
        self._failures += 1
        if credentials is None:
            expires_at = None
        else:
            # Rejected credentials count as expired for the backoff rule.
            expires_at = now if self._rejected else credentials.expires_at
        pause = backoff_seconds(
            self._policy,
            self._rng,
            now=now,
            expires_at=expires_at,
            failures=self._failures,
        )
        self._backoff_from, self._backoff_until = now, now + pause
        flight.retry_in = pause
        emitter = flight.emitter
        if emitter is not None:
            flight.backoff = BackoffEntered(
                kind=emitter.kind,
                role_arn=emitter.role_arn,
                refresh_id=emitter.refresh_id or 0,
                deadline=now + pause,
                seconds=pause,
                failures=self._failures,
            )

    def _report(self, emitter: Emitter, flight: _Flight, started: float) -> None:
        """Report the end of ``flight``: BackoffEntered if one began, then RefreshFinished."""
        credentials = flight.credentials
        common: dict[str, Any] = {
            "kind": emitter.kind,
            "role_arn": emitter.role_arn,
            "refresh_id": emitter.refresh_id or 0,
            "trigger": flight.trigger,
            "duration": time.monotonic() - started,
            "callers": flight.callers,
        }
        if credentials is not None:
            emitter.emit(
                RefreshFinished(
                    outcome="success",
                    expiration=credentials.expiration,
                    access_key_id=credentials.access_key_id,
                    advisory_window=self._advisory_window,
                    **common,
                )
            )
            return
        error = flight.error
        recoverable = error is not None and is_recoverable(error)
        if flight.backoff is not None:  # inside the refresh's span, before its end
            emitter.emit(flight.backoff)
        emitter.emit(
            RefreshFinished(
                outcome="recoverable_error" if recoverable else "error",
                error_type=None if error is None else type(error).__name__,
                # The library's messages are built from safe parts only.
                error_message=None if error is None else str(error),
                recoverable=recoverable,
                serving=flight.serving,
                retry_in=flight.retry_in,
                **common,
            )
        )


# The engine's side of "a cache failure is never a credential outage": whatever a
# shared cache raises, the refresh goes on to the source without it.


@contextlib.asynccontextmanager
async def _guarded_lock(cache: SharedCache, key: str, *, mfa: bool) -> AsyncIterator[None]:
    """``cache.locked(key)``, or no lock at all if taking it fails."""
    try:
        lock = cache.locked(key, mfa=mfa)
        await lock.__aenter__()
    except Exception as error:
        _report_shared(cache, "error", operation="lock", error=error)
        yield
        return
    try:
        yield
    except BaseException as error:
        # The body's own error (STS's, a cancellation) is what the caller must see:
        # a cache may neither replace it nor swallow it.
        try:
            await lock.__aexit__(type(error), error, error.__traceback__)
        except Exception as unlock_error:
            if unlock_error is not error:
                _report_shared(cache, "error", operation="unlock", error=unlock_error)
        raise
    else:
        try:
            await lock.__aexit__(None, None, None)
        except Exception as error:
            _report_shared(cache, "error", operation="unlock", error=error)


async def _guarded_load(cache: SharedCache, key: str, role_arn: str | None) -> Credentials | None:
    """``cache.load()``, or None if it fails or returns something else than Credentials.

    Reports an error, or a miss when there is no entry; the caller reports the rest.
    """
    try:
        stored = await cache.load(key, role_arn=role_arn)
    except Exception as error:
        _report_shared(cache, "error", operation="load", error=error)
        return None
    if not isinstance(stored, Credentials):
        _report_shared(cache, "miss")
        return None
    return stored


async def _guarded_store(
    cache: SharedCache,
    key: str,
    response: Mapping[str, Any],
    credentials: Credentials,
    *,
    mfa: bool,
) -> None:
    """``cache.store()``; a failure is reported (a WARNING by the LoggingHook), never raised."""
    try:
        await cache.store(key, response, credentials, mfa=mfa)
    except Exception as error:
        _report_shared(cache, "error", operation="store", error=error)
    else:
        _report_shared(cache, "store")


def _shared_cache_kind(cache: SharedCache) -> str:
    """``"file"``, ``"redis"`` or ``"custom"``: what the instrumentation events call it."""
    from .caches._file import FileCache

    if isinstance(cache, FileCache):
        return "file"
    redis = sys.modules.get("aiostscreds.caches._redis")  # imported only if in use
    if redis is not None and isinstance(cache, redis.RedisCache):
        return "redis"
    return "custom"


def _report_shared(
    cache: SharedCache,
    result: Literal["hit", "miss", "store", "error"],
    *,
    operation: str | None = None,
    error: BaseException | None = None,
    expiration: dt.datetime | None = None,
) -> None:
    """Report one step through the shared cache to the refresh's hooks."""
    emitter = current_refresh()  # _retrieve() always runs inside one
    if emitter is None:
        return
    emitter.emit(
        SharedCacheAccessed(
            kind=emitter.kind,
            role_arn=emitter.role_arn,
            refresh_id=emitter.refresh_id,
            cache=_shared_cache_kind(cache),
            result=result,
            operation=operation,
            # The type only: a cache's own message may quote what it was handed.
            error_type=None if error is None else type(error).__name__,
            cache_name=repr(cache),
            expiration=expiration,
        )
    )
