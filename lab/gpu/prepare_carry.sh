#!/usr/bin/env bash
# Gather what lab/gpu/train_reader.sh needs into .carry/ (git-ignored): the base encoder as fp16
# and the training data, since ../shared does not travel to the GPU machine.
set -euo pipefail
SHARED=${1:-../shared}
rm -rf .carry && mkdir -p .carry/squad .carry/qa-train .carry/wheels
HF_HUB_OFFLINE=1 python -c "from lab.train_reader import export_base; export_base('.carry/base')"
cp "$SHARED"/data/squad/*.json.gz .carry/squad/
cp "$SHARED"/data/qa-train/*.json.gz .carry/qa-train/
# pysbd (pure Python) for --crop-rate's sentence splits; the training path needs nothing else beyond torch,
# transformers, numpy and tqdm (tests/test_training_path.py).
python -m pip download -q --no-deps --only-binary=:all: pysbd==0.3.4 -d .carry/wheels
du -sh .carry
