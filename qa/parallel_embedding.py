"""Embed a large corpus across a Ray cluster's workers (Ray Data), for `qa index --workers N`.

Building an index is almost all embedding (40 passages a second per 2-core machine here), and passages embed
independently, so the work splits across workers: each loads the same embedding model once and embeds its share of
batches. The vectors are the same as the one-process build's (same model, same runtime), so the index format and
manifest do not change. Needs the `scale` extra (Ray). It joins the cluster RAY_ADDRESS names, or one that
`ray start` runs on this machine, else starts a local one for the build and stops it after; every node needs the
same installation (the model is loaded from the same path on each).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa.embedder import Embedder

log = logging.getLogger(__name__)


class ParallelEmbeddingError(RuntimeError):
    """The parallel build cannot run as configured (no Ray, too few cores); the message says what to change."""


class _EmbedBatches:
    """One Ray Data worker: the embedding model, loaded once, applied to each batch it is given."""

    def __init__(self, model_path: str, backend: str, cache_dir: str, threads: int) -> None:
        self.embedder = Embedder(Path(model_path), backend=backend, cache_dir=Path(cache_dir), threads=threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"position": batch["position"], "vector": self.embedder.embed(list(batch["text"]))}


class RayDataEmbedder:
    """Stands in for an `Embedder` when building an index: `embed()` spreads the texts over `workers` Ray actors,
    each with `cpus_per_worker` cores (and as many model threads)."""

    def __init__(self, embedder: Embedder, workers: int, cpus_per_worker: int = 1, batch_size: int = 256) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.embedder = embedder
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def dimensions(self) -> int:
        return self.embedder.dimensions

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return self.embedder.embed([])
        try:
            import ray
        except ImportError as exc:
            raise ParallelEmbeddingError("a parallel index build needs Ray: pip install -e '.[scale]'") from exc

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(
                address=os.environ.get("RAY_ADDRESS"),
                include_dashboard=False,
                logging_level=logging.WARNING,
                runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}},
            )
        try:
            return self._embed(ray, list(texts), progress)
        finally:
            if started_here:
                ray.shutdown()

    def _embed(self, ray: Any, texts: list[str], progress: bool) -> np.ndarray:
        # Ray Data would wait for ever for cores the cluster does not have: say so instead.
        needed, cluster = self.workers * self.cpus_per_worker, ray.cluster_resources().get("CPU", 0)
        if needed > cluster:
            raise ParallelEmbeddingError(
                f"{self.workers} embedding workers of {self.cpus_per_worker} cores need {needed} cores; the Ray "
                f"cluster has {cluster:g} (lower QA_INDEX_WORKERS or QA_INDEX_WORKER_CPUS, or add nodes)"
            )
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = progress
        # Similar lengths in one batch: each is padded to its longest text.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        items = [{"position": i, "text": texts[i]} for i in order]
        log.info("embedding %d passages on %d Ray Data workers", len(texts), self.workers)
        dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items) // self.batch_size)).map_batches(
            _EmbedBatches,
            fn_constructor_kwargs={
                "model_path": str(self.embedder.model_path),
                "backend": self.embedder.backend,
                "cache_dir": str(self.embedder.cache_dir),
                "threads": self.cpus_per_worker,
            },
            batch_size=self.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_cpus=self.cpus_per_worker,
        )
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        filled = 0
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            vectors[batch["position"]] = batch["vector"]
            filled += len(batch["position"])
        if filled != len(texts):
            raise ParallelEmbeddingError(f"the parallel embedding returned {filled} of {len(texts)} vectors")
        return vectors
