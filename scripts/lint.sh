#!/usr/bin/env bash
# Lint: ruff (rules and formatting) and import-linter (the layer rule, docs/architecture.md).
# scripts/test.sh runs it first, so CI does too. Needs the test environment (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
