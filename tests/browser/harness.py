"""Real components for the counter console's browser tests.

- `Receiver`: honnin-receiver on loopback (plain HTTP, which it allows on loopback only), with a
  sender account, registered items and an enrolment code for the counter;
- `Counter`: the counter's store, enrolled and synced (so it holds the signed item manifest);
- `Console`: `honnin console` itself, its address read from its output;
- `VirtualCard`: the software My Number Card in vsmartcard's virtual reader behind the real
  pcscd (`honnin-vicc`); stopping it takes the card out of the reader.

The vpcd ports are shared with the Rust tests (tests/common/virtual_reader.rs), which hold
`$TMPDIR/honnin-vpcd-35963.lock` while a card is inserted; these tests hold it (and the second
port's) for the whole session.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("HONNIN_BIN_DIR", ROOT / "target" / "debug"))
ANCHORS = ROOT / "fixtures" / "pki" / "anchors"
# The software phone's issuer (its test IACA), as a deployment configures its phone issuers.
MDOC_ANCHORS = ROOT / "fixtures" / "pki" / "mdoc" / "anchors"
DEVICE = "counter-01"
SENDER = "demo-bank"

# The software card's fictional test secrets (simcard/src/holder.rs).
MATCHING_NUMBER_B = "90040120341234"
PIN = "2468"
HOLDER = "試験 花子"


def build() -> None:
    """Builds the three programs the tests run (a no-op when they are up to date)."""
    if os.environ.get("HONNIN_BIN_DIR"):
        return
    subprocess.run(
        ["cargo", "build", "--quiet", "-p", "honnin-cli", "-p", "honnin-receiver",
         "-p", "honnin-simcard", "--bin", "honnin", "--bin", "honnin-receiver",
         "--bin", "honnin-vicc"],
        cwd=ROOT, check=True)


def run(*args: str | Path, stdin: str | None = None) -> str:
    done = subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def wait_for_line(stream, pattern: str, timeout: float = 60.0) -> re.Match:
    """Reads `stream` line by line until `pattern` matches."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise RuntimeError(f"no line matching {pattern!r}; got: {''.join(seen)}")


class VpcdLock:
    """Exclusive use of both virtual reader slots, shared with the Rust tests' lock files."""

    def __init__(self) -> None:
        base = Path(os.environ.get("TMPDIR", tempfile.gettempdir()))
        self.files = [open(base / f"honnin-vpcd-{port}.lock", "a") for port in (35963, 35964)]
        for file in self.files:
            fcntl.flock(file, fcntl.LOCK_EX)

    def release(self) -> None:
        for file in self.files:
            fcntl.flock(file, fcntl.LOCK_UN)
            file.close()


class Receiver:
    def __init__(self, work: Path, items: list[dict]) -> None:
        db = work / "receiver.db"
        exe = BIN / "honnin-receiver"
        self.token = run(exe, "--db", db, "add-sender", "--sender", SENDER).strip()
        self.code = run(exe, "--db", db, "enrol-code", "--device", DEVICE).strip()
        self.log = open(work / "receiver.log", "w+")
        self.process = subprocess.Popen(
            [str(exe), "--db", str(db), "serve", "--listen", "127.0.0.1:0", "--insecure-http",
             "--trust-anchors", str(ANCHORS), "--mdoc-anchors", str(MDOC_ANCHORS)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.process.stderr is not None
        self.url = wait_for_line(self.process.stderr, r"listening on (http://\S+)").group(1)
        self.request("PUT", "/v1/items", {"items": items})

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


class Counter:
    """The counter PC's store: enrolled with the receiver and synced (items manifest inside)."""

    def __init__(self, work: Path, receiver: Receiver) -> None:
        self.store = work / "counter" / "records.db"
        self.store.parent.mkdir()
        self.receiver = receiver
        run(BIN / "honnin", "enrol", "--receiver", receiver.url, "--device", DEVICE,
            "--store", self.store, "--insecure-loopback-http", "--stdin",
            stdin=receiver.code + "\n")
        self.sync()

    def sync(self) -> str:
        return run(BIN / "honnin", "sync", "--receiver", self.receiver.url, "--device", DEVICE,
                   "--store", self.store, "--insecure-loopback-http", "--json")


class Console:
    def __init__(self, store: Path, reader: str = "pcsc", phones: bool = True) -> None:
        """`phones`: with the software phone's issuer as --mdoc-anchors (else phones cannot be
        checked: the store keeps no trust bundle in these tests)."""
        phone_anchors = ["--mdoc-anchors", str(MDOC_ANCHORS)] if phones else []
        self.process = subprocess.Popen(
            [str(BIN / "honnin"), "console", "--reader", reader, "--device", DEVICE,
             "--trust-anchors", str(ANCHORS), *phone_anchors,
             "--store", str(store), "--courier", "clerk-01", "--no-open"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = wait_for_line(self.process.stdout, r"open (http://\S+)").group(1)
        self.base = self.url.split("/?")[0]
        self.port = int(self.base.rsplit(":", 1)[1])

    def stop(self) -> str:
        """Ends the console and returns what it wrote to stderr."""
        self.process.terminate()
        _, stderr = self.process.communicate(timeout=60)
        return stderr


class VirtualCard:
    """A software card of `profile` in the virtual reader at `port` (35963: "Virtual PCD 00 00",
    35964: "Virtual PCD 00 01"); a software phone for an `mdoc-…` profile."""

    def __init__(self, profile: str = "genuine", port: int = 35963) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "honnin-vicc"), profile, "--addr", f"127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def qr(self) -> str:
        """A phone's QR code text (`mdoc:…`), as honnin-vicc prints it first."""
        assert self.process.stdout is not None
        return wait_for_line(self.process.stdout, r"^qr: (mdoc:\S+)").group(1)

    def remove(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    def __enter__(self) -> "VirtualCard":
        return self

    def __exit__(self, *_exc) -> None:
        self.remove()


def raw_request(port: int, request: bytes, source: str | None = None) -> tuple[int, str]:
    """Sends one raw HTTP/1.1 request to the console (from `source` when given) and returns
    the status and body."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(60)
        if source:
            sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode("utf-8", "replace")


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, if it has one."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
    return match.group(1) if match else None
