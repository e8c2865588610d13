"""Where flowc keeps what it can rebuild: compiled modules and the parser's
tables. A directory of the user's own ($FLOWC_CACHE_DIR, else
$XDG_CACHE_HOME/flowc or ~/.cache/flowc), never a shared temp directory,
since its files are loaded back (the parser's tables are a pickle)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    env = os.environ.get("FLOWC_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flowc"
