"""Average two readers' weights (WiSE-FT, Wortsman et al. 2022): a news-adapted reader interpolated with the
reader it started from keeps much of the news gain and loses less of what the start knew.

    python -m lab.weight_average --start qa/models/reader --adapted runs/news/epoch-2 --alpha 0.5 --out runs/soup50

`alpha` is the adapted reader's share. Tokenizer and reader settings come from the adapted folder; re-choose the
threshold on SQuAD validation afterwards (`python -m lab.adapt_news --recalibrate-only`).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Sequence


def average_readers(start: Path, adapted: Path, alpha: float, out: Path) -> Path:
    from safetensors.torch import load_file, save_file

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], not {alpha}")
    out = Path(out)
    for source in (Path(start), Path(adapted)):
        if out.resolve() == source.resolve() or source.resolve() in out.resolve().parents:
            raise ValueError(f"--out {out} would overwrite the reader in {source}")
    first = load_file(str(Path(start) / "model.safetensors"))
    second = load_file(str(Path(adapted) / "model.safetensors"))
    if first.keys() != second.keys() or any(first[k].shape != second[k].shape for k in first):
        raise ValueError(f"{start} and {adapted} are not the same architecture")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(adapted, out)
    # A decision fitted for the adapted reader does not fit the average: re-fit it (qa eval news --fit-decision).
    (out / "answer_decision.json").unlink(missing_ok=True)
    mixed = {k: ((1 - alpha) * first[k].float() + alpha * second[k].float()).to(second[k].dtype) for k in first}
    save_file(mixed, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Average two readers' weights.")
    parser.add_argument("--start", type=Path, required=True, help="the reader training started from")
    parser.add_argument("--adapted", type=Path, required=True, help="the reader after continued training")
    parser.add_argument("--alpha", type=float, default=0.5, help="share of the adapted reader (0..1)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        print(average_readers(args.start, args.adapted, args.alpha, args.out))
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
