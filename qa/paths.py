"""Where the project lives and where derived files are cached. No third-party imports: the reader's training
path (qa.reader) uses these on a bare GPU machine that has no pydantic."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Derived model files (the reader's ONNX export) live here; safe to delete, rebuilt on demand.
DEFAULT_CACHE_DIR = PROJECT_ROOT / ".cache"
