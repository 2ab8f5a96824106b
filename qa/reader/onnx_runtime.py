"""Run the reader with ONNX Runtime: exported once from the shipped weights, cached on disk, optionally int8.

On these CPUs ONNX Runtime with fused attention and int8 weights reads a question over four passages in about half
the time of eager PyTorch. The export, its cache and its session come from qa.onnx_cache.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from qa.onnx_cache import OnnxExportError, cached_export, export_bert, fingerprint, int64_feed, open_session
from qa.reader.settings import READER_CONFIG_FILE, ReaderLoadError
from qa.reader.windows import MODEL_INPUTS

log = logging.getLogger(__name__)

OUTPUT_NAMES = ("start_logits", "end_logits")
EXPORT_FORMAT = 1  # bump when the export recipe below changes, so caches are rebuilt

__all__ = ["OnnxExportError", "OnnxLogits", "cached_onnx_model", "load_onnx_reader"]


def _export(model_dir: Path, target: Path, int8: bool) -> None:
    """Export with fused attention, then quantise the weights to int8 (per channel) when asked."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(
        str(model_dir), dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()

    class _Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        fused = Path(work) / "fused.onnx"
        export_bert(
            _Logits(model),
            MODEL_INPUTS,
            OUTPUT_NAMES,
            fused,
            model.config.num_attention_heads,
            model.config.hidden_size,
        )
        if not int8:
            shutil.copyfile(fused, target)
            return
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel weights keep the accuracy loss small; fused ops need the default tensor type.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser logs a generic "consider pre-processing" hint on the root logger
        try:
            quantize_dynamic(
                str(fused),
                str(target),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.setLevel(level)


def cached_onnx_model(model_dir: Path, cache_dir: Path, int8: bool, refresh: bool = False) -> Path:
    """Path of the ONNX file for these weights, exporting it first when the cache lacks it (or `refresh`)."""
    model_dir, cache_dir = Path(model_dir), Path(cache_dir)
    # Decoding settings and calibration (reader_config.json) do not change the network.
    name = f"reader-{fingerprint(model_dir, [EXPORT_FORMAT, int8], skip=[READER_CONFIG_FILE])}{'-int8' if int8 else ''}"
    return cached_export(cache_dir / f"{name}.onnx", lambda partial: _export(model_dir, partial, int8), refresh)


def load_onnx_reader(model_dir: Path, cache_dir: Path, int8: bool, threads: int | None = None) -> "OnnxLogits":
    """An ONNX Runtime session for these weights; a damaged cached export is replaced, not fatal."""
    try:
        path = cached_onnx_model(model_dir, cache_dir, int8)
        try:
            return OnnxLogits(path, threads)
        except Exception as exc:  # onnxruntime raises its own error types for unreadable models
            log.warning("cached reader export %s is unusable (%s); exporting it again", path, exc)
            return OnnxLogits(cached_onnx_model(model_dir, cache_dir, int8, refresh=True), threads)
    except OnnxExportError as exc:
        raise ReaderLoadError(str(exc)) from exc


class OnnxLogits:
    """Start/end logits for a batch of token windows, computed by an ONNX Runtime session."""

    def __init__(self, path: Path, threads: int | None = None):
        self.path = path
        self.session = open_session(path, threads)

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        feed = int64_feed(MODEL_INPUTS, (input_ids, attention_mask, token_type_ids))
        start, end = self.session.run(list(OUTPUT_NAMES), feed)
        return start, end
