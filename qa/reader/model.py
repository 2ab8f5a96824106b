"""The extractive reader: load a span model once, then score answer spans of passages for a question.

`Reader.read()` is the one entry point for answering; `Reader.predict_examples()` runs the same code over
a data set for training-time validation and `qa eval reader`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from qa.paths import DEFAULT_CACHE_DIR
from qa.metrics import ScoredQuestion, score_question
from qa.reader.decode import DEFAULT_MAX_ANSWER_TOKENS, decode_spans
from qa.reader.windows import (
    DEFAULT_MAX_LENGTH, DEFAULT_MAX_QUESTION_TOKENS, DEFAULT_STRIDE, MODEL_INPUTS, tokenize_windows,
)

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.reader.onnx_runtime import OnnxLogits

log = logging.getLogger(__name__)

READER_CONFIG_FILE = "reader_config.json"


class ReaderLoadError(RuntimeError):
    """The reader's model folder is missing, incomplete or unreadable."""


def packaged_reader_dir() -> Path:
    """Folder of the reader weights shipped inside the `qa` package."""
    return Path(str(resources.files("qa") / "models" / "reader"))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


@dataclass
class ReaderSettings:
    """Decoding settings and the calibration learnt on validation data, stored beside the weights."""

    max_length: int = DEFAULT_MAX_LENGTH
    stride: int = DEFAULT_STRIDE
    max_question_tokens: int = DEFAULT_MAX_QUESTION_TOKENS
    max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS
    # Abstain when (no-answer logit - best span logit) > no_answer_threshold; chosen on validation articles.
    no_answer_threshold: float = 0.0
    # P(answer right) = sigmoid(calibration_slope * (span logit - no-answer logit) + calibration_intercept).
    calibration_slope: float = 1.0
    calibration_intercept: float = 0.0

    @property
    def probability_threshold(self) -> float:
        """The validation threshold expressed on the calibrated probability scale."""
        return self.probability(-self.no_answer_threshold)

    def probability(self, margin: float) -> float:
        return _sigmoid(self.calibration_slope * margin + self.calibration_intercept)

    @classmethod
    def load(cls, model_dir: Path) -> "ReaderSettings":
        path = Path(model_dir) / READER_CONFIG_FILE
        if not path.exists():
            return cls()
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ReaderLoadError(f"{path}: unreadable reader settings ({exc})") from exc
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, model_dir: Path) -> None:
        payload = asdict(self)
        payload["probability_threshold"] = self.probability_threshold
        (Path(model_dir) / READER_CONFIG_FILE).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class ExtractedSpan:
    """One answer candidate: `text == passages[passage_index][start:end]`."""

    passage_index: int
    start: int
    end: int
    text: str
    span_logit: float
    no_answer_logit: float
    probability: float

    @property
    def margin(self) -> float:
        """How far the span beats its passage's no-answer score (negative: the model prefers no answer)."""
        return self.span_logit - self.no_answer_logit


@dataclass(frozen=True)
class ReaderOutput:
    spans: list[ExtractedSpan] = field(default_factory=list)  # best first, across all passages
    no_answer_logits: list[float] = field(default_factory=list)  # one per passage


def select_device(preference: str = "auto") -> str:
    import torch

    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference


class Reader:
    def __init__(self, model, tokenizer, settings: ReaderSettings, device: str = "cpu", batch_size: int = 32,
                 runtime: "OnnxLogits | None" = None, int8: bool = False):
        self.model = model  # the PyTorch network; None when an ONNX Runtime session does the work
        self.tokenizer = tokenizer
        self.settings = settings
        self.device = device
        self.batch_size = batch_size
        self.runtime = runtime
        self.int8 = int8  # weights quantised to int8 (CPU only)

    @property
    def backend(self) -> str:
        return "onnx" if self.runtime is not None else "torch"

    @classmethod
    def load(cls, model_dir: Path | None = None, device: str = "auto", batch_size: int = 32, int8: bool = False,
             backend: str = "torch", cache_dir: Path | None = None, threads: int | None = None) -> "Reader":
        """Load weights, tokenizer and settings from a Hugging Face-layout folder (default: the shipped one).

        backend "onnx" (CPU only) runs an ONNX export of the weights, cached in `cache_dir`, with ONNX Runtime;
        "torch" runs them with PyTorch. `int8` quantises the linear layers' weights for CPU inference
        (about twice as fast here, at a small cost in accuracy: see the model card).
        """
        from transformers import AutoTokenizer

        model_dir = Path(model_dir) if model_dir else packaged_reader_dir()
        if not (model_dir / "config.json").exists():
            raise ReaderLoadError(f"{model_dir}: no reader model here (config.json missing)")
        if backend not in ("torch", "onnx"):
            raise ValueError(f"unknown reader backend '{backend}' (use 'torch' or 'onnx')")
        started = time.perf_counter()
        device = select_device(device)
        int8 = int8 and device == "cpu"  # quantised kernels are CPU kernels
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        except (OSError, ValueError) as exc:
            raise ReaderLoadError(f"{model_dir}: cannot load the reader's tokenizer ({exc})") from exc
        model, runtime = None, None
        if backend == "onnx" and device == "cpu":
            from qa.reader.onnx_runtime import load_onnx_reader

            runtime = load_onnx_reader(model_dir, Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR, int8, threads)
            # One window per call: int8 activations are scaled per call, so batching would make a question's
            # scores depend on its batch-mates; and unpadded single windows are faster on CPU anyway.
            batch_size = 1
        else:
            model = cls._torch_model(model_dir, device, int8)
        log.info("reader loaded from %s (%s%s on %s) in %.1fs", model_dir, "onnx" if runtime else "torch",
                 ", int8" if int8 else "", device, time.perf_counter() - started)
        return cls(model, tokenizer, ReaderSettings.load(model_dir), device, batch_size, runtime, int8=int8)

    @classmethod
    def from_settings(cls, settings: "Settings", device: str | None = None) -> "Reader":
        """The reader as the service runs it (QA_READER_MODEL, QA_READER_BACKEND, QA_READER_INT8, ...)."""
        return cls.load(settings.reader_model, device=device or settings.device, int8=settings.reader_int8,
                        backend=settings.reader_backend, cache_dir=settings.model_cache_dir, threads=settings.torch_threads)

    @staticmethod
    def _torch_model(model_dir: Path, device: str, int8: bool):
        import torch
        from transformers import AutoModelForQuestionAnswering

        try:
            # Weights ship as fp16 to keep the package small; compute in fp32 on the CPU.
            model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir), dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise ReaderLoadError(f"{model_dir}: cannot load the reader ({exc})") from exc
        model.to(device).eval()
        if int8:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch points eager quantisation users at torchao; it still works
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        return model

    def _logits(self, windows) -> tuple[np.ndarray, np.ndarray]:
        """Start/end logits for every window. Windows are batched by length and each batch is cut to its
        longest member, so short passages do not pay for the padding of long ones."""
        n, seq_len = windows.input_ids.shape
        starts = np.full((n, seq_len), -1e4, dtype=np.float32)
        ends = np.full((n, seq_len), -1e4, dtype=np.float32)
        lengths = windows.attention_mask.sum(axis=1)
        order = np.argsort(-lengths, kind="stable")
        for i in range(0, n, self.batch_size):
            rows = order[i : i + self.batch_size]
            width = int(lengths[rows].max())
            batch = [np.ascontiguousarray(getattr(windows, name)[rows, :width]) for name in MODEL_INPUTS]
            starts[rows, :width], ends[rows, :width] = self._forward(*batch)
        return starts, ends

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray,
                 token_type_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One batch through the network, on whichever runtime holds it."""
        if self.runtime is not None:
            return self.runtime(input_ids, attention_mask, token_type_ids)
        import torch

        use_bf16 = self.device.startswith("cuda")
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
            out = self.model(**{
                name: torch.from_numpy(array).to(self.device)
                for name, array in zip(MODEL_INPUTS, (input_ids, attention_mask, token_type_ids))
            })
        return out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()

    def read_pairs(self, questions: Sequence[str], passages: Sequence[str], top_k_per_pair: int = 5):
        """Span candidates and no-answer logits for each (question, passage) pair, in one batched pass."""
        if not passages:
            return [], np.zeros(0)
        s = self.settings
        windows = tokenize_windows(
            self.tokenizer, questions, passages, s.max_length, s.stride, s.max_question_tokens
        )
        start_logits, end_logits = self._logits(windows)
        candidates, null_scores = decode_spans(
            windows, start_logits, end_logits, list(passages), s.max_answer_tokens, top_k_per_pair
        )
        return [c[:top_k_per_pair] for c in candidates], null_scores

    def read(self, question: str, passages: Sequence[str], top_k: int = 5) -> ReaderOutput:
        """Best spans for one question over several passages; no passages gives no spans."""
        return self.read_many([question], [passages], top_k)[0]

    def read_many(self, questions: Sequence[str], passages: Sequence[Sequence[str]], top_k: int = 5) -> list[ReaderOutput]:
        """`read` for several questions (each with its own passages) in one batched pass."""
        pair_questions = [q for q, ps in zip(questions, passages) for _ in ps]
        pair_passages = [p for ps in passages for p in ps]
        if not pair_passages:
            return [ReaderOutput() for _ in questions]
        candidates, null_scores = self.read_pairs(pair_questions, pair_passages, top_k)
        outputs, offset = [], 0
        for ps in passages:
            spans = [
                ExtractedSpan(
                    passage_index=c.pair_index - offset, start=c.start, end=c.end, text=c.text, span_logit=c.score,
                    no_answer_logit=float(null_scores[c.pair_index]),
                    probability=self.settings.probability(c.score - float(null_scores[c.pair_index])),
                )
                for per_passage in candidates[offset : offset + len(ps)]
                for c in per_passage
            ]
            spans.sort(key=lambda span: -span.probability)
            outputs.append(ReaderOutput(spans=spans[:top_k], no_answer_logits=[float(x) for x in null_scores[offset : offset + len(ps)]]))
            offset += len(ps)
        return outputs

    def predict_examples(self, examples: Iterable, chunk_size: int = 256, progress: bool = False) -> list[ScoredQuestion]:
        """Best span and no-answer margin for each SQuAD example with its gold paragraph, scored against gold."""
        from tqdm.auto import tqdm

        examples = list(examples)
        scored: list[ScoredQuestion] = []
        bar = tqdm(total=len(examples), desc="reading", unit="q", disable=not progress)
        for i in range(0, len(examples), chunk_size):
            chunk = examples[i : i + chunk_size]
            candidates, null_scores = self.read_pairs(
                [e.question for e in chunk], [e.context for e in chunk], top_k_per_pair=1
            )
            for example, found, null in zip(chunk, candidates, null_scores):
                best_text = found[0].text if found else ""
                best_logit = found[0].score if found else float(null) - 1e3
                scored.append(score_question(example.qid, best_text, float(null) - best_logit, example.answer_texts))
            bar.update(len(chunk))
        bar.close()
        return scored
