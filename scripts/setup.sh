#!/usr/bin/env bash
# Install dependencies from the lockfile, generate the Prisma client, make sure Redis
# and Postgres run, write a .env with a fresh master key and audit checkpoint signing
# key if there is none, create the database and apply migrations. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
# After install: the local object store (s3rver) comes from node_modules.
bash scripts/services.sh
npm run --silent generate
npm run --silent build
if [ ! -f .env ] && [ -z "${MASTER_KEYS:-}" ]; then
  # A local, uncommitted .env (gitignored) keeps the dev master key out of the repo.
  umask 077
  echo "MASTER_KEYS=$(node bin/bulwark.js keys generate --id dev1 2>/dev/null)" > .env
  echo "wrote .env with a new development master key (keep it; secrets stored under it need it)"
fi
# A .env written before audit checkpoints existed gets a development signing key too
# (docs/audit-checkpoints.md); one that sets the variable, even empty, or that is for
# staging or live (their key is the operator's), is left alone.
if [ -f .env ] && [ -z "${AUDIT_CHECKPOINT_KEY:-}" ] && ! grep -Eq '^(AUDIT_CHECKPOINT_KEY=|BULWARK_ENV=(live|staging))' .env; then
  echo "AUDIT_CHECKPOINT_KEY=$(node bin/bulwark.js audit checkpoints generate-key 2>/dev/null)" >> .env
  echo "added a development audit checkpoint signing key to .env (public key: bulwark audit checkpoints key)"
fi
node bin/bulwark.js migrate
