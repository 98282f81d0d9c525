#!/usr/bin/env bash
# The issue-5 runs on real data, with the product's own commands (results in BENCHMARKS.md).
#
#   benchmarks/real_data.sh [DATA_DIR]        # DATA_DIR defaults to ../shared/data
#
# 1. e-manual: ingest the manual, train an adapter on qa-train.jsonl alone (context-aware
#    examples), evaluate base / base+rag / tuned / tuned+rag on qa-test.jsonl, whose manual
#    sections no training question touches.
# 2. sample knowledge base: train on the seed tone set, evaluate on knowledge/sample/qa.jsonl;
#    then the e-manual adapter on the same set (does it carry over to another company's docs?).
# 3. cost: a one-document refresh of the e-manual index vs the training run above.
# Each step writes one JSON object to $OUT; reports land in $OUT/<home>/reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
BIN=.venv/bin/supportbot
OUT=${OUT:-benchmarks/results/real-data}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1

field() {  # field NAME FILE: one field of a step's JSON output
  python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])" < "$OUT/$2.json"
}

emanual() {
  export SUPPORTBOT_HOME=$OUT/emanual COMPANY_NAME="Samsung TV support"
  $BIN ingest "$DATA/emanual-smart-tv/docs" --json > "$OUT/emanual-ingest.json"
  $BIN train --data "$DATA/emanual-smart-tv/qa-train.jsonl" --no-seed --decline-share 0.2 \
    --no-docs-share 0.3 --json > "$OUT/emanual-train.json"
  $BIN eval "$DATA/emanual-smart-tv/qa-test.jsonl" --adapter "$(field adapter emanual-train)" \
    --json > "$OUT/emanual-eval.json"
}

sample() {
  export SUPPORTBOT_HOME=$OUT/sample COMPANY_NAME=Orbitask
  $BIN ingest --json > "$OUT/sample-ingest.json"
  $BIN train --json > "$OUT/sample-train.json"
  # the new adapter whether or not the gate promoted it (the report says which)
  $BIN eval knowledge/sample/qa.jsonl --adapter "$(field adapter sample-train)" --json \
    > "$OUT/sample-eval.json"
  $BIN eval knowledge/sample/qa.jsonl --adapter "$(field adapter_path emanual-train)" --json \
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
