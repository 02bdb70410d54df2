#!/usr/bin/env bash
# Runs the lint (scripts/lint.sh), then the whole test suite on both logs. The suite starts
# its own Kafka broker (LOGLOOM_KAFKA_BOOTSTRAP to use an existing one); this script fetches
# the broker's jars. LOGLOOM_SKIP_LINT=1 skips the lint (never in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${LOGLOOM_SKIP_LINT:-}" != "1" ] || [ "${CI:-}" = "true" ]; then
  bash scripts/lint.sh
fi
if [ -z "${LOGLOOM_KAFKA_BOOTSTRAP:-}" ]; then
  .venv/bin/python deploy/kafka/kafka_local.py fetch >/dev/null
fi
exec .venv/bin/python -m pytest "$@"
