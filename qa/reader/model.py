"""The extractive reader: load a span model once, then find answer spans in passages for a question.

`Reader.read()` / `read_many()` take passages of documents and return `ExtractedAnswer`s that carry their passage
and document offsets; `Reader.read_texts()` is the same pass over bare texts, for training and SQuAD scoring.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from qa.extracted import ExtractedAnswer, PassageLike
from qa.paths import DEFAULT_CACHE_DIR
from qa.reader.decode import decode_spans
from qa.reader.merge import MergedText, merge_overlapping
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
        merge_overlaps: bool = False,
    ):
        self.model = model  # the PyTorch network; None when an ONNX Runtime session does the work
        self.tokenizer = tokenizer
        self.settings = settings
        self.device = device
        self.batch_size = batch_size
        self.runtime = runtime
        self.int8 = int8  # weights quantised to int8 (CPU only)
        self.merge_overlaps = merge_overlaps  # read overlapping passages of a document once, as one text

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
        reader = cls.load(
            settings.reader_model,
            device=device or settings.device,
            int8=settings.reader_int8,
            backend=settings.reader_backend,
            cache_dir=settings.model_cache_dir,
            threads=settings.torch_threads,
        )
        reader.merge_overlaps = settings.merge_overlapping_passages
        return reader

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

    def reading_order(self, passages: Sequence[PassageLike]) -> list[MergedText]:
        """The texts read for these passages, in the order they are read: overlapping passages merged when
        `merge_overlaps`, else each passage alone; ordered by their best-ranked passage."""
        if self.merge_overlaps:
            return merge_overlapping(passages)
        return [MergedText.of(i, p) for i, p in enumerate(passages)]

    def read_many(
        self,
        questions: Sequence[str],
        passages: Sequence[Sequence[PassageLike]],
        answers_per_question: int = 5,
        enough: Callable[[int, list[ExtractedAnswer]], bool] | None = None,
    ) -> list[list[ExtractedAnswer]]:
        """`read` for several questions (each with its own passages), batched across questions. Each answer cites
        one of the passages given (with `merge_overlaps`, the best-ranked that holds it whole).

        `enough(question_index, new_answers)`, when given, is asked after each text of a question is read (texts in
        `reading_order`, one round per text across the batch); when it says True the question's remaining texts
        are not read. Without it every text is read in one pass."""
        texts_per_question = [self.reading_order(ps) for ps in passages]
        found: list[list[ExtractedAnswer]] = [[] for _ in questions]
        reading = [i for i, texts in enumerate(texts_per_question) if texts]
        rounds = [None] if enough is None else list(range(max((len(t) for t in texts_per_question), default=0)))
        for round_ in rounds:
            # (question, text) pairs of this round: every text at once, or each reading question's next text.
            pairs = [
                (i, text)
                for i in reading
                for text in (texts_per_question[i] if round_ is None else texts_per_question[i][round_ : round_ + 1])
            ]
            if not pairs:
                break
            per_pair, _ = self.read_texts(
                [questions[i] for i, _ in pairs], [t.text for _, t in pairs], answers_per_question
            )
            new: dict[int, list[ExtractedAnswer]] = {i: [] for i in reading}
            for (i, text), answers in zip(pairs, per_pair):
                new[i] += self._cite(answers, text, passages[i])
            for i, answers in new.items():
                found[i] += answers
            if enough is not None:
                # Asked once per text read; a question whose texts are all read leaves the rounds.
                still = []
                for i in reading:
                    if not enough(i, new[i]) and round_ is not None and round_ + 1 < len(texts_per_question[i]):
                        still.append(i)
                reading = still
        results = []
        for answers in found:
            answers.sort(key=lambda answer: -answer.score)
            results.append(answers[:answers_per_question])
        return results

    @staticmethod
    def _cite(
        answers: list[ExtractedAnswer], text: MergedText, passages: Sequence[PassageLike]
    ) -> list[ExtractedAnswer]:
        """Answers found in `text`, each re-expressed as a span of the best-ranked passage that holds it whole."""
        cited = []
        for answer in answers:
            start, end = text.start + answer.start, text.start + answer.end
            member = text.citing_member(passages, start, end)
            if member is None:  # a span across passages' edges: no single passage could cite it
                continue
            passage = passages[member]
            cited.append(
                replace(
                    answer, start=start - passage.start, end=end - passage.start, passage_rank=member, passage=passage
                )
            )
        return cited
