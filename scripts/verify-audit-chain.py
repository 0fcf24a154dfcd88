#!/usr/bin/env python3
"""Verify Bulwark's audit chains independently of Bulwark's own code.

Written from docs/jobs/audit-write.md ("Canonical serialisation (normative)" and
"Verification") alone, with the Python 3.11 standard library. It reads the log with
`psql` (no driver needed) and recomputes every hash.

    DATABASE_URL=postgresql://... python3 scripts/verify-audit-chain.py [--tenant ID]
        [--erasure-public-keys KEY,...]   (default: $ERASURE_PUBLIC_KEYS)

Both canonical forms are checked ("Format 2"), and erased entries through their signed
erasure records ("Erased entries"): Ed25519 signatures need python3-cryptography and the
public keys of the erasure signing keys (`bulwark subject erasure-key` prints the current
one); without them an erased entry is reported broken.

Output and exit codes follow `bulwark audit verify`: one line per tenant, then a summary;
exit 0 when every chain is intact, 1 when at least one is broken, the tenant named does
not exist or the database could not be read, 2 on bad usage or configuration. All tenants
are read from one REPEATABLE READ snapshot; rows whose seq lies beyond the chain head
are reported, as `bulwark audit verify` reports them. Tenant ids that have entries or a
chain head but no row in `tenants` are verified too, and fail the tenant check.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

GENESIS_HASH = "0" * 64
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
HASH_RE = re.compile(r"^[0-9a-f]{64}$")

# ---------------------------------------------------------------------------
# Canonical JSON: RFC 8785 (docs/jobs/audit-write.md, "Canonical serialisation", §2)
# ---------------------------------------------------------------------------

_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def canon_string(s: str) -> str:
    """A string as ECMAScript JSON.stringify writes it (§2.4)."""
    out = ['"']
    for ch in s:
        esc = _SHORT_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            # Unpaired surrogates cannot be stored (the schema refuses them); a string
            # holding one cannot have come from Bulwark.
            raise ValueError("string holds an unpaired surrogate")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canon_number(x: float) -> str:
    """An IEEE 754 double in the ECMAScript Number::toString form (§2.5, RFC 8785 §3.2.2.3)."""
    if isinstance(x, bool):  # pragma: no cover - guarded by the caller
        raise TypeError("bool is not a number")
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("NaN and Infinity have no JSON form")
    if x == 0:
        return "0"  # covers -0
    if x < 0:
        return "-" + canon_number(-x)
    # repr() gives the shortest digit string that round-trips (Python >= 3.1).
    r = repr(x)
    mantissa, _, exp_part = r.partition("e")
    exp10 = int(exp_part) if exp_part else 0
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    # value = 0.<int_part><frac_part> * 10^(len(int_part) + exp10), minus leading zeros
    leading_zeros = len(int_part + frac_part) - len((int_part + frac_part).lstrip("0"))
    n = len(int_part) + exp10 - leading_zeros
    digits = digits.rstrip("0")
    k = len(digits)
    # ECMAScript Number::toString(x): x = digits * 10^(n-k), with k as small as possible.
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    if k == 1:
        return digits + "e" + sign + str(abs(e))
    return digits[0] + "." + digits[1:] + "e" + sign + str(abs(e))


def _utf16_key(s: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly as the sequences of UTF-16 code units do.
    return s.encode("utf-16-be", "surrogatepass")


def canon(value: Any) -> str:
    """Serialise a parsed JSON value (numbers already doubles) per RFC 8785."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return canon_string(value)
    if isinstance(value, (int, float)):
        return canon_number(float(value))
    if isinstance(value, list):
        return "[" + ",".join(canon(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value.keys(), key=_utf16_key)
        return "{" + ",".join(canon_string(k) + ":" + canon(value[k]) for k in keys) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def parse_json(text: str) -> Any:
    """Parse JSON, every number as a double (§2.5: "Read each stored JSON number as a double")."""
    return json.loads(text, parse_int=float, parse_float=float)


# ---------------------------------------------------------------------------
# The entry (§1) and the hash (§3)
# ---------------------------------------------------------------------------

MEMBERS = (
    "v", "tenant_id", "seq", "event_id", "occurred_at", "recorded_at", "actor_type",
    "actor_id", "action", "resource_type", "resource_id", "before_state", "after_state",
    "metadata", "reason", "confidence", "request_id", "ip", "user_agent", "severity",
)
# Format 2 adds pd_digest (§ Format 2); v is 2.
MEMBERS_2 = MEMBERS + ("pd_digest",)
# The personal object's members (§ Format 2), all nine always present.
PD_MEMBERS = ("actor_id", "after_state", "before_state", "ip", "metadata", "reason",
              "request_id", "resource_id", "user_agent")


def entry_hash(entry: dict[str, Any], prev_hash: str) -> str:
    members = MEMBERS_2 if entry.get("v") == 2 else MEMBERS
    missing = [m for m in members if m not in entry]
    extra = [m for m in entry if m not in members]
    if missing or extra:
        raise ValueError(f"entry members wrong: missing {missing}, extra {extra}")
    text = canon(entry)
    return hashlib.sha256(text.encode("utf-8") + prev_hash.encode("ascii")).hexdigest()


def personal_digest(personal: dict[str, Any]) -> str:
    """pd_digest = hex(SHA-256(UTF-8(canonical personal object) || ASCII(salt)))."""
    obj = {m: personal.get(m) for m in PD_MEMBERS}
    return hashlib.sha256(canon(obj).encode("utf-8") + personal["salt"].encode("ascii")).hexdigest()


def erasure_message(tenant: str, e: dict[str, Any]) -> bytes:
    """The six lines an erasure record's signature covers (§ Erased entries)."""
    return ("bulwark-audit-erasure v1\n"
            f"tenant {tenant}\n"
            f"seq {e['seq']}\n"
            f"hash {e['hash']}\n"
            f"redacted {e['redacted_hash'] or '-'}\n"
            f"erased {e['erased_at']}\n").encode("utf-8")


class ErasureKeys:
    """Ed25519 public keys by key id (first 16 hex digits of SHA-256 of the raw key)."""

    def __init__(self, texts: list[str]):
        self.keys: dict[str, Any] = {}
        self.error: str | None = None
        if not texts:
            return
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError:
            self.error = "python3-cryptography is not installed"
            return
        import base64
        for t in texts:
            t = t.strip()
            raw = base64.b64decode(t.replace("-", "+").replace("_", "/") + "=" * (-len(t) % 4))
            if len(raw) != 32:
                raise ValueError("an erasure public key must be 32 bytes in base64")
            self.keys[hashlib.sha256(raw).hexdigest()[:16]] = Ed25519PublicKey.from_public_bytes(raw)

    def problem(self, tenant: str, e: dict[str, Any]) -> str | None:
        if self.error:
            return f"erasure record cannot be checked: {self.error}"
        key = self.keys.get(e["key_id"])
        if key is None:
            return (f"erasure record signed by key {e['key_id']}, which is not among the erasure "
                    "public keys given (--erasure-public-keys / ERASURE_PUBLIC_KEYS)")
        import base64
        from cryptography.exceptions import InvalidSignature
        try:
            key.verify(base64.b64decode(e["signature"]), erasure_message(tenant, e))
        except (InvalidSignature, ValueError):
            return "erasure record signature does not verify"
        return None


def content_problem(row: dict[str, Any], keys: ErasureKeys) -> tuple[str | None, bool]:
    """Why an entry's content does not verify (or None), and whether it was erased."""
    entry, prev_hash, stored = row["entry"], row["prev_hash"], row["hash"]
    erasure, personal = row.get("erasure"), row.get("personal")
    tenant = entry["tenant_id"]

    def record_problem() -> str | None:
        if erasure["hash"] != stored:
            return "the erasure record's hash is not the entry's"
        return keys.problem(tenant, erasure)

    if row.get("format", 1) == 1:
        entry["v"] = 1
        if erasure is None:
            return (None if entry_hash(entry, prev_hash) == stored
                    else "stored hash does not match the entry's content"), False
        if erasure["redacted_hash"] is None:
            return "the erasure record of a format-1 entry has no redacted hash", False
        if entry_hash(entry, prev_hash) != erasure["redacted_hash"]:
            return "the erased entry's remaining content does not match its erasure record", False
        return record_problem(), True
    entry["v"] = 2
    entry["pd_digest"] = row["pd_digest"]
    if entry_hash(entry, prev_hash) != stored:
        return "stored hash does not match the entry's content", False
    digest = row["pd_digest"]
    if personal is not None:
        if digest is None:
            return "personal data stored for an entry without pd_digest", False
        if personal_digest(personal) != digest:
            return "personal data does not match pd_digest", False
        return None, False
    if digest is None:
        return None, False
    if erasure is None:
        return "personal data missing, and no erasure record says it was erased", False
    if erasure["redacted_hash"] is not None:
        return "the erasure record of a format-2 entry has a redacted hash", False
    return record_problem(), True


# ---------------------------------------------------------------------------
# Reading from Postgres (§4), one REPEATABLE READ snapshot for the whole walk
# ---------------------------------------------------------------------------

TS = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"

ENTRY_COLUMNS = f"""
       'prev_hash', a.prev_hash, 'hash', a.hash,
       'entry', json_build_object(
           'tenant_id', a.tenant_id::text, 'seq', a.seq::text, 'event_id', a.event_id,
           'occurred_at', to_char(a.occurred_at AT TIME ZONE 'UTC', {TS}),
           'recorded_at', to_char(a.recorded_at AT TIME ZONE 'UTC', {TS}),
           'actor_type', a.actor_type, 'actor_id', a.actor_id, 'action', a.action,
           'resource_type', a.resource_type, 'resource_id', a.resource_id,
           'before_state', a.before_state, 'after_state', a.after_state, 'metadata', a.metadata,
           'reason', a.reason, 'confidence', a.confidence::text, 'request_id', a.request_id,
           'ip', a.ip, 'user_agent', a.user_agent, 'severity', a.severity)"""

# A database from before format 2 (no audit_personal_data yet) has format 1 only.
ENTRY_SQL_1 = f"""
SELECT json_build_object('kind', 'entry', 'format', 1, {ENTRY_COLUMNS})
  FROM audit_log a {{where}}
 ORDER BY a.tenant_id, a.seq
"""

ENTRY_SQL = f"""
SELECT json_build_object('kind', 'entry', 'format', a.format, 'pd_digest', a.pd_digest, {ENTRY_COLUMNS},
       'personal', CASE WHEN p.salt IS NULL THEN NULL ELSE json_build_object(
           'salt', p.salt, 'actor_id', p.actor_id, 'after_state', p.after_state,
           'before_state', p.before_state, 'ip', p.ip, 'metadata', p.metadata, 'reason', p.reason,
           'request_id', p.request_id, 'resource_id', p.resource_id, 'user_agent', p.user_agent) END,
       'erasure', CASE WHEN e.seq IS NULL THEN NULL ELSE json_build_object(
           'seq', e.seq::text, 'hash', e.hash, 'redacted_hash', e.redacted_hash,
           'erased_at', to_char(e.erased_at AT TIME ZONE 'UTC', {TS}),
           'key_id', e.key_id, 'signature', e.signature) END)
  FROM audit_log a
  LEFT JOIN audit_personal_data p ON p.tenant_id = a.tenant_id AND p.seq = a.seq
  LEFT JOIN audit_erasures e ON e.tenant_id = a.tenant_id AND e.seq = a.seq
  {{where}}
 ORDER BY a.tenant_id, a.seq
"""

# Gap records (retention's purges, docs/jobs/audit-write.md "Purged entries"): seqs
# first_seq..last_seq are gone; the walk steps over them when prev_hash is the running
# hash, and carries on from last_hash.
GAPS_SQL = """
SELECT json_build_object('kind', 'gap', 'tenant_id', tenant_id::text,
                         'first_seq', first_seq::text, 'last_seq', last_seq::text,
                         'prev_hash', prev_hash, 'last_hash', last_hash)
  FROM audit_chain_gaps {where}
 ORDER BY tenant_id, first_seq
"""

# Every tenant row and every chain head, joined both ways: a head whose tenant row is
# gone still names a chain. Ids with entries but neither come from the entries.
TENANTS_SQL = """
SELECT json_build_object('kind', 'tenant', 'tenant_id', coalesce(t.id, h.tenant_id)::text,
                         'has_row', t.id IS NOT NULL,
                         'has_head', h.tenant_id IS NOT NULL,
                         'last_seq', h.last_seq::text, 'last_hash', h.last_hash)
  FROM tenants t FULL JOIN audit_chain_heads h ON h.tenant_id = t.id
 {where}
 ORDER BY coalesce(t.id, h.tenant_id)
"""


def libpq_url(url: str) -> str:
    """Drop query parameters that Prisma understands but libpq refuses (e.g. ?schema=)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    keep = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in ("schema", "connection_limit", "pool_timeout", "pgbouncer",
                         "socket_timeout", "statement_cache_size")]
    return urlunsplit(parts._replace(query=urlencode(keep)))


_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_COPY_ESCAPE_RE = re.compile(r"\\(?:([bfnrtv\\])|([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))")


def copy_unescape(line: str) -> str:
    """Undo COPY's text-format escaping (only backslashes occur in JSON text)."""
    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return _COPY_ESCAPES[m.group(1)]
        if m.group(2):
            return chr(int(m.group(2), 8))
        if m.group(3):
            return chr(int(m.group(3), 16))
        return m.group(4)
    return _COPY_ESCAPE_RE.sub(one, line)


def run_psql(url: str, tenant: str | None) -> Iterator[dict[str, Any]]:
    """Stream the tenants, then every entry, as JSON objects, from one snapshot.

    The rows come through `COPY (...) TO STDOUT`, not through psql's result printing:
    psql's printer silently drops the noncharacters U+1FFFE, U+1FFFF, ... U+10FFFE,
    U+10FFFF (it keeps the BMP's U+FFFE and U+FFFF), which Bulwark stores and hashes.
    COPY hands over the bytes as the server sends them.
    """
    if tenant is not None:
        where_t = f"WHERE coalesce(t.id, h.tenant_id) = '{tenant}'::uuid"
        where_e = f"WHERE tenant_id = '{tenant}'::uuid"
        where_a = f"WHERE a.tenant_id = '{tenant}'::uuid"
    else:
        where_t = where_e = where_a = ""
    script = "\n".join([
        "\\set ON_ERROR_STOP 1",
        "SET client_encoding = 'UTF8';",
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
        f"COPY ({TENANTS_SQL.format(where=where_t)}) TO STDOUT;",
        # A database from before retention (no audit_chain_gaps yet) has no gaps.
        "SELECT to_regclass('audit_chain_gaps') IS NOT NULL AS has_gaps \\gset",
        "\\if :has_gaps",
        f"COPY ({GAPS_SQL.format(where=where_e)}) TO STDOUT;",
        "\\endif",
        "SELECT to_regclass('audit_personal_data') IS NOT NULL AS has_pd \\gset",
        "\\if :has_pd",
        f"COPY ({ENTRY_SQL.format(where=where_a)}) TO STDOUT;",
        "\\else",
        f"COPY ({ENTRY_SQL_1.format(where=where_a)}) TO STDOUT;",
        "\\endif",
        "COMMIT;",
    ])
    env = dict(os.environ, PGCLIENTENCODING="UTF8")
    proc = subprocess.Popen(
        ["psql", "-X", "-q", "-A", "-t", "-d", libpq_url(url), "-f", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(script.encode("utf-8"))
    proc.stdin.close()
    for raw in proc.stdout:
        line = raw.decode("utf-8").rstrip("\n")
        if line:
            yield parse_json(copy_unescape(line))
    err = proc.stderr.read().decode("utf-8", "replace")
    if proc.wait() != 0:
        raise RuntimeError(f"psql failed: {err.strip()}")


# ---------------------------------------------------------------------------
# The walk ("Verification": numbering, link, content, then head)
# ---------------------------------------------------------------------------

class TenantResult:
    """One tenant's walk, with the rules and messages of `bulwark audit verify`.

    The head is the end of the chain: entries 1..last_seq are walked, and rows with a
    larger seq are not part of it (Bulwark reads the head first so that entries
    committed during its walk are left for the next run). Rows beyond the head are
    reported: this script reads one snapshot, in which the writer always moves the
    head in the transaction that inserts, so such rows were put there by hand.

    A tenant id with no row in `tenants` (its entries and head outlived it: the foreign
    keys were bypassed) fails the tenant check first, at seq 1, and is not walked; the
    detail counts all its rows in audit_log, those beyond the head too.
    """

    def __init__(self, tenant_id: str, head: dict[str, Any], keys: ErasureKeys | None = None):
        self.tenant_id = tenant_id
        self.keys = keys or ErasureKeys([])
        self.erased = 0
        self.has_row = bool(head["has_row"])
        self.rows = 0  # every row of this tenant in audit_log
        self.has_head = bool(head["has_head"])
        self.head_seq = int(head["last_seq"]) if self.has_head else 0
        self.head_hash = head["last_hash"]
        self.entries = 0
        self.beyond_head = 0
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.stopped = False  # the walk found its first bad entry, or ran out of entries
        self.broken: tuple[int, str, str] | None = None  # (seq, check, detail)
        self.gaps: dict[int, dict[str, Any]] = {}  # by first_seq
        self.purged = 0
        if not self.has_head:
            self.broken = (1, "head", "the tenant has no chain head")

    def step_gaps(self, before: int) -> None:
        """Step over the gap records starting at the expected seq, up to `before`."""
        gap = self.gaps.get(self.expected_seq)
        while gap is not None and self.expected_seq < before:
            if gap["prev_hash"] != self.prev_hash:
                self.broken = (self.expected_seq, "link",
                               f"the gap record for seqs {gap['first_seq']}..{gap['last_seq']} does not follow the previous entry's hash")
                return
            self.prev_hash = gap["last_hash"]
            self.purged += int(gap["last_seq"]) - int(gap["first_seq"]) + 1
            self.expected_seq = int(gap["last_seq"]) + 1
            gap = self.gaps.get(self.expected_seq)

    def check(self, row: dict[str, Any]) -> None:
        self.rows += 1
        if not self.has_row:
            return
        entry, prev_hash, stored = row["entry"], row["prev_hash"], row["hash"]
        seq = int(entry["seq"])
        if seq > self.head_seq:
            self.beyond_head += 1
            return
        if self.broken or self.stopped:
            return
        if seq != self.expected_seq:
            self.step_gaps(seq)
            if self.broken:
                return
        if seq != self.expected_seq:
            self.broken = (self.expected_seq, "numbering",
                           f"expected seq {self.expected_seq}, found {seq}")
            return
        if prev_hash != self.prev_hash:
            self.broken = (seq, "link", "prev_hash does not match the previous entry's hash")
            return
        try:
            problem, erased = content_problem(row, self.keys)
        except (ValueError, TypeError) as e:
            self.broken = (seq, "content", f"entry cannot be canonicalised: {e}")
            return
        if problem:
            self.broken = (seq, "content", problem)
            return
        if erased:
            self.erased += 1
        self.entries += 1
        self.expected_seq = seq + 1
        self.prev_hash = stored

    def finish(self) -> None:
        if not self.has_row:
            self.entries = 0
            self.broken = (1, "tenant", "the tenant's row is missing from tenants "
                           f"({self.rows} entr{'y' if self.rows == 1 else 'ies'})")
            return
        if self.broken:
            return
        self.step_gaps(self.head_seq + 1)  # a purged tail ends in gaps
        if self.broken:
            return
        last = self.expected_seq - 1
        if last != self.head_seq:
            self.broken = (last + 1, "head",
                           f"the chain head says the log ends at seq {self.head_seq} but entries stop at seq {last}")
        elif self.head_hash != self.prev_hash:
            self.broken = (last, "head", f"the chain head's hash does not match entry seq {last}")
        elif self.beyond_head:
            self.broken = (self.head_seq + 1, "head",
                           f"{self.beyond_head} entr{'y' if self.beyond_head == 1 else 'ies'} beyond the chain head's seq {self.head_seq}")


def verify(url: str, tenant: str | None, out=sys.stdout, keys: ErasureKeys | None = None) -> int:
    results: dict[str, TenantResult] = {}
    for row in run_psql(url, tenant):
        if row["kind"] == "tenant":
            results[row["tenant_id"]] = TenantResult(row["tenant_id"], row, keys)
        elif row["kind"] == "gap":
            if row["tenant_id"] in results:
                results[row["tenant_id"]].gaps[int(row["first_seq"])] = row
        else:
            tid = row["entry"]["tenant_id"]
            if tid not in results:  # entries with neither a tenant row nor a head
                results[tid] = TenantResult(tid, {"has_row": False, "has_head": False, "last_seq": None, "last_hash": None}, keys)
            results[tid].check(row)
    # uuid order is the order of the lower-case text.
    order = sorted(results)
    if tenant is not None and not order:
        print(f"verify-audit-chain: no tenant with id {tenant} (--tenant)", file=sys.stderr)
        return 1
    broken = 0
    for tid in order:
        r = results[tid]
        r.finish()
        if r.broken:
            broken += 1
            seq, check, detail = r.broken
            print(f"BROKEN  tenant {tid}: seq {seq}: {check}: {detail}", file=out)
        else:
            notes = ([f"{r.purged} purged by retention"] if r.purged else []) + \
                ([f"{r.erased} erased"] if r.erased else [])
            extra = f" ({', '.join(notes)})" if notes else ""
            print(f"ok      tenant {tid}: {r.entries} entries{extra}, chain intact", file=out)
    if broken:
        print(f"{broken} of {len(order)} chain(s) broken", file=out)
        return 1
    print(f"all {len(order)} chain(s) intact", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tenant", help="verify one tenant only (a UUID)")
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                    help="Postgres URL (default: $DATABASE_URL)")
    ap.add_argument("--erasure-public-keys", default=os.environ.get("ERASURE_PUBLIC_KEYS", ""),
                    help="comma-separated Ed25519 public keys (base64) of erasure records (default: $ERASURE_PUBLIC_KEYS)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if not args.database_url:
        print("verify-audit-chain: DATABASE_URL is not set (or pass --database-url)", file=sys.stderr)
        return 2
    if args.tenant is not None and not UUID_RE.match(args.tenant):
        print(f"verify-audit-chain: --tenant must be a tenant id (a UUID), got {args.tenant!r}", file=sys.stderr)
        return 2
    if shutil.which("psql") is None:
        print("verify-audit-chain: psql is not installed", file=sys.stderr)
        return 2
    tenant = args.tenant.lower() if args.tenant else None
    try:
        keys = ErasureKeys([k for k in args.erasure_public_keys.split(",") if k.strip()])
    except ValueError as e:
        print(f"verify-audit-chain: --erasure-public-keys: {e}", file=sys.stderr)
        return 2
    try:
        return verify(args.database_url, tenant, keys=keys)
    except RuntimeError as e:
        print(f"verify-audit-chain: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
