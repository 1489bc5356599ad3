"""Paths given by the user (a cache directory, a token file), checked at construction."""

from __future__ import annotations

import os
from pathlib import Path

from ._errors import ConfigurationError

__all__ = ["check_path"]


def check_path(value: object, *, parameter: str) -> Path:
    """``value`` as a ``Path``, a leading ``~`` or ``~user`` expanded.

    Raises ConfigurationError naming ``parameter`` unless ``value`` is a
    non-empty ``str`` or ``os.PathLike[str]`` without NUL whose ``~`` (if any)
    names a home directory that can be found: ``Path.expanduser`` raises
    RuntimeError for an unknown user, or when there is no HOME to be had.
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{parameter} must be a str or os.PathLike[str] path, not {type(value).__name__}"
        )
    if not value or "\x00" in value:
        raise ConfigurationError(f"{parameter} must be a non-empty path without NUL characters")
    try:
        return Path(value).expanduser()
    except RuntimeError:
        prefix = value.split(os.sep, 1)[0]
        raise ConfigurationError(
            f"{parameter} starts with {prefix!r}, whose home directory cannot be found "
            "(no such user, or no HOME): a leading ~ must name a known user's home"
        ) from None
