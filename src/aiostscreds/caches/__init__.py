"""Shared credential caches: one STS call per refresh across processes, tools and hosts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._file import FileCache
from ._shared import SharedCache

if TYPE_CHECKING:
    from ._redis import RedisCache

__all__ = ["FileCache", "RedisCache", "SharedCache"]


def __getattr__(name: str) -> Any:
    # RedisCache needs the `redis` extra: import coredis and cryptography only when asked.
    if name == "RedisCache":
        from ._redis import RedisCache

        return RedisCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
