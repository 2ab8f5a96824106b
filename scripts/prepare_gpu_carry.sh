#!/usr/bin/env bash
# Gather what scripts/train_reader_gpu.sh needs into .carry/ (git-ignored): the base encoder as fp16
# and the training data, since ../shared does not travel to the GPU machine.
set -euo pipefail
SHARED=${1:-../shared}
rm -rf .carry && mkdir -p .carry/squad .carry/qa-train
HF_HUB_OFFLINE=1 python -c "from qa.reader.train import export_base; export_base('.carry/base')"
cp "$SHARED"/data/squad/*.json.gz .carry/squad/
cp "$SHARED"/data/qa-train/*.json.gz .carry/qa-train/
du -sh .carry
