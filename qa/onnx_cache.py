"""ONNX exports of the project's transformer models, made once and cached on disk, and the sessions that run them.

Why: on these CPUs ONNX Runtime with fused attention runs MiniLM-sized models several times faster than eager
PyTorch for the short inputs the service sees (one question, a few passages). The PyTorch weights stay the source
of truth; an export is derived from them and named by a fingerprint of the weights, the runtime versions and the
export options, so it is rebuilt whenever any of them changes. Exports are written under a private name and
renamed into place, so two processes starting at once never read a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

log = logging.getLogger(__name__)


class OnnxExportError(RuntimeError):
    """A model could not be converted to ONNX (the message says why)."""


def fingerprint(model_dir: Path, options: Sequence[Any], skip: Sequence[str] = ()) -> str:
    """A short hash of the weights and configuration files in `model_dir` (minus `skip`), the runtime versions
    and `options`."""
    import onnxruntime
    import torch

    digest = hashlib.sha256()
    for name in sorted(p.name for p in Path(model_dir).iterdir() if p.suffix in {".safetensors", ".json"}):
        if name in skip:
            continue
        digest.update(name.encode())
        with open(Path(model_dir) / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    digest.update(json.dumps([*options, onnxruntime.__version__, torch.__version__]).encode())
    return digest.hexdigest()[:16]


def cached_export(target: Path, export: Callable[[Path], None], refresh: bool = False) -> Path:
    """`target`, calling `export(partial_path)` first when the cache lacks it (or `refresh`)."""
    target = Path(target)
    if target.exists() and not refresh:
        return target
    started = time.perf_counter()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
        try:
            export(partial)
            os.replace(partial, target)  # readers of the cache never see a half-written file
        finally:
            partial.unlink(missing_ok=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise OnnxExportError(f"cannot export {target.name} to ONNX under {target.parent}: {exc}") from exc
    log.info("exported %s in %.1fs", target, time.perf_counter() - started)
    return target


def export_bert(
    module: Any, input_names: Sequence[str], output_names: Sequence[str], target: Path, num_heads: int, hidden_size: int
) -> None:
    """Export a BERT-family `module` (called with one tensor per input name) and fuse its attention for ONNX
    Runtime. The module must use eager attention: the SDPA path does not export its padding mask correctly."""
    import torch
    from onnxruntime.transformers import optimizer

    example = tuple(torch.ones((2, 16), dtype=torch.long) for _ in input_names)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in [*input_names, *output_names]}
    with tempfile.TemporaryDirectory(dir=Path(target).parent) as work:
        raw = Path(work) / "raw.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                example,
                str(raw),
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes=dynamic,
                opset_version=17,
                dynamo=False,
            )
        fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=num_heads, hidden_size=hidden_size)
        fused.save_model_to_file(str(target))


def open_session(path: Path, threads: int | None = None, spin: bool = True) -> Any:
    """An ONNX Runtime CPU session for `path`; `threads` sets its intra-op threads (default: ONNX Runtime's).
    `spin=False` lets its threads sleep between runs: a session that runs briefly beside another (the embedder
    beside the reader) must not keep the cores busy waiting, or it slows the other down."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def int64_feed(names: Sequence[str], arrays: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    return {name: array.astype(np.int64, copy=False) for name, array in zip(names, arrays)}
