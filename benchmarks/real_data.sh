#!/usr/bin/env bash
# The issue-5 runs on real data, with the product's own commands (results in BENCHMARKS.md).
#
#   benchmarks/real_data.sh [DATA_DIR]        # DATA_DIR defaults to ../shared/data
#
# 1. e-manual: ingest the manual, train an adapter on qa-train.jsonl (context-aware examples,
#    plus the seed tone set), evaluate base / base+rag / tuned / tuned+rag on qa-test.jsonl,
#    whose manual sections no training question touches.
# 2. sample knowledge base: train on the seed tone set, evaluate on knowledge/sample/qa.jsonl;
#    then the e-manual adapter on the same set (does it carry over to another company's docs?).
# 3. cost: a one-document refresh of the e-manual index vs the training run above.
# Each step prints one JSON object; reports land in $HOME_DIR/reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
BIN=.venv/bin/supportbot
OUT=${OUT:-benchmarks/results/real-data}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1

emanual() {
  export SUPPORTBOT_HOME=$OUT/emanual COMPANY_NAME="Samsung TV support"
  $BIN ingest "$DATA/emanual-smart-tv/docs" --json > "$OUT/emanual-ingest.json"
  $BIN train --data "$DATA/emanual-smart-tv/qa-train.jsonl" --json > "$OUT/emanual-train.json"
  $BIN eval "$DATA/emanual-smart-tv/qa-test.jsonl" --json > "$OUT/emanual-eval.json"
}

sample() {
  export SUPPORTBOT_HOME=$OUT/sample COMPANY_NAME=Orbitask
  $BIN ingest --json > "$OUT/sample-ingest.json"
  $BIN train --json > "$OUT/sample-train.json"
  $BIN eval knowledge/sample/qa.jsonl --json > "$OUT/sample-eval.json"
  local emanual_adapter
  emanual_adapter=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["adapter_path"])' \
    < "$OUT/emanual-train.json")
  $BIN eval knowledge/sample/qa.jsonl --adapter "$emanual_adapter" --json \
    > "$OUT/sample-eval-emanual-adapter.json"
}

refresh_cost() {
  export SUPPORTBOT_HOME=$OUT/emanual COMPANY_NAME="Samsung TV support"
  local docs=$OUT/emanual-docs
  rm -rf "$docs" && cp -r "$DATA/emanual-smart-tv/docs" "$docs"
  $BIN ingest "$docs" --json > /dev/null
  echo "One more sentence for the refresh benchmark." >> "$docs/002-using-smart-hub.md"
  $BIN refresh --json > "$OUT/emanual-refresh.json"
}

emanual
sample
refresh_cost
echo "results in $OUT/"
