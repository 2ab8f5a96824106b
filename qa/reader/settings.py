"""The reader's stored settings (decoding and calibration, beside the weights) and its load error.

Apart from the model so that the model and the ONNX runtime can both import them without importing each other.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from qa.reader.decode import DEFAULT_MAX_ANSWER_TOKENS
from qa.reader.windows import DEFAULT_MAX_LENGTH, DEFAULT_MAX_QUESTION_TOKENS, DEFAULT_STRIDE

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
