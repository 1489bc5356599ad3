"""The shortcuts taken for speed behave exactly like the long way round.

``fresh_copy`` copies the library's own exceptions without ``copy.copy``; a
failed refresh builds its ``CredentialsExpiredError`` once and hands each
waiter a copy; ``get_frozen_credentials`` checks the cache's freshness itself
instead of awaiting the provider.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aiostscreds import (
    AiobotocoreCredentials,
    ConfigurationError,
    CredentialsCache,
    CredentialsError,
    CredentialsExpiredError,
    RefreshError,
    TokenProviderError,
)
from aiostscreds._errors import fresh_copy

from .fakes import FakeClock, FakeSource, failing, fresh

pytestmark = pytest.mark.anyio


def _with_history(error: BaseException) -> BaseException:
    cause = OSError("connection reset")
    try:
        try:
            raise cause
        except OSError:
            raise error from cause
    except BaseException as raised:
        raised.add_note("a note")
        raised.extra = "kept"  # type: ignore[attr-defined]
        return raised


@pytest.mark.parametrize(
    "error",
    [
        CredentialsError("closed"),
        ConfigurationError("bad role_arn"),
        TokenProviderError("no code"),
        CredentialsExpiredError("expired"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_own_exceptions_copy_as_copy_copy_does(error: BaseException) -> None:
    original = _with_history(error)
    clone = fresh_copy(original)
    reference = copy.copy(original)
    assert clone is not original
    assert type(clone) is type(reference)
    assert clone.args == reference.args
    assert clone.__dict__ == reference.__dict__ == {"__notes__": ["a note"], "extra": "kept"}
    assert clone.__cause__ is original.__cause__
    assert clone.__suppress_context__
    assert clone.__traceback__ is None
    assert str(clone) == str(original)


def test_refresh_error_copies_as_its_reduce_says() -> None:
    original = _with_history(RefreshError("Throttling", recoverable=True, code="Throttling"))
    clone = fresh_copy(original)
    reference = copy.copy(original)
    assert clone is not original
    assert type(clone) is RefreshError
    assert (clone.args, clone.recoverable, clone.code) == (  # type: ignore[attr-defined]
        reference.args,
        reference.recoverable,  # type: ignore[attr-defined]
        reference.code,  # type: ignore[attr-defined]
    )
    assert clone.__dict__ == reference.__dict__  # __reduce__ carries no notes or extras
    assert clone.__cause__ is original.__cause__
    assert clone.__suppress_context__
    assert clone.__traceback__ is None


def test_other_exceptions_still_go_through_copy_copy() -> None:
    class Custom(CredentialsError):
        pass

    original = _with_history(Custom("custom"))
    clone = fresh_copy(original)
    assert type(clone) is Custom and clone is not original
    assert clone.__dict__ == copy.copy(original).__dict__
    assert clone.__cause__ is original.__cause__


async def test_every_waiter_of_a_failed_refresh_gets_its_own_expired_error() -> None:
    import anyio

    clock = FakeClock()
    source = FakeSource(clock, fresh(100), failing())
    cache = CredentialsCache(source, clock=clock)
    await cache.get()
    clock.advance(200)
    source.hold()
    errors: list[BaseException] = []

    async def waiter() -> None:
        try:
            await cache.get()
        except CredentialsExpiredError as error:
            errors.append(error)

    async with anyio.create_task_group() as tasks:
        for _ in range(5):
            tasks.start_soon(waiter)
        assert source.entered is not None
        await source.entered.wait()
        source.release()
    assert len(errors) == 5 and len({id(error) for error in errors}) == 5
    assert len({str(error) for error in errors}) == 1
    cause = errors[0].__cause__
    assert isinstance(cause, RefreshError)
    assert all(error.__cause__ is cause for error in errors)
    # During the backoff that follows, the same error again, as a new copy.
    with pytest.raises(CredentialsExpiredError) as later:
        await cache.get()
    assert later.value.__cause__ is cause and later.value not in errors
    assert str(later.value) == str(errors[0])


async def test_frozen_credentials_follow_refresh_invalidate_and_close() -> None:
    clock = FakeClock()
    source = FakeSource(clock, default=fresh(900))
    cache = CredentialsCache(source, clock=clock)
    signer_view = AiobotocoreCredentials(cache)
    first = await signer_view.get_frozen_credentials()
    assert await signer_view.get_frozen_credentials() is first
    await cache.force_refresh()
    second = await signer_view.get_frozen_credentials()
    assert second is not first and second.access_key != first.access_key
    held = cache.credentials
    assert held is not None
    cache.invalidate(held.access_key_id)
    third = await signer_view.get_frozen_credentials()
    assert third.access_key not in (first.access_key, second.access_key)
    assert source.calls == 3
    await cache.aclose()
    with pytest.raises(CredentialsError, match="closed"):
        await signer_view.get_frozen_credentials()


async def test_a_getter_overridden_in_a_subclass_is_called_every_time() -> None:
    calls = 0

    class CountingCache(CredentialsCache):
        async def get(self) -> Any:
            nonlocal calls
            calls += 1
            return await super().get()

    clock = FakeClock()
    cache = CountingCache(FakeSource(clock, default=fresh(900)), clock=clock)
    signer_view = AiobotocoreCredentials(cache)
    for _ in range(3):
        await signer_view.get_frozen_credentials()
    assert calls == 3
