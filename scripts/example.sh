#!/usr/bin/env bash
# Runs the order workflow end to end on the embedded log (no broker needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA_DIR="${DATA_DIR:-$(mktemp -d)/logloom}"
echo "data dir: $DATA_DIR" >&2
.venv/bin/logloom run examples/orders.py:process_order \
  --input '{"order_id": "o-1001", "amount": 42.5}' --execution-id order-1001 --data-dir "$DATA_DIR"
echo "--- history of order-1001 ---" >&2
.venv/bin/logloom history order-1001 --output table --data-dir "$DATA_DIR"
