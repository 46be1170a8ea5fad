#!/usr/bin/env bash
# Installs what the tests need before they run: Debian's chromium for the browser
# tests, Debian's tmux for the terminal demo's test. Run by `pnpm test` (README's test command, and so .ci/run); no test file
# installs anything itself. Without root and without chromium, the browser tests
# are skipped and say so — except under CI, where this fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! bash scripts/ensure-chromium.sh; then
  case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
    "" | 0 | false) echo "test-setup: chromium is missing; the browser tests will be skipped" >&2 ;;
    *) echo "test-setup: chromium is required under CI" >&2; exit 1 ;;
  esac
fi
if ! bash scripts/ensure-tmux.sh; then
  case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
    "" | 0 | false) echo "test-setup: tmux is missing; the terminal demo's test will be skipped" >&2 ;;
    *) echo "test-setup: tmux is required under CI" >&2; exit 1 ;;
  esac
fi
