"""Run the reader with ONNX Runtime: exported once from the shipped weights, cached on disk, optionally int8.

Why: on these CPUs ONNX Runtime with fused attention and int8 weights reads a question over four passages
in about half the time of eager PyTorch. The PyTorch weights stay the source of truth (training writes them);
the ONNX file is derived from them and rebuilt whenever the weights, the runtime or the options change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import numpy as np

from qa.reader.settings import ReaderLoadError
from qa.reader.windows import MODEL_INPUTS

log = logging.getLogger(__name__)

OUTPUT_NAMES = ("start_logits", "end_logits")
EXPORT_FORMAT = 1  # bump when the export recipe below changes, so caches are rebuilt


class OnnxExportError(ReaderLoadError):
    """The reader could not be converted to ONNX (the message says why)."""


def _fingerprint(model_dir: Path, int8: bool) -> str:
    import onnxruntime
    import torch

    digest = hashlib.sha256()
    for name in sorted(p.name for p in model_dir.iterdir() if p.suffix in {".safetensors", ".json"}):
        if name == "reader_config.json":
            continue  # decoding settings and calibration do not change the network
        digest.update(name.encode())
        with open(model_dir / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    digest.update(json.dumps([EXPORT_FORMAT, int8, onnxruntime.__version__, torch.__version__]).encode())
    return digest.hexdigest()[:16]


def _export(model_dir: Path, target: Path, int8: bool) -> None:
    """Export (eager attention: the SDPA path does not export its padding mask correctly), fuse, quantise."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(
        str(model_dir), dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()
    config = model.config

    class _Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    example = tuple(torch.ones((2, 16), dtype=torch.long) for _ in MODEL_INPUTS)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in MODEL_INPUTS + OUTPUT_NAMES}
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        raw, fused = Path(work) / "raw.onnx", Path(work) / "fused.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Logits(model),
                example,
                str(raw),
                input_names=list(MODEL_INPUTS),
                output_names=list(OUTPUT_NAMES),
                dynamic_axes=dynamic,
                opset_version=17,
                dynamo=False,
            )
        fused_model = optimizer.optimize_model(
            str(raw), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
        )
        fused_model.save_model_to_file(str(fused))
        # A private name per export: two processes starting at once must not write into the same file.
        partial = target.with_name(f"{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
        if int8:
            import onnx

            # Per-channel weights keep the accuracy loss small; fused ops need the default tensor type.
            root = logging.getLogger()
            level = root.level
            root.setLevel(
                logging.ERROR
            )  # the quantiser logs a generic "consider pre-processing" hint on the root logger
            try:
                quantize_dynamic(
                    str(fused),
                    str(partial),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                )
            finally:
                root.setLevel(level)
        else:
            shutil.copyfile(fused, partial)
        os.replace(partial, target)  # readers of the cache never see a half-written file


def cached_onnx_model(model_dir: Path, cache_dir: Path, int8: bool, refresh: bool = False) -> Path:
    """Path of the ONNX file for these weights, exporting it first when the cache lacks it (or `refresh`)."""
    model_dir, cache_dir = Path(model_dir), Path(cache_dir)
    target = cache_dir / f"reader-{_fingerprint(model_dir, int8)}{'-int8' if int8 else ''}.onnx"
    if target.exists() and not refresh:
        return target
    started = time.perf_counter()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _export(model_dir, target, int8)
    except (OSError, RuntimeError, ValueError) as exc:
        raise OnnxExportError(f"cannot export the reader in {model_dir} to ONNX under {cache_dir}: {exc}") from exc
    log.info("exported the reader to %s in %.1fs", target, time.perf_counter() - started)
    return target


def load_onnx_reader(model_dir: Path, cache_dir: Path, int8: bool, threads: int | None = None) -> "OnnxLogits":
    """An ONNX Runtime session for these weights; a damaged cached export is replaced, not fatal."""
    path = cached_onnx_model(model_dir, cache_dir, int8)
    try:
        return OnnxLogits(path, threads)
    except Exception as exc:  # onnxruntime raises its own error types for unreadable models
        log.warning("cached reader export %s is unusable (%s); exporting it again", path, exc)
        return OnnxLogits(cached_onnx_model(model_dir, cache_dir, int8, refresh=True), threads)


class OnnxLogits:
    """Start/end logits for a batch of token windows, computed by an ONNX Runtime session."""

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        arrays = (input_ids, attention_mask, token_type_ids)
        feed = {name: array.astype(np.int64, copy=False) for name, array in zip(MODEL_INPUTS, arrays)}
        start, end = self.session.run(list(OUTPUT_NAMES), feed)
        return start, end
