# Bulwark: one image runs `bulwark migrate` and then `bulwark start` (workers, scheduler
# and the HTTP server on $PORT). The TypeScript sources are compiled to dist/ at build
# time (scripts/build.mjs), so the running process carries no TypeScript loader.
FROM node:20-bookworm-slim

ENV TZ=UTC \
    NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    NPM_CONFIG_UPDATE_NOTIFIER=false

WORKDIR /app

# Backups: pg_dump/pg_restore matching the server's major version (Postgres 15) and
# Debian's age, which encrypts and decrypts them (docs/decisions/0006).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 age bash \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, from the lockfile, so they are cached across source changes.
# esbuild (the build), tsx (fallback loader) and prisma are runtime dependencies;
# dev dependencies are left out.
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund --no-save && npm cache clean --force

COPY . .

# Generate the Prisma client into generated/. `prisma generate` does not need the
# native schema engine; pointing the variable at /bin/true stops the CLI from
# downloading it. Migrations are applied by Bulwark's own runner (bulwark migrate).
RUN PRISMA_SCHEMA_ENGINE_BINARY=/bin/true npx prisma generate && node scripts/build.mjs

# Run as the unprivileged user the node image provides; the app files stay root-owned.
USER node

EXPOSE 8080

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"

# exec: `bulwark start` becomes PID 1's replacement and receives SIGTERM directly.
CMD ["sh", "-c", "node bin/bulwark.js migrate && exec node bin/bulwark.js start"]
