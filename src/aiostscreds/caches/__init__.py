"""Shared credential caches: one STS call per refresh across processes, tools and hosts."""

from ._file import FileCache
from ._shared import SharedCache, cache_key

__all__ = ["FileCache", "SharedCache", "cache_key"]
