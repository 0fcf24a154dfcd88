#!/usr/bin/env bash
# Install dependencies at the versions pinned in package-lock.json.
# Why not `npm ci`: it refuses this lockfile because msgpackr-extract's optional
# packages for other platforms (darwin, win32, linux-arm) have no lock entries (the
# registry mirror serves only this platform's), although nothing needs them.
# `npm install` with the lockfile present installs exactly the locked versions and
# leaves the lockfile unchanged (checked); --no-save keeps it that way regardless.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund --no-save "$@"
