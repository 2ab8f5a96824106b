"""The ONNX Runtime reader: same numbers as PyTorch, exported once and cached, clear errors."""

import numpy as np
import pytest

from qa.documents import Passage
from qa.reader.model import Reader, packaged_reader_dir
from qa.reader.onnx_runtime import OnnxExportError, cached_onnx_model
from qa.reader.windows import tokenize_windows

TEXTS = [
    "The new maternity block opened in March 2025 after a two-day inspection by the Care Quality Commission.",
    "Luton has around 5,200 births a year, and the unit is one of the busiest in the east of England. " * 3,
]
PASSAGES = [Passage(id=i, doc_id=f"doc-{i}", start=0, end=len(t), text=t) for i, t in enumerate(TEXTS)]


@pytest.fixture(scope="module")
def torch_reader():
    return Reader.load(device="cpu", backend="torch")


def test_onnx_logits_match_pytorch_on_a_padded_batch(torch_reader, tmp_path):
    """Windows of different lengths in one batch: the padding mask must survive the export."""
    onnx_reader = Reader.load(device="cpu", backend="onnx", int8=False, cache_dir=tmp_path)
    windows = tokenize_windows(torch_reader.tokenizer, ["When did the block open?"] * 2, TEXTS)
    assert len(set(windows.attention_mask.sum(axis=1))) > 1, "the test needs windows of different lengths"
    expected_start, expected_end = torch_reader._logits(windows)
    start, end = onnx_reader._logits(windows)
    real = windows.attention_mask.astype(bool)
    assert np.abs(start - expected_start)[real].max() < 1e-3
    assert np.abs(end - expected_end)[real].max() < 1e-3


def test_int8_onnx_reader_finds_the_same_answer(torch_reader, tmp_path):
    int8_reader = Reader.load(device="cpu", backend="onnx", int8=True, cache_dir=tmp_path)
    assert int8_reader.backend == "onnx" and int8_reader.model is None
    question = "When did the new maternity block open?"
    expected = torch_reader.read(question, PASSAGES)[0]
    found = int8_reader.read(question, PASSAGES)[0]
    assert found.text == expected.text == "March 2025"
    assert TEXTS[found.passage_rank][found.start : found.end] == found.text


def test_export_is_cached_and_keyed_by_options(tmp_path):
    first = cached_onnx_model(packaged_reader_dir(), tmp_path, int8=True)
    modified = first.stat().st_mtime_ns
    assert cached_onnx_model(packaged_reader_dir(), tmp_path, int8=True) == first
    assert first.stat().st_mtime_ns == modified, "a cached export must be reused, not rewritten"
    other = cached_onnx_model(packaged_reader_dir(), tmp_path, int8=False)
    assert other != first and other.exists()
    assert not list(tmp_path.glob("*.partial")), "no half-written files are left behind"


def test_a_damaged_cached_export_is_replaced(tmp_path):
    damaged = cached_onnx_model(packaged_reader_dir(), tmp_path, int8=True)
    damaged.write_bytes(damaged.read_bytes()[:1000])  # as after a full disk or a killed copy
    reader = Reader.load(device="cpu", backend="onnx", int8=True, cache_dir=tmp_path)
    assert reader.read("When did the new maternity block open?", PASSAGES)[0].text == "March 2025"
    assert damaged.stat().st_size > 1_000_000


def test_unusable_cache_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(OnnxExportError, match="not-a-folder"):
        cached_onnx_model(packaged_reader_dir(), blocker, int8=True)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown reader backend"):
        Reader.load(backend="tensorflow")
