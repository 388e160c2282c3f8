#!/usr/bin/env python3
"""The operator console end to end in headless Chromium (Playwright, Debian's chromium).

A real `honnin-receiver` serves a real SQLite database on loopback with two enrolled devices
(keys made here, enrolled over the API as a device would); the test logs in with the operator
token, lists the devices and their enrolments in the audit log, revokes one through the page,
sees the audit entry, re-enrols a replacement, and checks that a wrong token and a sender's
token are refused, that a reason with markup is shown as text, and that /metrics counts the
revoked device. A trust bundle with
three revocation lists (made here: one current, one due within the warning margin, one past
its nextUpdate) is loaded: the page lists each with its next update and warns of the two, and
/metrics has each list's nextUpdate and warning gauges.

    python3 receiver/tests/console/test_console.py target/debug/honnin-receiver [screenshot dir]
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from playwright.sync_api import expect, sync_playwright

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ANCHORS = os.path.join(REPO, "fixtures", "pki", "anchors")


def run(binary, db, *args):
    done = subprocess.run(
        [binary, "--db", db, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"honnin-receiver {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def http(method, url, body=None, token=None):
    request = urllib.request.Request(url, method=method)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def signed_batch(base, device, key, records, app_version):
    """POSTs a batch signed as the device client signs it (core/src/sync/protocol.rs)."""
    body = json.dumps({"records": records}).encode()
    timestamp = str(int(time.time()))
    nonce = os.urandom(16).hex()
    message = "\n".join(
        ["honnin/batch/v1", device, timestamp, nonce, hashlib.sha256(body).hexdigest()]
    ).encode()
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    signature = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    request = urllib.request.Request(f"{base}/v1/batches", data=body, method="POST")
    for name, value in (
        ("content-type", "application/json"),
        ("x-honnin-device", device),
        ("x-honnin-timestamp", timestamp),
        ("x-honnin-nonce", nonce),
        ("x-honnin-signature", signature),
        ("x-honnin-app-version", app_version),
    ):
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def enrol(base, device, code):
    """Enrols a fresh P-256 key for `device`, as `honnin enrol` does."""
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    status, answer = http(
        "POST",
        f"{base}/v1/enrol",
        {"device_id": device, "public_key": base64.b64encode(spki).decode(), "code": code},
    )
    assert status == 201, f"enrolment of {device}: {status} {answer}"
    return key


DAY = 86400


def crl_files(work):
    """Three CRLs (DER) whose nextUpdate is 30 days ahead, 1 day ahead (within the default 72 h
    margin) and 1 day past; their nextUpdate times by file name."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    made = {}
    for name, offset in (("fresh.crl", 30 * DAY), ("due.crl", DAY), ("stale.crl", -DAY)):
        next_update = now + offset
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
            .last_update(datetime.datetime.fromtimestamp(now - 40 * DAY, datetime.timezone.utc))
            .next_update(datetime.datetime.fromtimestamp(next_update, datetime.timezone.utc))
        )
        path = os.path.join(work, name)
        with open(path, "wb") as out:
            out.write(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
        made[name] = (path, next_update)
    return made


def start(binary, db, log):
    """Serves on free loopback ports; returns the process and the API and console URLs."""
    process = subprocess.Popen(
        [binary, "--db", db, "serve", "--insecure-http", "--listen", "127.0.0.1:0",
         "--operator-listen", "127.0.0.1:0", "--trust-anchors", ANCHORS],
        stderr=log,
    )
    api = console = None
    # Up to 60 s (a loaded CI machine), done as soon as both addresses are logged.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(log.name, encoding="utf-8") as text:
            content = text.read()
        api = api or next(iter(re.findall(r"listening on (http://\S+)", content)), None)
        console = console or next(iter(re.findall(r"operator console on (http://\S+)", content)), None)
        if api and console:
            return process, api, console
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    sys.exit(f"the receiver did not start:\n{open(log.name, encoding='utf-8').read()}")


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="honnin-console-")
    shots = sys.argv[2] if len(sys.argv) > 2 else os.path.join(work, "screenshots")
    os.makedirs(shots, exist_ok=True)
    db = os.path.join(work, "receiver.db")
    sender_token = run(binary, db, "add-sender", "--sender", "test-bank")
    codes = {
        device: run(binary, db, "enrol-code", "--device", device, "--sender", "test-bank")
        for device in ("handheld-01", "handheld-02")
    }
    operator_token = run(binary, db, "operator-token")
    assert operator_token.startswith("hno_"), operator_token
    crls = crl_files(work)
    loaded = run(binary, db, "trust-load", "--anchors", ANCHORS,
                 *[arg for path, _ in crls.values() for arg in ("--crl", path)])
    assert loaded.startswith("trust bundle 1: "), loaded

    log = open(os.path.join(work, "receiver.log"), "w+", encoding="utf-8")
    process, api, console = start(binary, db, log)
    try:
        keys = {device: enrol(api, device, code) for device, code in codes.items()}
        # handheld-01 syncs (an empty batch: its request is authenticated and counted).
        status, answer = signed_batch(api, "handheld-01", keys["handheld-01"], [], "honnin-test/9.8.7")
        assert status == 200 and answer == {"results": []}, (status, answer)
        # The console is not on the API port, and the API port does not serve the console.
        assert http("GET", f"{api}/api/devices", token=operator_token)[0] == 404
        # Tokens are not interchangeable.
        assert http("GET", f"{console}/api/devices", token=sender_token)[0] == 401
        assert http("GET", f"{api}/v1/feed", token=operator_token)[0] == 401
        assert http("GET", f"{console}/metrics")[0] == 401
        browse(console, operator_token, shots, lambda: signed_batch(
            api, "handheld-01", keys["handheld-01"], [], "honnin-test/9.8.7"))
        status, metrics = http("GET", f"{console}/metrics", token=operator_token)
        assert status == 200, metrics
        assert 'honnin_devices{state="revoked"} 1' in metrics.splitlines(), metrics
        assert 'honnin_devices{state="active"} 1' in metrics.splitlines(), metrics
        assert "honnin_feed_records{sender=\"test-bank\"} 0" in metrics.splitlines(), metrics
        assert "honnin_batches_accepted_total 1" in metrics.splitlines(), metrics
        assert 'honnin_enrolments_total{outcome="enrolled"} 2' in metrics.splitlines(), metrics
        refused = 'honnin_device_requests_refused_total{code="device_revoked"} 1'
        assert refused in metrics.splitlines(), metrics
        # Each list's nextUpdate, and a warning for the due and the stale one.
        assert "honnin_trust_bundle_serial 1" in metrics.splitlines(), metrics
        for name, (_, next_update) in crls.items():
            line = f'honnin_trust_crl_next_update_seconds{{list="{name}"}} {next_update}'
            assert line in metrics.splitlines(), metrics
            warned = 0 if name == "fresh.crl" else 1
            assert f'honnin_trust_crl_warning{{list="{name}"}} {warned}' in metrics.splitlines(), metrics
        # Devices learn the new key from the rotation the old key signed.
        status, announced = http("GET", f"{api}/v1/receipt-key")
        announced = json.loads(announced)
        assert status == 200 and len(announced["rotations"]) == 1, announced
        assert len(announced["previous_keys"]) == 1, announced
        verified = subprocess.run(
            [binary, "--db", db, "audit", "verify"], capture_output=True, text=True, check=False
        )
        assert verified.returncode == 0 and "unbroken" in verified.stdout, verified
        # Every operator action is in the log the console shows, the trust load with its serial.
        status, log = http("GET", f"{console}/api/audit", token=operator_token)
        log = json.loads(log)
        assert status == 200 and log["chain"]["intact"], log["chain"]
        actions = [entry["action"] for entry in log["entries"]]
        for action in ("add_sender", "enrol_code", "enrol_device", "operator_token", "trust_load",
                       "revoke_device", "reenrol_device", "rotate_receipt_key"):
            assert action in actions, (action, actions)
        # Each device's enrolment once, with the SHA-256 of the key it enrolled and the address
        # it came from; never its code.
        enrolled = {e["subject"]: (e["actor"], json.loads(e["detail"]))
                    for e in log["entries"] if e["action"] == "enrol_device"}
        assert actions.count("enrol_device") == len(enrolled) == 2, enrolled
        for device, key in keys.items():
            spki = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            actor, detail = enrolled[device]
            assert actor == f"device:{device}", actor
            assert detail["device_key_sha256"] == hashlib.sha256(spki).hexdigest(), detail
            assert detail["client"] == "127.0.0.1" and detail["senders"] == ["test-bank"], detail
        assert not any(code in json.dumps(log) for code in codes.values()), "a code was logged"
        loaded = next(e for e in log["entries"] if e["action"] == "trust_load")
        assert json.loads(loaded["detail"])["serial"] == 1, loaded
        assert operator_token not in json.dumps(log) and sender_token not in json.dumps(log)
        # The console API refuses what makes no sense with typed errors.
        for path, body, status, code in (
            ("/api/senders", {"sender_id": "test-bank"}, 409, "conflict"),
            ("/api/senders", {"sender": "other-bank"}, 400, "malformed_json"),
            ("/api/enrol-codes", {"device_id": " handheld-03"}, 400, "invalid_request"),
            ("/api/devices/handheld-77/revoke", {"reason": "lost"}, 404, "not_enrolled"),
            ("/api/devices/handheld-01/revoke", {"reason": "again"}, 409, "conflict"),
        ):
            got, answer = http("POST", f"{console}{path}", body, token=operator_token)
            assert (got, json.loads(answer).get("error", {}).get("code")) == (status, code), (path, got, answer)
        # Guessing the token: refused, then (10 failures a minute) the address is held off,
        # with the right token too. Failures above may still count, so the 429 can come sooner.
        # The limit refills one failure per 6 s, so a guesser slowed down (a loaded machine)
        # earns one more try per 6 s it took: never more than that.
        started = time.monotonic()
        guesses = []
        while 429 not in guesses and len(guesses) < 40:
            guesses.append(http("GET", f"{console}/api/devices", token="hno_" + "1" * 64)[0])
        took = time.monotonic() - started
        assert guesses[-1] == 429 and set(guesses) <= {401, 429}, guesses
        assert guesses.count(401) <= 10 + int(took // 6), (guesses, took)
        assert http("GET", f"{console}/api/devices", token=operator_token)[0] == 429
    finally:
        process.terminate()
        process.wait(timeout=60)
    print(f"operator console: every check passed; screenshots in {shots}")


def browse(console, operator_token, shots, sync_lost_device):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(console)

        # A wrong token is refused with a message, and nothing of the console shows.
        page.fill("#token", "hno_" + "0" * 64)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text("not the operator token")
        expect(page.locator("#console")).to_be_hidden()
        page.screenshot(path=os.path.join(shots, "1-wrong-token.png"), full_page=True)

        page.fill("#token", operator_token)
        page.click("#login-form button[type=submit]")
        rows = page.locator("#devices tbody tr")
        expect(rows).to_have_count(2)
        lost = page.locator("#devices tbody tr[data-device='handheld-01']")
        expect(lost).to_contain_text("active")
        expect(lost).to_contain_text("honnin-test/9.8.7")
        expect(page.locator("#overview")).to_contain_text("Batches accepted1")
        expect(page.locator("#overview")).to_contain_text("Active devices")
        # Each device's enrolment is in the log, by the device itself.
        enrolments = page.locator("#audit tbody tr").filter(has_text="enrol_device")
        expect(enrolments).to_have_count(2)
        expect(enrolments.filter(has_text="device:handheld-01")).to_contain_text("device_key_sha256")
        page.screenshot(path=os.path.join(shots, "2-devices.png"), full_page=True)

        # The trust bundle's lists: each with its next update, the due and stale ones warned of.
        expect(page.locator("#trust-summary")).to_contain_text("Bundle 1")
        expect(page.locator("#trust-summary")).to_contain_text("3 revocation lists")
        expect(page.locator("#crls tbody tr")).to_have_count(3)
        expect(page.locator("#crls tbody tr.current")).to_contain_text("fresh.crl")
        expect(page.locator("#crls tbody tr.due_soon")).to_contain_text("due soon")
        expect(page.locator("#crls tbody tr.due_soon")).to_contain_text("due.crl")
        expect(page.locator("#crls tbody tr.stale")).to_contain_text("STALE")
        expect(page.locator("#crls tbody tr.stale")).to_contain_text("overdue")
        warning = page.locator("#crl-warning")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("due.crl, stale.crl")
        expect(warning).not_to_contain_text("fresh.crl")
        page.locator("#crls").scroll_into_view_if_needed()
        page.screenshot(path=os.path.join(shots, "2b-trust-bundle-lists.png"), full_page=True)

        # Revoke handheld-01, with markup in the reason: shown as text, never as markup.
        lost.locator("button.revoke").click()
        reason = "lost on route 12 <b id=injected>bold</b>"
        page.fill("#revoke-reason", reason)
        page.click("#revoke-confirm")
        expect(page.locator("#status")).to_contain_text("Revoked handheld-01")
        expect(lost).to_have_class("revoked")
        expect(lost).to_contain_text(reason)
        assert page.locator("#injected").count() == 0, "a reason became markup"
        entry = page.locator("#audit tbody tr").filter(has_text="revoke_device")
        expect(entry).to_have_count(1)
        expect(entry).to_contain_text("handheld-01")
        expect(entry).to_contain_text("console")
        expect(page.locator("#audit-chain")).to_contain_text("Chain intact")
        # The lost device syncs again: refused as revoked, and the console counts it.
        status, answer = sync_lost_device()
        assert status == 403 and answer["error"]["code"] == "device_revoked", (status, answer)
        assert "lost on route 12" in answer["error"]["message"], answer
        page.reload()
        expect(page.locator("#refused")).to_contain_text("device_revoked")
        page.screenshot(path=os.path.join(shots, "3-revoked-and-audited.png"), full_page=True)

        # Revoking it again is not offered; re-enrolling a replacement is, and shows its code.
        expect(lost.locator("button.revoke")).to_have_count(0)
        lost.locator("button.reenrol").click()
        page.fill("#reenrol-replacement", "handheld-03")
        page.click("#reenrol-confirm")
        expect(page.locator("#secret")).to_contain_text("Enrolment code for handheld-03")
        expect(lost).to_contain_text("replaced by handheld-03")
        expect(page.locator("#audit tbody tr").filter(has_text="reenrol_device")).to_have_count(1)
        page.screenshot(path=os.path.join(shots, "4-replacement.png"), full_page=True)

        # The receipt key rotated from the console: a new key, and the rotation in the log.
        before = page.locator("#receipt-key-id").text_content()
        page.click("#rotate-receipt-key")
        expect(page.locator("#status")).to_contain_text("Receipt key rotated")
        expect(page.locator("#receipt-key-id")).not_to_have_text(before)
        expect(page.locator("#audit tbody tr").filter(has_text="rotate_receipt_key")).to_have_count(1)
        page.screenshot(path=os.path.join(shots, "5-receipt-key-rotated.png"), full_page=True)
        assert not errors, f"errors on the page: {errors}"
        browser.close()


if __name__ == "__main__":
    main()
