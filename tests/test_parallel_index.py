"""`qa index --workers N`: the index built with Ray Data workers is the one-process build (same passages, same
vectors, same manifest fields). Skipped, with the reason, where Ray is not installed."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import faiss
import numpy as np
import pytest
from conftest import ROOT, SEEDS

from qa.embedder import Embedder
from qa.index import current_build_dir, load_index

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None, reason="Ray is not installed (pip install -e '.[scale]')"
    ),
    pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two embedding workers need two cores"),
]


def _vectors(index_dir) -> np.ndarray:
    build = current_build_dir(index_dir)
    assert build is not None
    dense = faiss.read_index(str(build / "dense.faiss"))
    return dense.reconstruct_n(0, dense.ntotal)


def test_ray_data_workers_embed_as_one_process():
    from qa.parallel_embedding import ParallelEmbeddingError, RayDataEmbedder

    embedder = Embedder()
    texts = [p.text for p in load_index_passages()]
    # Batches of 4: the passages go out in several batches to both workers and come back in their order.
    parallel = RayDataEmbedder(embedder, workers=2, batch_size=4).embed(texts)
    assert parallel.shape == (len(texts), 384)
    np.testing.assert_allclose(parallel, embedder.embed(texts), atol=1e-5)
    # More cores than the cluster has: a clear error, not a build waiting for ever.
    with pytest.raises(ParallelEmbeddingError, match="need 64 cores"):
        RayDataEmbedder(embedder, workers=64).embed(texts)


def load_index_passages():
    from qa.config import Settings
    from qa.ingest import load_corpus
    from qa.passages import split_corpus

    settings = Settings()
    return split_corpus(
        load_corpus(SEEDS).documents, settings.passage_sentences, settings.passage_overlap, settings.passage_max_chars
    )


def test_qa_index_with_workers_builds_the_same_index(tmp_path, seed_index_dir):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(SEEDS, corpus)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QA_")},
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(index_dir),
    }
    done = subprocess.run(
        [sys.executable, "-m", "qa_cli", "index", "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    built, reference = load_index(index_dir), load_index(seed_index_dir)
    assert f"as {reference.manifest.passages} passages" in done.stdout
    for field in ("format_version", "embedding_model", "dimensions", "index_type", "passages", "documents"):
        assert getattr(built.manifest, field) == getattr(reference.manifest, field), field
    assert [p.text for p in built.passages] == [p.text for p in reference.passages]
    np.testing.assert_allclose(_vectors(index_dir), _vectors(seed_index_dir), atol=1e-5)
    assert json.loads((load_index(index_dir).path / "manifest.json").read_text())["files"]
