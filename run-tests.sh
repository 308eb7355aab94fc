#!/usr/bin/env bash
# Runs every DaisyDB check: formatting, lints, unit, integration,
# differential (against a real redis-server) and property tests.
# Installs what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "run-tests: installing redis-server and redis-tools (the differential tests compare against them)"
    sudo_cmd=""
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server redis-tools >/dev/null
fi

echo "run-tests: cargo fmt --check"
cargo fmt --all -- --check
echo "run-tests: cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "run-tests: cargo test"
cargo test --workspace
