#!/usr/bin/env bash
# Rebuild the bundled default model (src/voxage/assets/default_model.pth) from the real Common Voice slice,
# and the cross-validated numbers in its model card. Usage: scripts/build_default_model.sh [CV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
CV=${1:-../shared/data/cv-en-delta13}
V=.venv/bin/voxage
WORK=${WORK:-work-default}
# Cross-validation first: all clips (validated + invalidated), no downsampling, speaker-weighted loss.
$V prepare "$CV" --out "$WORK/all" --include-invalidated --balance none
$V crossval "$WORK/all" --models embed,cnn,tcn,rnn,bigru,resnet --folds 5 --epochs 15
$V crossval "$WORK/all" --models embed,cnn --folds 5 --epochs 15 --split random
# The bundled model: 90% of the speakers train it, 10% (disjoint) drive early stopping.
$V prepare "$CV" --out "$WORK/final" --include-invalidated --balance none --val-fraction 0.1 --test-fraction 0
$V train "$WORK/final" --model embed --epochs 15 --run-dir "$WORK/final/runs/embed"
cp "$WORK/final/runs/embed/model.pth" src/voxage/assets/default_model.pth
