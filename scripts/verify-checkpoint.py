#!/usr/bin/env python3
"""Check Bulwark audit checkpoints without Bulwark (docs/audit-checkpoints.md).

Usage:
  python3 scripts/verify-checkpoint.py --public-key KEY.pem FILE...

KEY.pem is what `bulwark audit checkpoints key` prints (more than one --public-key
may be given: keys of before a rotation). Each FILE is a checkpoint object as
downloaded from the store. When a FILE's path ends in the store's layout,
checkpoints/{tenant}/{YYYY-MM-DD}/{HH}.json, the tenant and hour it signs must be
those of its path (a checkpoint copied to another hour fails).

For each file prints `ok   FILE: tenant … hour … seq … hash …` or `BAD  FILE: why`;
exits 0 when every file is ok, 1 otherwise, 2 on bad usage. Needs Python 3 and the
`cryptography` package (Debian: python3-cryptography). Comparing a checkpoint with
the database is `bulwark audit verify --checkpoints`, or, independently,
scripts/verify-audit-chain.py's hashes at the checkpoint's seq.
"""
import argparse
import base64
import hashlib
import json
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

FIELDS = {
    "format": re.compile(r"^bulwark-audit-checkpoint$"),
    "tenant": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "hour": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}$"),
    "seq": re.compile(r"^(0|[1-9]\d{0,18})$"),
    "hash": re.compile(r"^[0-9a-f]{64}$"),
    "at": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"),
    "keyId": re.compile(r"^[0-9a-f]{16}$"),
    "signature": re.compile(r"^[A-Za-z0-9+/]{86}==$"),
}
PATH = re.compile(r"(?:^|/)checkpoints/([0-9a-f-]{36})/(\d{4}-\d{2}-\d{2})/(\d{2})\.json$")


def load_keys(paths):
    keys = {}
    for path in paths:
        with open(path, "rb") as f:
            key = load_pem_public_key(f.read())
        if not isinstance(key, Ed25519PublicKey):
            raise SystemExit(f"{path}: not an Ed25519 public key")
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        keys[hashlib.sha256(raw).hexdigest()[:16]] = key
    return keys


def message(doc):
    return (
        "bulwark-audit-checkpoint v1\n"
        f"tenant {doc['tenant']}\nhour {doc['hour']}\nseq {doc['seq']}\n"
        f"hash {doc['hash']}\nat {doc['at']}\n"
    ).encode("utf-8")


def check(path, keys):
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError) as e:
        return f"cannot read a checkpoint: {e}"
    if not isinstance(doc, dict) or set(doc) != set(FIELDS) | {"v"} or doc.get("v") != 1:
        return "not a version 1 checkpoint (fields differ)"
    for name, pattern in FIELDS.items():
        if not isinstance(doc[name], str) or not pattern.match(doc[name]):
            return f"field {name} is malformed"
    key = keys.get(doc["keyId"])
    if key is None:
        return f"signed with key {doc['keyId']}, which is none of the given public keys"
    try:
        key.verify(base64.b64decode(doc["signature"]), message(doc))
    except InvalidSignature:
        return f"the signature does not verify under key {doc['keyId']}: altered or forged"
    if doc["at"][:13] != doc["hour"]:
        return f"read at {doc['at']}, outside its hour {doc['hour']}"
    m = PATH.search(path.replace("\\", "/"))
    if m and (m.group(1) != doc["tenant"] or f"{m.group(2)}T{m.group(3)}" != doc["hour"]):
        return f"signed for tenant {doc['tenant']}, hour {doc['hour']}, but stored at another key: copied or moved"
    return None


def main():
    p = argparse.ArgumentParser(description="Check Bulwark audit checkpoints (Ed25519 signatures).")
    p.add_argument("--public-key", action="append", required=True, metavar="KEY.pem")
    p.add_argument("files", nargs="+", metavar="FILE")
    args = p.parse_args()
    keys = load_keys(args.public_key)
    bad = 0
    for path in args.files:
        problem = check(path, keys)
        if problem:
            bad += 1
            print(f"BAD  {path}: {problem}")
        else:
            with open(path, "rb") as f:
                doc = json.loads(f.read())
            print(f"ok   {path}: tenant {doc['tenant']} hour {doc['hour']} seq {doc['seq']} hash {doc['hash']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
