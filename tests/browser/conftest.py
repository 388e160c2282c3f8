"""Session fixtures: one receiver, one enrolled counter store, one `honnin console`, one headless
Chromium (Debian's, through Playwright; never a downloaded browser) at the counter PC's
1366×768. The tests share them in file order, as a clerk's day does."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

import harness

CHROMIUM = os.environ.get("HONNIN_CHROMIUM", "/usr/bin/chromium")

# The sender's items for the day: (item, addressee, minimum level, attributes).
ITEMS = [
    ("JP-1001", harness.HOLDER, "A", []),   # genuine, level A
    ("JP-1002", harness.HOLDER, "B", ["name"]),  # genuine, level B
    ("JP-1003", "山田 太郎", "A", []),        # the wrong item for this card's holder
    ("JP-1004", harness.HOLDER, "A", []),   # PIN guard, then level A
    ("JP-1005", harness.HOLDER, "B", []),   # forged card
    ("JP-1006", harness.HOLDER, "A", []),   # card pulled mid-read
    ("JP-1007", harness.HOLDER, "B", []),   # two cards, the first
    ("JP-1008", harness.HOLDER, "B", []),   # two cards, the second
    ("JP-1009", harness.HOLDER, "A", []),   # page reloaded mid-check
    ("JP-1010", harness.HOLDER, "B", []),   # bad input (never checked)
    ("JP-1011", harness.HOLDER, "A", []),   # comparison ended with Escape
    ("JP-1012", harness.HOLDER, "A", ["name"]),  # a phone (level M), genuine
    ("JP-1013", harness.HOLDER, "A", []),   # a phone whose issuer is not trusted
    ("JP-1014", harness.HOLDER, "B", []),   # a phone where the sender asks for level B
    ("JP-1015", harness.HOLDER, "A", []),   # a phone engaged by its QR code
]


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("HONNIN_SCREENSHOTS", harness.ROOT / "target" / "counter-screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def work():
    harness.build()
    lock = harness.VpcdLock()
    folder = Path(tempfile.mkdtemp(prefix="honnin-console-test-"))
    yield folder
    lock.release()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def receiver(work):
    items = [
        {"item_id": item, "device_id": harness.DEVICE, "addressee_name": name,
         "min_level": level, "attributes": attributes}
        for item, name, level, attributes in ITEMS
    ]
    receiver = harness.Receiver(work, items)
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def counter(work, receiver):
    return harness.Counter(work, receiver)


@pytest.fixture(scope="session")
def console(counter):
    console = harness.Console(counter.store)
    yield console
    stderr = console.stop().replace(str(console.port), "<port>")
    # Secrets never reach the console's output (its port could hold the PIN's digits).
    for secret in (harness.MATCHING_NUMBER_B, harness.PIN):
        assert secret not in stderr, "a secret reached the console's output"


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def context(browser):
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="ja-JP", timezone_id="Asia/Tokyo")
    yield context
    context.close()


@pytest.fixture(scope="session")
def page(context, console):
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(console.url)
    # The key left the address: the cookie carries it from now on.
    assert page.url.rstrip("/") == console.base, page.url
    page.wait_for_selector("#reader-status:not(:empty)")
    return page
