#!/usr/bin/env bash
# One command from a fresh clone to a running Bulwark: set up, then start workers,
# scheduler and the HTTP server in the foreground (Ctrl-C or SIGTERM stops it cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
exec node bin/bulwark.js start
