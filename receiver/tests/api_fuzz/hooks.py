"""Schemathesis hooks for the honnin receiver (loaded by run.py through SCHEMATHESIS_HOOKS).

- Sender endpoints get the fuzz sender's API token (an auth provider), so generated requests
  reach the handlers instead of stopping at 401; Schemathesis' `ignored_auth` check still sends
  some without it.
- Device endpoints (those with an `x-honnin-signature` header) are signed with the enrolled fuzz
  device's P-256 key over the exact body bytes sent, as the device signs them
  (core/src/sync/protocol.rs), for most requests; the rest keep the generated (wrong) headers.
- A check of our own: no answer to the fuzz sender may carry the other sender's data (its item
  id or addressee, planted by run.py before the run).
- The string format `p256-spki` (the enrolment's public key): real P-256 keys, since no
  pattern can say that a point is on the curve; positive data acceptance then holds the
  receiver to accepting every key the document allows.
"""

import base64
import hashlib
import json
import os
import random
import re
import secrets
import time

import schemathesis
from hypothesis import strategies as st
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

TOKEN = os.environ["HONNIN_FUZZ_TOKEN"]
DEVICE = os.environ["HONNIN_FUZZ_DEVICE"]
with open(os.environ["HONNIN_FUZZ_DEVICE_KEY"], "rb") as key_file:
    DEVICE_KEY = serialization.load_pem_private_key(key_file.read(), password=None)
# Markers of the other sender's data; none may appear in an answer to the fuzz sender.
FORBIDDEN = [m for m in os.environ.get("HONNIN_FUZZ_FORBIDDEN", "").split("\n") if m]
# Items run.py planted: the fuzz sender's own, and the other sender's (which must stay hidden).
OWN_ITEM = os.environ.get("HONNIN_FUZZ_OWN_ITEM", "")
OTHER_ITEM = os.environ.get("HONNIN_FUZZ_OTHER_ITEM", "")
# The share of device requests signed correctly (the rest test the refusals).
SIGNED_SHARE = 0.8


DEVICE_PATHS = ("/v1/batches", "/v1/manifest", "/v1/trust-bundle")

# The order of the P-256 group: any scalar below it (and above 0) is a private key.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _p256_spki(secret):
    key = ec.derive_private_key(secret, ec.SECP256R1())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


schemathesis.openapi.format("p256-spki", st.integers(1, P256_ORDER - 1).map(_p256_spki))
UNSIGNED = "unsigned"


@schemathesis.auth()
class Credentials:
    """The sender token everywhere; on device endpoints a placeholder signature, which
    before_call replaces with a real one (the body is final only then). Schemathesis'
    ignored_auth check drops the security header, and then nothing is signed."""

    def get(self, case, context):
        return TOKEN

    def set(self, case, data, context):
        case.headers = case.headers or {}
        if case.operation.path in DEVICE_PATHS:
            case.headers["x-honnin-signature"] = UNSIGNED
        else:
            case.headers["Authorization"] = f"Bearer {data}"


def _signature(message):
    der = DEVICE_KEY.sign(message, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    if headers.get("x-honnin-signature") != UNSIGNED or random.random() > SIGNED_SHARE:
        return
    # A case meant to break the schema, or one without a required header (the missing-header
    # check), is sent as generated: signing it would put back what the case took out.
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    if any(name not in headers for name in ("x-honnin-device", "x-honnin-timestamp", "x-honnin-nonce")):
        return
    # Nor one whose generated nonce or timestamp breaks the document (the coverage phase marks
    # some such cases otherwise): its wrong value is what it tests.
    if not re.fullmatch(r"[0-9a-f]{32}", str(headers["x-honnin-nonce"])) or not re.fullmatch(
        r"-?[0-9]+", str(headers["x-honnin-timestamp"])
    ):
        return
    if case.method.upper() == "GET":
        # What a device signs for a GET: the request line (core/src/sync/protocol.rs).
        signed = f"GET {case.operation.path}".encode()
    elif isinstance(case.body, bytes):
        signed = case.body
    elif type(case.body).__name__ == "NotSet":
        # No body at all (the coverage phase leaves it out on purpose).
        signed = b""
    else:
        # The exact bytes requests sends for `json=` (json.dumps with its defaults). The body
        # itself is left as generated: Schemathesis re-validates a case a hook edited, and a
        # body turned into bytes would make a valid case count as a schema-violating one.
        signed = json.dumps(case.body, allow_nan=False).encode("utf-8")
    nonce = secrets.token_hex(16)
    timestamp = str(int(time.time()))
    message = "\n".join(
        ["honnin/batch/v1", DEVICE, timestamp, nonce, hashlib.sha256(signed).hexdigest()]
    ).encode()
    case.headers = case.headers or {}
    case.headers.update(
        {
            "x-honnin-device": DEVICE,
            "x-honnin-timestamp": timestamp,
            "x-honnin-nonce": nonce,
            "x-honnin-signature": _signature(message),
        }
    )


@schemathesis.check
def no_other_senders_data(ctx, response, case):
    text = response.content.decode("utf-8", errors="replace")
    for marker in FORBIDDEN:
        if marker in text:
            raise AssertionError(
                f"the answer carries another sender's data ({marker!r})"
            )


STATUS_LOG = os.environ.get("HONNIN_FUZZ_STATUS_LOG")


@schemathesis.hook
def after_call(context, case, response):
    # Which statuses each operation got, for run.py's summary: proof the requests reached the
    # handlers (signed device requests answered 200, not only refusals).
    if STATUS_LOG:
        with open(STATUS_LOG, "a") as log:
            log.write(f"{case.method.upper()} {case.operation.path} {response.status_code}\n")


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    # Item ids drawn at random never exist; the planted ones make GET and DELETE reach the
    # answers with a body (the fuzz sender's item) and try the other sender's item by id.
    if not path_parameters or "item_id" not in path_parameters:
        return st.just(path_parameters)
    return st.sampled_from(
        [path_parameters]
        + [{**path_parameters, "item_id": item} for item in (OWN_ITEM, OTHER_ITEM) if item]
    )
