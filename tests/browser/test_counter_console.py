"""The counter console end to end: headless Chromium drives `honnin console`, which checks the
software My Number Card, or the software phone with the card in its wallet (level M), through
the real pcscd and vsmartcard's virtual reader, stores each record in the counter's store, and
`honnin sync` takes them to the receiver, whose sender feed shows them as counter records that
verify.

Screenshots of each screen in Japanese and English go to $HONNIN_SCREENSHOTS (default
target/counter-screens); scripts/render-counter runs these tests for them.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request

import pytest

import harness
from harness import MATCHING_NUMBER_B, PIN, VirtualCard


# ---------------------------------------------------------------------------------------------
# What the clerk does and sees.

@contextlib.contextmanager
def card(page, profile="genuine", port=35963):
    """A card of `profile` on the reader for the duration; the page must see it come and go."""
    with VirtualCard(profile, port) as inserted:
        page.wait_for_selector("#reader-status.card", timeout=60_000)
        yield inserted
    page.wait_for_selector("#reader-status:not(.card)", timeout=60_000)


def enter_item(page, item):
    """As a barcode scanner does: the number typed into the focused field, then Enter."""
    page.focus("#item")
    page.fill("#item", "")
    page.keyboard.type(item)
    page.keyboard.press("Enter")


def start(page, item, level, secret):
    enter_item(page, item)
    page.wait_for_function(
        "item => { const info = document.getElementById('item-info');"
        " return !info.hidden && info.dataset.item === item; }", arg=item)
    page.check(f"#level-{level}")
    page.fill("#secret", secret)
    page.press("#secret", "Enter")


def seen(page) -> str:
    """What the page shows, for a failure's message."""
    return page.evaluate(
        """() => ['message', 'idle-text', 'progress-text', 'verdict-text', 'verdict-item']
             .map(id => id + ': ' + document.getElementById(id).textContent).join(' | ')""")


def wait_verdict(page, item, verdict):
    try:
        wait_for_verdict(page, item, verdict)
    except Exception as error:
        raise AssertionError(f"no {verdict} verdict for {item}; the page shows {seen(page)}") from error


def wait_for_verdict(page, item, verdict):
    page.wait_for_function(
        """([item, verdict]) => {
             const box = document.getElementById('verdict');
             return !box.hidden && box.classList.contains('v-' + verdict)
               && document.getElementById('verdict-item').textContent.includes(item);
           }""", arg=[item, verdict], timeout=60_000)


def check_states(page) -> dict[str, str]:
    return page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#checks tbody tr')]"
        ".map(r => [r.dataset.check, r.dataset.state]))")


def focused(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def history(page) -> list[str]:
    return page.eval_on_selector_all("#history-list li", "items => items.map(i => i.textContent)")


def wait_images(page, kinds=("face", "name", "address")):
    page.locator("#compare").wait_for(state="visible")
    for kind in kinds:
        page.wait_for_function(
            "id => { const i = document.getElementById(id); return i.complete && i.naturalWidth > 0; }",
            arg=f"img-{kind}")


def set_language(page, lang):
    if page.evaluate("document.documentElement.lang") != lang:
        page.click("#lang")
    page.wait_for_function("lang => document.documentElement.lang === lang", arg=lang)


def shoot(page, folder, name):
    """The screen as it is, in Japanese and in English; the focus is put back where it was
    (the language button takes it)."""
    was = focused(page)
    for lang in ("ja", "en"):
        set_language(page, lang)
        if was:
            page.focus(f"#{was}")
        page.screenshot(path=str(folder / f"{name}-{lang}.png"))
    set_language(page, "ja")
    if was:
        page.focus(f"#{was}")


# ---------------------------------------------------------------------------------------------
# Checks.

def test_genuine_card_at_level_b_with_the_keyboard_alone(page, screenshots):
    shoot(page, screenshots, "waiting")
    with card(page):
        page.focus("#item")
        page.keyboard.type("JP-1002")
        page.keyboard.press("Enter")
        page.locator("#item-info").wait_for(state="visible")
        # The sender's minimum from the manifest: level B, and nothing below it is offered.
        assert "レベルB" in page.inner_text("#info-min")
        assert page.is_checked("#level-B") and page.is_disabled("#level-A")
        assert page.inner_text("#info-addressee") == harness.HOLDER
        page.wait_for_function("() => document.activeElement.id === 'secret'")
        page.keyboard.type(PIN)
        page.keyboard.press("Enter")
        wait_verdict(page, "JP-1002", "genuine")
        assert page.input_value("#secret") == ""
        states = check_states(page)
        assert states["challenge_signature"] == "passed", states
        assert states["addressee_match"] == "passed", states
        assert "#" in page.inner_text("#verdict-record")
        # Ready for the next item at once.
        assert focused(page) == "item"
        shoot(page, screenshots, "verdict-genuine-b")


def test_genuine_card_at_level_a_with_the_photo_compared(page, screenshots):
    with card(page):
        start(page, "JP-1001", "A", MATCHING_NUMBER_B)
        wait_images(page)
        # The photo (JPEG 2000 on the card) is shown large.
        height = page.evaluate("document.getElementById('img-face').getBoundingClientRect().height")
        assert height >= 350, height
        assert focused(page) == "matches"
        shoot(page, screenshots, "compare")
        page.keyboard.press("Enter")
        wait_verdict(page, "JP-1001", "genuine")
        assert check_states(page)["face_confirmation"] == "passed"
        shoot(page, screenshots, "verdict-genuine-a")


def test_a_forged_card_is_named_forged(page, screenshots):
    with card(page, "forged-ca"):
        start(page, "JP-1005", "B", PIN)
        wait_verdict(page, "JP-1005", "forged")
        assert check_states(page)["certificate_chain"] == "failed"
        shoot(page, screenshots, "verdict-forged")


def test_the_pin_guard_refuses_and_level_a_is_offered(page, screenshots):
    with card(page, "pin-one-try-left"):
        start(page, "JP-1004", "B", PIN)
        wait_verdict(page, "JP-1004", "refused")
        assert page.locator("#verdict-offer").is_visible()
        assert focused(page) == "use-level-a"
        shoot(page, screenshots, "verdict-pin-guard")
        # The same card, at level A: no PIN at all.
        page.keyboard.press("Enter")
        assert page.is_checked("#level-A")
        assert focused(page) == "secret"
        page.keyboard.type(MATCHING_NUMBER_B)
        page.keyboard.press("Enter")
        wait_images(page, ("face",))
        page.click("#matches")
        wait_verdict(page, "JP-1004", "genuine")


def test_a_card_pulled_mid_read_and_put_back_is_checked_to_the_end(page):
    # The card leaves the field after 照合番号B was accepted and comes back a second later.
    with card(page, "tag-loss:7"):
        start(page, "JP-1006", "A", MATCHING_NUMBER_B)
        page.wait_for_selector("#progress.card_removed", state="visible", timeout=60_000)
        wait_images(page, ("face",))
        page.click("#matches")
        wait_verdict(page, "JP-1006", "genuine")


def test_the_wrong_item_number_is_not_the_addressee(page):
    with card(page):
        start(page, "JP-1003", "B", PIN)
        wait_verdict(page, "JP-1003", "not_addressee")
        assert check_states(page)["addressee_match"] == "failed"


def test_two_cards_one_after_the_other(page):
    with card(page):
        start(page, "JP-1007", "B", PIN)
        wait_verdict(page, "JP-1007", "genuine")
        done = len(history(page))
        # The same card again: one check per card.
        start(page, "JP-1008", "B", PIN)
        page.wait_for_function(
            "() => document.getElementById('message').textContent.includes('確認済み')")
        assert len(history(page)) == done
    with card(page):
        start(page, "JP-1008", "B", PIN)
        wait_verdict(page, "JP-1008", "genuine")
        assert len(history(page)) == done + 1


def test_a_page_reloaded_mid_check_finds_the_check_going_on(page):
    with card(page):
        before = len(history(page))
        start(page, "JP-1009", "A", MATCHING_NUMBER_B)
        wait_images(page)
        page.reload()
        # The check waited; the reloaded page shows it where it is, images included.
        wait_images(page)
        page.click("#matches")
        wait_verdict(page, "JP-1009", "genuine")
        rows = history(page)
        assert len(rows) == before + 1
        assert sum("JP-1009" in row for row in rows) == 1


def test_escape_ends_a_comparison_without_a_decision(page):
    with card(page):
        start(page, "JP-1011", "A", MATCHING_NUMBER_B)
        wait_images(page, ("face",))
        page.keyboard.press("Escape")
        # No decision is not a confirmation: the check is inconclusive, and recorded so.
        wait_verdict(page, "JP-1011", "inconclusive")
        assert check_states(page)["face_confirmation"] == "not_checked"
        assert "#" in page.inner_text("#verdict-record")
        # Escape outside a comparison clears the entry for the next item.
        page.keyboard.press("Escape")
        assert page.input_value("#item") == ""
        assert not page.locator("#item-info").is_visible()
        assert focused(page) == "item"


# ---------------------------------------------------------------------------------------------
# A phone (level M): the card in the holder's phone wallet, through the same reader.

# APDUs of the phone check over NFC engagement, for the QR one to compare with.
NFC_APDUS = {}


def apdus(page) -> int:
    """The APDUs the verdict on the page cost (from the console's state)."""
    return page.evaluate("state.result.output.card.apdus")


def start_phone(page, item, qr=None):
    enter_item(page, item)
    page.wait_for_function(
        "item => { const info = document.getElementById('item-info');"
        " return !info.hidden && info.dataset.item === item; }", arg=item)
    page.check("#level-M")
    if qr is not None:
        page.fill("#qr", qr)
    page.press("#qr", "Enter")


def test_a_phone_at_level_m_shows_its_portrait_and_is_recorded(page, screenshots):
    with card(page, "mdoc-genuine"):
        before = len(history(page))
        enter_item(page, "JP-1012")
        page.locator("#item-info").wait_for(state="visible")
        page.check("#level-M")
        # No secret is asked of a phone: the field is gone, the optional QR field is there.
        assert not page.locator("#secret").is_visible()
        assert page.locator("#qr").is_visible()
        assert "暗証番号は不要" in page.inner_text("#qr-hint")
        page.focus("#qr")
        shoot(page, screenshots, "phone-entry")
        page.press("#qr", "Enter")
        # The portrait the phone sent, under its issuer's signature, shown as a card's photo is.
        wait_images(page, ("face",))
        assert not page.locator("#img-name").is_visible()
        assert "スマートフォン" in page.inner_text("#compare-heading")
        height = page.evaluate("document.getElementById('img-face').getBoundingClientRect().height")
        assert height >= 350, height
        assert focused(page) == "matches"
        shoot(page, screenshots, "compare-phone")
        page.keyboard.press("Enter")
        wait_verdict(page, "JP-1012", "genuine")
        states = check_states(page)
        for check in ("mdoc_issuer_certificate", "mdoc_issuer_signature",
                      "mdoc_device_authentication", "face_confirmation", "addressee_match"):
            assert states.get(check) == "passed", states
        assert "レベルM" in page.inner_text("#verdict-item")
        assert "#" in page.inner_text("#verdict-record")
        rows = history(page)
        assert len(rows) == before + 1 and "JP-1012" in rows[0] and "レベルM" in rows[0], rows
        NFC_APDUS["genuine"] = apdus(page)
        shoot(page, screenshots, "verdict-phone")


def test_a_phone_engaged_by_its_qr_code(page):
    with card(page, "mdoc-genuine") as phone:
        # The QR code the phone shows, scanned into the field (a scanner types it, then Enter).
        start_phone(page, "JP-1015", qr=phone.qr())
        wait_images(page, ("face",))
        page.click("#matches")
        wait_verdict(page, "JP-1015", "genuine")
        assert check_states(page)["mdoc_session"] == "passed"
        assert page.input_value("#qr") == ""
        # The engagement came from the QR code: the phone's NDEF file was not read.
        if "genuine" in NFC_APDUS:
            assert apdus(page) < NFC_APDUS["genuine"], (apdus(page), NFC_APDUS)


def test_a_phone_whose_issuer_is_not_trusted_is_named_forged(page, screenshots):
    with card(page, "mdoc-unknown-issuer"):
        start_phone(page, "JP-1013")
        wait_verdict(page, "JP-1013", "forged")
        # Never shown for comparison: no decision could make it genuine.
        assert check_states(page)["mdoc_issuer_certificate"] == "failed"
        assert check_states(page)["face_confirmation"] == "not_checked"
        shoot(page, screenshots, "verdict-phone-forged")


def test_a_card_is_not_checked_as_a_phone_nor_a_phone_as_a_card(page):
    before = history(page)
    with card(page):
        start_phone(page, "JP-1012")
        page.wait_for_function(
            "() => document.getElementById('idle-text').textContent.includes('マイナンバーカードです')")
    with card(page, "mdoc-genuine"):
        start(page, "JP-1002", "B", PIN)
        page.wait_for_function(
            "() => document.getElementById('idle-text').textContent.includes('スマートフォンです')")
        assert "暗証番号は送っていません" in page.inner_text("#idle-text")
    # Told apart with SELECTs only: nothing was checked, so nothing was recorded.
    assert history(page) == before


# ---------------------------------------------------------------------------------------------
# Bad input: a clear message, and no check started.

def message(page, text):
    page.wait_for_function(
        "text => document.getElementById('message').textContent.includes(text)", arg=text)


def test_bad_input_gets_a_message_and_starts_no_check(page, context, console, counter, browser):
    before = history(page)

    enter_item(page, "JP-9999")
    message(page, "JP-9999")
    assert "一覧にありません" in page.inner_text("#message")
    assert not page.locator("#item-info").is_visible()

    # Below the sender's minimum (the page does not offer it; the console refuses it anyway),
    # and a secret of the wrong form (the answer names the form, never the value).
    def api_check(level, secret):
        return page.evaluate(
            """async ([level, secret]) => {
                 const r = await fetch('/api/check', {method: 'POST',
                   headers: {'Content-Type': 'application/json'},
                   body: JSON.stringify({tab: sessionStorage.getItem('honnin-tab'),
                                         item: 'JP-1010', level, secret})});
                 return [r.status, await r.json()]; }""", [level, secret])
    status, body = api_check("A", MATCHING_NUMBER_B)
    assert (status, body["error"]) == (409, "level_below_minimum"), body
    assert "レベルB以上" in body["message_ja"]
    status, body = api_check("B", "24x8")
    assert (status, body["error"]) == (400, "bad_secret"), body
    assert "24x8" not in json.dumps(body, ensure_ascii=False)

    # A phone: no secret is taken (one sent is refused, never passed on), a QR text that is not
    # a phone's engagement is refused before any phone is touched, and a sender that asks for
    # level B is not satisfied by a phone.
    def api_phone(item, extra):
        return page.evaluate(
            """async ([item, extra]) => {
                 const r = await fetch('/api/check', {method: 'POST',
                   headers: {'Content-Type': 'application/json'},
                   body: JSON.stringify(Object.assign({tab: sessionStorage.getItem('honnin-tab'),
                                         item, level: 'M'}, extra))});
                 return [r.status, await r.json()]; }""", [item, extra])
    status, body = api_phone("JP-1012", {"secret": PIN})
    assert (status, body["error"]) == (400, "secret_not_asked"), body
    assert PIN not in json.dumps(body, ensure_ascii=False)
    status, body = api_phone("JP-1012", {"qr": "https://example.com/JP-1012"})
    assert (status, body["error"]) == (400, "bad_qr"), body
    assert "QRコード" in body["message_ja"]
    status, body = api_phone("JP-1014", {})
    assert (status, body["error"]) == (409, "level_below_minimum"), body
    status, body = api_check("B", None)
    assert (status, body["error"]) == (400, "bad_secret"), body
    enter_item(page, "JP-1014")
    page.wait_for_function(
        "() => { const i = document.getElementById('item-info'); return !i.hidden && i.dataset.item === 'JP-1014'; }")
    assert page.is_disabled("#level-M")
    # The page shows the refusal in place of the QR field's value.
    enter_item(page, "JP-1012")
    page.wait_for_function(
        "() => { const i = document.getElementById('item-info'); return !i.hidden && i.dataset.item === 'JP-1012'; }")
    page.check("#level-M")
    page.fill("#qr", "not a QR code")
    page.press("#qr", "Enter")
    message(page, "QRコードではありません")

    # No card on the reader.
    start(page, "JP-1010", "B", PIN)
    message(page, "カードがありません")

    # Cards on two readers and no reader named: which one is meant is not guessed.
    with VirtualCard("genuine", 35963), VirtualCard("genuine", 35964):
        page.wait_for_function(
            "() => document.getElementById('reader-status').textContent.split('カードあり').length === 3",
            timeout=60_000)
        start(page, "JP-1010", "B", PIN)
        message(page, "2台のリーダー")
    page.wait_for_selector("#reader-status:not(.card)", timeout=60_000)

    # A second tab: told the console is open elsewhere; its requests are refused.
    second = context.new_page()
    second.goto(console.base + "/")
    second.wait_for_selector("#banner:not([hidden])")
    assert "別のタブ" in second.inner_text("#banner-text")
    assert second.is_disabled("#item")
    status = second.evaluate(
        """async () => (await fetch('/api/item', {method: 'POST',
             headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({tab: sessionStorage.getItem('honnin-tab'), item: 'JP-1010'})})).status""")
    assert status == 409
    second.close()

    # Without the key: the page and the API refuse, saying what is missing.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(console.base + "/", timeout=60)
    assert refused.value.code == 403
    assert "鍵" in refused.value.read().decode()
    request = urllib.request.Request(
        console.base + "/api/check", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"tab": "0123456789ab", "item": "JP-1010", "level": "B",
                         "secret": PIN}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["error"] == "no_key"

    # Another host name (DNS rebinding) and another page's origin, even with the key.
    cookie = next(c for c in context.cookies() if c["name"] == f"honnin_console_{console.port}")
    status, body = harness.raw_request(console.port, (
        f"GET / HTTP/1.1\r\nHost: evil.example:{console.port}\r\n"
        f"Cookie: {cookie['name']}={cookie['value']}\r\nConnection: close\r\n\r\n").encode())
    assert status == 403 and "foreign_host" in body
    payload = json.dumps({"tab": "0123456789ab", "item": "JP-1010"}).encode()
    status, body = harness.raw_request(console.port, (
        f"POST /api/item HTTP/1.1\r\nHost: 127.0.0.1:{console.port}\r\n"
        f"Origin: http://evil.example\r\nCookie: {cookie['name']}={cookie['value']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n").encode() + payload)
    assert status == 403 and "foreign_origin" in body

    # From another address of this machine (not loopback), even with the key.
    source = harness.non_loopback_address()
    if source:
        status, body = harness.raw_request(console.port, (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{console.port}\r\n"
            f"Cookie: {cookie['name']}={cookie['value']}\r\nConnection: close\r\n\r\n").encode(),
            source=source)
        assert status == 403 and "not_loopback" in body, body
    else:
        print("no non-loopback address on this machine: that refusal is not exercised")

    # A reader that is not there (unplugged, or a wrong name), on a console started without
    # phone issuer anchors: cards are still checked, a phone is refused saying what is missing.
    closed = harness.Console(counter.store, reader="pcsc:Closed Reader 99", phones=False)
    try:
        other = browser.new_context(viewport={"width": 1366, "height": 768}, locale="ja-JP")
        tab = other.new_page()
        tab.goto(closed.url)
        tab.wait_for_selector("#reader-status.problem")
        assert "Closed Reader 99" in tab.inner_text("#reader-status")
        start(tab, "JP-1010", "B", PIN)
        message(tab, "接続されていません")
        start_phone(tab, "JP-1012")
        message(tab, "発行者証明書が設定されていない")
        other.close()
    finally:
        closed.stop()

    assert history(page) == before


# ---------------------------------------------------------------------------------------------
# The records reach the sender.

def test_every_counter_check_reaches_the_sender_as_a_counter_record(page, counter, receiver):
    checks = len(history(page))
    counter.sync()
    feed = receiver.request("GET", "/v1/feed?limit=1000")["entries"]
    assert len(feed) == checks, feed
    assert all(entry["record"]["body"]["station"] == "counter" for entry in feed)
    by_item = {entry["record"]["body"]["item_id"]: entry for entry in feed}
    assert by_item["JP-1011"]["record"]["body"]["verdict"] == "inconclusive"
    genuine_b = by_item["JP-1002"]
    assert genuine_b["verification"]["outcome"] == "verified", genuine_b["verification"]
    assert by_item["JP-1005"]["record"]["body"]["verdict"] == "forged"
    # The phone's check: a counter record at level M, verified by the receiver.
    phone = by_item["JP-1012"]
    assert phone["record"]["body"]["level"] == "M", phone
    assert phone["record"]["body"]["verdict"] == "genuine", phone
    assert phone["verification"]["outcome"] == "verified", phone["verification"]
    # The sender's attribute policy for the item (name only) holds for a phone as for a card.
    # (a phone record keeps the policy's elements as issuer-signed items, docs/record-format.md).
    assert phone["record"]["body"]["attributes_requested"] == ["name"], phone
    elements = phone["record"]["body"]["mdoc"]["elements"]
    kept = [e["element"] for e in elements if e.get("item")]
    assert kept and all("name" in element for element in kept), elements
    assert "portrait" not in kept
    assert by_item["JP-1013"]["record"]["body"]["verdict"] == "forged"
    delivered = receiver.request("GET", "/v1/items/JP-1002")
    assert delivered["delivery"]["record_id"] == genuine_b["record"]["body"]["record_id"]
    # The sender re-verifies the record itself, trusting nothing the counter says.
    entry = counter.store.parent / "feed-entry.json"
    entry.write_text(json.dumps(genuine_b))
    verified = json.loads(harness.run(
        harness.BIN / "honnin", "verify-record", entry, "--trust-anchors", harness.ANCHORS,
        "--item", "JP-1002", "--sender", harness.SENDER, "--json"))
    assert verified["outcome"] == "verified", verified
    assert verified["recorded_verdict"] == "genuine", verified
    # The counter's own chain is intact, and every record in it says counter.
    harness.run(harness.BIN / "honnin", "records", "verify-chain", "--store", counter.store)
    listed = json.loads(harness.run(
        harness.BIN / "honnin", "records", "list", "--store", counter.store, "--json"))
    assert [row["station"] for row in listed] == ["counter"] * checks, listed
