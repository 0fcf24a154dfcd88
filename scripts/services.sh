#!/usr/bin/env bash
# Start the local Redis, Postgres and object store if they are down (the commands from
# docs/../environment notes for machines of this kind). Idempotent. Run after
# scripts/install.sh: the object store is s3rver from node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting postgres"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
# The local stand-in for MinIO (S3_ENDPOINT's default). No MinIO server can be installed
# on these machines; s3rver speaks the S3 protocol over a folder. Its data lives outside
# the clone when /var/lib is writable, so a server left running by an earlier clone
# (CI clones afresh each run) still has its folder. The legacy OpenSSL provider (s3rver
# encrypts list continuation tokens with DES) is given to this child only.
if ! answers 9000; then
  if [ ! -f node_modules/s3rver/bin/s3rver.js ]; then
    echo "s3rver is not installed: run scripts/install.sh first" >&2
    exit 1
  fi
  if mkdir -p "${S3RVER_DIR:-/var/lib/bulwark-s3}" 2>/dev/null && [ -w "${S3RVER_DIR:-/var/lib/bulwark-s3}" ]; then
    s3dir="${S3RVER_DIR:-/var/lib/bulwark-s3}"
    s3log=/var/log/bulwark-s3.log
    touch "$s3log" 2>/dev/null || s3log="$s3dir.log"
  else
    s3dir="$PWD/.tmp/s3"
    s3log="$PWD/.tmp/s3.log"
    mkdir -p "$s3dir"
  fi
  echo "starting s3rver on 127.0.0.1:9000 (data $s3dir, log $s3log)"
  NODE_OPTIONS=--openssl-legacy-provider setsid nohup node node_modules/s3rver/bin/s3rver.js \
    -d "$s3dir" -a 127.0.0.1 -p 9000 --no-vhost-buckets >>"$s3log" 2>&1 </dev/null &
  disown
fi
for i in $(seq 1 60); do
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q && answers 9000 && exit 0
  sleep 1
done
echo "redis, postgres or the object store (127.0.0.1:9000) did not come up within 60 s" >&2
exit 1
