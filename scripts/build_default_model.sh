#!/usr/bin/env bash
# Rebuild the bundled default model (src/voxage/assets/default_model.{pth,onnx}) from the shared corpora, and the
# cross-validated numbers behind its model card, docs/results.md and docs/robustness.md.
# Usage: scripts/build_default_model.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
V=.venv/bin/voxage
WORK=${WORK:-work-default}
# Every training and validation clip also heard through 4 random simulated channels (phone line, noise, room, gain,
# codec); every test fold scored clean and through the 14 standard channels; CREMA-D (studio speech) held out whole.
# 4 copies rather than 2: +0.006 / +0.008 over the conditions (docs/experiments.md); with copies the head also
# compensates the channel (the default; docs/robustness.md)
COPIES="--channel-copies 4"
RECIPE="--models embed --folds 5 --epochs 15 $COPIES"
PROTOCOL="--seeds 0,1,2 --held-out-corpus crema-d --conditions standard"
# English Common Voice plus 57 other languages train; CREMA-D's acted studio speech is the held-out corpus (trained
# on, it lowered the mean over the conditions from 0.309 to 0.299: docs/robustness.md).
SOURCES=("$DATA/cv-en-delta13" "$DATA/cv-multi-6.1")
$V prepare "${SOURCES[@]}" "$DATA/crema-d" --out "$WORK/all" --include-invalidated --balance none
# 1. English speakers never heard (test folds from cv-en-delta13 only; every other corpus but CREMA-D trains).
$V crossval "$WORK/all" $RECIPE $PROTOCOL --test-corpus cv-en-delta13 --out "$WORK/crossval"
# 2. Test folds across all languages.
$V crossval "$WORK/all" $RECIPE $PROTOCOL --out "$WORK/crossval"
mkdir -p docs/results/protocol  # (docs/results/multilingual holds voxage 0.5's clean-only results)
cp "$WORK"/crossval/*.{json,md,png} "$WORK/all/cleaning_report.json" docs/results/protocol/
# The bundled model: 90% of the speakers train it, a disjoint 10% fit its temperature (then it is refit on all).
$V prepare "${SOURCES[@]}" --out "$WORK/final" --include-invalidated --balance none --val-fraction 0.1 \
  --test-fraction 0
$V train "$WORK/final" --model embed --epochs 15 $COPIES --run-dir "$WORK/final/runs/embed"
cp "$WORK/final/runs/embed/model.pth" src/voxage/assets/default_model.pth
# What prediction runs: the bundled GE2E encoder graph (scripts/export_ge2e.py) joined to this head.
$V export src/voxage/assets/default_model.pth --onnx src/voxage/assets/default_model.onnx
