"""The embedder's two runtimes give the same vectors; the ONNX export is made once and reused."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embedder import Embedder

TEXTS = [
    "When was the CQC visit?",
    "An extensive programme of improvement followed unannounced visits by the Care Quality Commission in November "
    "2023, according to a report to the review group. " * 3,
    "Luton",
]


def test_onnx_and_torch_vectors_agree(tmp_path):
    onnx = Embedder(backend="onnx", cache_dir=tmp_path, batch_size=2)
    torch = Embedder(backend="torch")
    a, b = onnx.embed(TEXTS), torch.embed(TEXTS)
    assert a.shape == b.shape == (3, 384) and a.dtype == np.float32
    assert np.abs(a - b).max() < 1e-5
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # One question alone gets the vector it gets in a batch (no padding leaks into the mean).
    assert np.abs(onnx.embed(TEXTS[:1])[0] - a[0]).max() < 1e-5
    exports = list(tmp_path.glob("embedder-*.onnx"))
    assert len(exports) == 1
    Embedder(backend="onnx", cache_dir=tmp_path).embed(["again"])
    assert list(tmp_path.glob("embedder-*.onnx")) == exports  # reused, not exported again


def test_empty_input_and_unknown_backend(tmp_path):
    assert Embedder(cache_dir=tmp_path).embed([]).shape == (0, 384)
    with pytest.raises(ValueError, match="unknown embedder backend"):
        Embedder(backend="tensorflow")
