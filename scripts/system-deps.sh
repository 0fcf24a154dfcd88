#!/usr/bin/env bash
# Debian packages the checks need and npm cannot provide: Chromium (Bull Board browser
# test), docker-compose (checks docker-compose.yml), promtool (checks alert rules), age
# (backups are age-encrypted; tests decrypt them by hand as docs/DATA_MANAGEMENT.md says),
# pgbouncer (the tests under test/integration/pgbouncer run Bulwark behind one of their own;
# Debian puts it in /usr/sbin, and its package does not start a service here).
# Installs only what is missing; a failed install is reported, and the test or check
# that needs the tool then fails with its own clear message.
set -uo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v age >/dev/null 2>&1 || missing+=(age)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || echo "warning: could not install ${missing[*]}" >&2
fi
