"""The extractive reader: load a span model once, then find answer spans in passages for a question.

`Reader.read()` / `read_many()` take passages of documents and return `ExtractedAnswer`s that carry their passage
and document offsets; `Reader.read_texts()` is the same pass over bare texts, for training and SQuAD scoring.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from qa.extracted import ExtractedAnswer, PassageLike
from qa.paths import DEFAULT_CACHE_DIR
from qa.reader.decode import decode_spans
from qa.reader.settings import ReaderLoadError, ReaderSettings, packaged_reader_dir
from qa.reader.windows import MODEL_INPUTS, tokenize_windows

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.reader.onnx_runtime import OnnxLogits

log = logging.getLogger(__name__)


def select_device(preference: str = "auto") -> str:
    import torch

    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference


class Reader:
    def __init__(
        self,
        model,
        tokenizer,
        settings: ReaderSettings,
        device: str = "cpu",
        batch_size: int = 32,
        runtime: "OnnxLogits | None" = None,
        int8: bool = False,
    ):
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
    def load(
        cls,
        model_dir: Path | None = None,
        device: str = "auto",
        batch_size: int = 32,
        int8: bool = False,
        backend: str = "torch",
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> "Reader":
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
        log.info(
            "reader loaded from %s (%s%s on %s) in %.1fs",
            model_dir,
            "onnx" if runtime else "torch",
            ", int8" if int8 else "",
            device,
            time.perf_counter() - started,
        )
        return cls(model, tokenizer, ReaderSettings.load(model_dir), device, batch_size, runtime, int8=int8)

    @classmethod
    def from_settings(cls, settings: "Settings", device: str | None = None) -> "Reader":
        """The reader as the service runs it (QA_READER_MODEL, QA_READER_BACKEND, QA_READER_INT8, ...)."""
        return cls.load(
            settings.reader_model,
            device=device or settings.device,
            int8=settings.reader_int8,
            backend=settings.reader_backend,
            cache_dir=settings.model_cache_dir,
            threads=settings.torch_threads,
        )

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

    def _forward(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One batch through the network, on whichever runtime holds it."""
        if self.runtime is not None:
            return self.runtime(input_ids, attention_mask, token_type_ids)
        import torch

        use_bf16 = self.device.startswith("cuda")
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
            out = self.model(
                **{
                    name: torch.from_numpy(array).to(self.device)
                    for name, array in zip(MODEL_INPUTS, (input_ids, attention_mask, token_type_ids))
                }
            )
        return out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()

    def read_texts(
        self, questions: Sequence[str], texts: Sequence[str], answers_per_text: int = 5
    ) -> tuple[list[list[ExtractedAnswer]], np.ndarray]:
        """Best answers (at most `answers_per_text`, best first) and the no-answer logit of each (question, text)
        pair, in one batched pass. The answers carry no passage: their offsets are into the text."""
        if not texts:
            return [], np.zeros(0)
        s = self.settings
        windows = tokenize_windows(self.tokenizer, questions, texts, s.max_length, s.stride, s.max_question_tokens)
        start_logits, end_logits = self._logits(windows)
        # A text's best N answers can all come from one window, so each window proposes N.
        candidates, no_answer_logits = decode_spans(
            windows, start_logits, end_logits, list(texts), s.max_answer_tokens, answers_per_text
        )
        answers = [
            [
                ExtractedAnswer(
                    text=c.text,
                    start=c.start,
                    end=c.end,
                    passage_rank=0,
                    span_logit=c.score,
                    no_answer_logit=float(no_answer_logits[pair]),
                    score=s.probability(c.score - float(no_answer_logits[pair])),
                )
                for c in found[:answers_per_text]
            ]
            for pair, found in enumerate(candidates)
        ]
        return answers, no_answer_logits

    def read(
        self, question: str, passages: Sequence[PassageLike], answers_per_question: int = 5
    ) -> list[ExtractedAnswer]:
        """Best answers for one question over several passages, best first; no passages gives no answers."""
        return self.read_many([question], [passages], answers_per_question)[0]

    def read_many(
        self, questions: Sequence[str], passages: Sequence[Sequence[PassageLike]], answers_per_question: int = 5
    ) -> list[list[ExtractedAnswer]]:
        """`read` for several questions (each with its own passages) in one batched pass."""
        pair_questions = [q for q, ps in zip(questions, passages) for _ in ps]
        pair_passages = [p for ps in passages for p in ps]
        if not pair_passages:
            return [[] for _ in questions]
        per_pair, _ = self.read_texts(pair_questions, [p.text for p in pair_passages], answers_per_question)
        results, offset = [], 0
        for ps in passages:
            found = [
                replace(answer, passage_rank=rank, passage=passage)
                for rank, (passage, answers) in enumerate(zip(ps, per_pair[offset : offset + len(ps)]))
                for answer in answers
            ]
            found.sort(key=lambda answer: -answer.score)
            results.append(found[:answers_per_question])
            offset += len(ps)
        return results
