"""Writes that survive a crash whole or not at all: a file is written beside its place, flushed to disk, then
renamed over it, and the folder flushed, so a reader (or a restart after a kill) sees the old file or the new one,
never a part. Used for the index's build pointer and for the corpus folder's files."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: written to a hidden `.partial` file beside it, flushed, renamed over it."""
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.partial"
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_dir(path.parent)
