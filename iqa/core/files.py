"""Files written whole or not at all: readers never see a partial file."""
from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then rename over `path`: readers never see a partial file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)
