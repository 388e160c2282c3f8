#!/usr/bin/env python3
"""Fuzzes the honnin receiver's HTTP API with Schemathesis, from its OpenAPI document.

Starts the real `honnin-receiver` binary on loopback (plain HTTP, a fresh SQLite file),
registers two senders and enrols a device with a P-256 key made here, plants the other
sender's item, then runs `st run` against `receiver/openapi.json` with hooks.py (sender token,
device-signed requests, a no-leak check). Fails when Schemathesis finds anything: a 5xx, an
answer that does not match the document (status code, content type, schema, headers), data the
document allows refused or data it forbids accepted, an endpoint that ignores authentication,
or another sender's data in an answer. Afterwards the receiver must
still answer /v1/health and the planted item must still be there, unchanged.

    run.py --receiver target/debug/honnin-receiver --examples 20        # CI (scripts/test)
    run.py --receiver target/release/honnin-receiver --max-time 1800    # scripts/fuzz-api
"""

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SPEC = REPO / "receiver" / "openapi.json"
ANCHORS = REPO / "fixtures" / "pki" / "anchors"
# Every check Schemathesis has, positive and negative data acceptance included: the document
# states the receiver's real constraints (lengths, patterns, ranges; hooks.py generates real
# P-256 keys for the `p256-spki` format), so what it allows is accepted and what it forbids is
# refused. schemathesis.toml says which statuses count as refusals where ours (413 for an
# over-long list) is not among Schemathesis' defaults.
CHECKS = "all"
CONFIG = HERE / "schemathesis.toml"
# The other sender's planted data: the no-leak check refuses any answer that names it.
OTHER_ITEM = "OTHER-SECRET-0001"
OTHER_ADDRESSEE = "他人 秘子"
# The fuzz sender's own planted item.
OWN_ITEM = "FUZZ-0001"


def operator(receiver, db, *args):
    out = subprocess.run(
        [receiver, "--db", str(db), *args], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def request(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def start(receiver, db, log):
    process = subprocess.Popen(
        [
            receiver, "--db", str(db), "serve", "--listen", "127.0.0.1:0", "--insecure-http",
            "--trust-anchors", str(ANCHORS),
            # Schemathesis sends thousands of unauthenticated requests from one address; the
            # failure limit (429) would otherwise answer most of them.
            "--max-auth-failures", "1000000",
        ],
        # To a file, not a pipe: a pipe nobody reads would stall the receiver once full.
        stderr=log, stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        match = re.search(r"listening on (http://\S+)", Path(log.name).read_text())
        if match:
            return process, match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    sys.exit(f"the receiver did not start (see {log.name})")


def summarise(log):
    """Prints, per operation, how many answers of each status it got."""
    counts = {}
    if log.exists():
        for line in log.read_text().splitlines():
            method, path, status = line.split(" ")
            counts.setdefault(f"{method} {path}", {}).setdefault(status, 0)
            counts[f"{method} {path}"][status] += 1
    print("answers per operation (status: count):")
    for operation in sorted(counts):
        shown = ", ".join(f"{s}: {n}" for s, n in sorted(counts[operation].items()))
        print(f"  {operation:32} {shown}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receiver", required=True, help="the honnin-receiver binary")
    parser.add_argument("--examples", type=int, default=20, help="examples per operation")
    parser.add_argument("--max-time", type=int, help="seconds for the whole run (long runs)")
    parser.add_argument("--seed", type=int, help="Schemathesis seed, to reproduce a run")
    parser.add_argument("--workers", default="1")
    parser.add_argument("--spec", default=str(SPEC), help="the OpenAPI document (default: the receiver's)")
    args = parser.parse_args()
    receiver = str(Path(args.receiver).resolve())

    with tempfile.TemporaryDirectory(prefix="honnin-api-fuzz-") as tmp:
        tmp = Path(tmp)
        db = tmp / "receiver.db"
        token = operator(receiver, db, "add-sender", "--sender", "fuzz-bank")
        other_token = operator(receiver, db, "add-sender", "--sender", "other-bank")
        code = operator(receiver, db, "enrol-code", "--device", "fuzz-device", "--sender", "fuzz-bank")
        # A trust bundle, so GET /v1/trust-bundle has one to serve.
        operator(
            receiver, db, "trust-load", "--anchors", str(ANCHORS),
            "--crl", str(REPO / "fixtures" / "pki" / "jpki-auth-ca.crl.der"),
        )
        key = ec.generate_private_key(ec.SECP256R1())
        key_path = tmp / "device-key.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        log = open(tmp / "receiver.log", "w+")
        process, base = start(receiver, db, log)
        try:
            status, answer = request(
                "POST", f"{base}/v1/enrol",
                {"device_id": "fuzz-device", "public_key": base64.b64encode(spki).decode(), "code": code},
            )
            assert status == 201, (status, answer)
            other = {"Authorization": f"Bearer {other_token}"}
            planted = {
                "item_id": OTHER_ITEM, "device_id": "other-device",
                "addressee_name": OTHER_ADDRESSEE, "min_level": "B", "attributes": ["name"],
            }
            status, answer = request("PUT", f"{base}/v1/items", {"items": [planted]}, other)
            assert status == 200, (status, answer)
            own = {
                "item_id": OWN_ITEM, "device_id": "fuzz-device",
                "addressee_name": "試験 花子", "min_level": "A",
            }
            mine = {"Authorization": f"Bearer {token}"}
            status, answer = request("PUT", f"{base}/v1/items", {"items": [own]}, mine)
            assert status == 200, (status, answer)

            env = dict(os.environ)
            env.update(
                SCHEMATHESIS_HOOKS="hooks",
                PYTHONPATH=f"{HERE}{os.pathsep}{env.get('PYTHONPATH', '')}",
                HONNIN_FUZZ_TOKEN=token,
                HONNIN_FUZZ_DEVICE="fuzz-device",
                HONNIN_FUZZ_DEVICE_KEY=str(key_path),
                HONNIN_FUZZ_STATUS_LOG=str(tmp / "statuses.log"),
                HONNIN_FUZZ_OWN_ITEM=OWN_ITEM,
                HONNIN_FUZZ_OTHER_ITEM=OTHER_ITEM,
                # On another device: neither the fuzz sender nor the fuzz device may see it.
                HONNIN_FUZZ_FORBIDDEN="\n".join([OTHER_ITEM, OTHER_ADDRESSEE]),
            )
            command = [
                "st", "--config-file", str(CONFIG), "run", args.spec, "--url", base, "--checks", CHECKS,
                "--max-examples", str(args.examples), "--workers", args.workers,
                "--generation-database", "none", "--no-color",
                "--request-timeout", "30", "--warnings", "off",
            ]
            if args.max_time:
                command += ["--max-time", str(args.max_time)]
            if args.seed is not None:
                command += ["--seed", str(args.seed)]
            print("+", " ".join(command), flush=True)
            fuzzed = subprocess.run(command, env=env, cwd=tmp)

            summarise(tmp / "statuses.log")
            # Still serving, and the other sender's item untouched.
            status, _ = request("GET", f"{base}/v1/health")
            assert status == 200, f"the receiver stopped answering after the run ({status})"
            status, answer = request("GET", f"{base}/v1/items/{OTHER_ITEM}", headers=other)
            assert status == 200 and answer["addressee_name"] == OTHER_ADDRESSEE, (status, answer)
            if process.poll() is not None:
                sys.exit("the receiver exited during the run")
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.seek(0)
            panics = [line for line in log if "panicked" in line]
            if panics:
                sys.exit("the receiver panicked:\n" + "".join(panics))
        if fuzzed.returncode != 0:
            sys.exit(f"Schemathesis found problems (exit {fuzzed.returncode})")
        print("api fuzz: no findings; the receiver still serves and the other sender's item is intact")


if __name__ == "__main__":
    main()
