#!/usr/bin/env bash
# Install dependencies from the lockfile, generate the Prisma client, make sure Redis
# and Postgres run, create the database and apply migrations. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
npm ci --no-audit --no-fund
npm run --silent generate
node bin/bulwark.js migrate
