// The counter console's page. Plain JavaScript, no build step: the server sends the whole state
// on every change (server-sent events), and this file draws it. Secrets are typed into a password
// field, sent once in a POST body, and the field is emptied at once. A phone (level M) asks for
// no secret: the field is hidden and nothing of it is sent; the QR code text is optional.
"use strict";

const T = {
  ja: {
    title: "窓口 本人確認", entry_heading: "郵便物", item_label: "お問い合わせ番号",
    item_hint: "バーコードを読み取るか入力して Enter", sender: "差出人", addressee: "宛名",
    min_level: "差出人が求める最低レベル", level: "確認レベル", start: "確認開始 (Enter)",
    compare_heading: "券面の顔写真・氏名・住所を、来局者と郵便物の宛名と見比べてください",
    face: "顔写真", name: "氏名", address: "住所",
    compare_question: "写真は来局者本人で、氏名は宛名と一致しますか？",
    matches: "一致する", no_match: "一致しない", escape_cancels: "Esc: 判定せずに中止",
    check: "項目", state: "結果", reason: "理由", history: "本日の確認",
    next_hint: "次の郵便物: お問い合わせ番号を読み取ってください（カード・スマートフォンは取り外す）",
    take_over: "このタブで使う",
    other_tab: "この画面は別のタブまたはウィンドウで開かれています。そちらを使うか「このタブで使う」を押してください。",
    offer_level_a: "暗証番号の残り回数が1回のため中止しました。暗証番号なしのレベルAで確認できます。",
    use_level_a: "レベルAで確認する",
    level_A: "レベルA（照合番号B・顔写真の確認）", level_B: "レベルB（利用者証明用 暗証番号4桁）",
    level_C: "レベルC（署名用パスワード）",
    level_M: "レベルM（スマートフォン）",
    qr_label: "QRコード（任意）",
    qr_hint: "表示されていれば読み取り、なければ空欄でNFC接続（暗証番号は不要）",
    compare_heading_M: "スマートフォンから届いた顔写真（発行者の署名を確認済み）を来局者と見比べてください",
    compare_question_M: "写真は来局者本人ですか？",
    reading_M: "スマートフォンを読み取っています…リーダーに置いたままにしてください",
    card_removed_M: "スマートフォンが離れました。リーダーに戻してください",
    secret_A: "照合番号B（14桁）", secret_B: "暗証番号（4桁）", secret_C: "署名用パスワード",
    hint_A: "生年月日6桁＋有効期限の西暦4桁＋セキュリティコード4桁（カード表面）",
    hint_B: "来局者ご本人に入力していただきます", hint_C: "来局者ご本人に入力していただきます（英大文字と数字）",
    reading: "カードを読み取っています…そのままにしてください", card_removed: "カードが離れました。リーダーに戻してください",
    bytes: "読み取り済み", waiting_card: "カードをリーダーに置き、お問い合わせ番号を入力してください",
    card_checked: "このカード（スマートフォン）は確認済みです。取り外して次の方のものを置いてください",
    no_card: "カードなし", card: "カードあり", mute: "応答なし", unknown: "不明",
    no_readers: "カードリーダーが見つかりません", record: "記録", stored: "を保存しました（同期待ち）",
    record_failed: "記録を保存できませんでした: ", item_of: "郵便物", connection: "サーバーとの接続が切れました。再接続しています…",
    v_genuine: "本人確認済み", v_forged: "偽造", v_inconclusive: "確認できず", v_refused: "中止", v_not_addressee: "宛名と不一致",
  },
  en: {
    title: "Counter identity check", entry_heading: "Item", item_label: "Item number",
    item_hint: "Scan the barcode or type it, then Enter", sender: "Sender", addressee: "Addressee",
    min_level: "Sender's minimum level", level: "Check level", start: "Start check (Enter)",
    compare_heading: "Compare the card's photo, name and address with the person and the item's addressee",
    face: "Face photo", name: "Name", address: "Address",
    compare_question: "Is the photo the person in front of you, and is the name the addressee's?",
    matches: "Matches", no_match: "Does not match", escape_cancels: "Esc: stop without a decision",
    check: "Check", state: "State", reason: "Reason", history: "Today's checks",
    next_hint: "Next item: scan its number (take the card or phone away)",
    take_over: "Use this tab",
    other_tab: "The console is open in another tab or window: use that one, or press \"Use this tab\".",
    offer_level_a: "Refused: only one PIN try was left. Level A needs no PIN.",
    use_level_a: "Check at level A",
    level_A: "Level A (照合番号B, photo comparison)", level_B: "Level B (4-digit PIN)",
    level_C: "Level C (signing password)",
    level_M: "Level M (phone wallet)",
    qr_label: "QR code (optional)",
    qr_hint: "Scan it if the phone shows one; empty: NFC (no PIN needed)",
    compare_heading_M: "Compare the portrait the phone sent (its issuer signature verified) with the person",
    compare_question_M: "Is the photo the person in front of you?",
    reading_M: "Reading the phone… keep it on the reader",
    card_removed_M: "The phone left the reader: put it back",
    secret_A: "照合番号B (14 digits)", secret_B: "PIN (4 digits)", secret_C: "Signing password",
    hint_A: "Birth date YYMMDD + expiry year YYYY + security code (card front)",
    hint_B: "The holder types it", hint_C: "The holder types it (capital letters and digits)",
    reading: "Reading the card… keep it on the reader", card_removed: "The card left the reader: put it back",
    bytes: "read", waiting_card: "Put the card on the reader and enter the item number",
    card_checked: "This card (or phone) was checked: take it away and put the next one",
    no_card: "no card", card: "card present", mute: "no answer", unknown: "unknown",
    no_readers: "No card reader found", record: "Record", stored: " stored (to be synced)",
    record_failed: "The record could not be stored: ", item_of: "Item", connection: "Connection to the console lost; reconnecting…",
    v_genuine: "Verified", v_forged: "FORGED", v_inconclusive: "Not verified", v_refused: "Refused", v_not_addressee: "Not the addressee",
  },
};

const CHECKS = {
  card_face_cv_certificate: ["券面AP CV証明書", "Card-face CV certificate"],
  card_face_signature: ["券面データの署名", "Card-face signature"],
  matching_number_consistency: ["照合番号Bとの整合", "Matches 照合番号B"],
  live_chip: ["チップの実在（内部認証）", "Live chip"],
  input_support_cv_certificate: ["券面入力補助AP CV証明書", "Input-support CV certificate"],
  attributes_hash: ["基本4情報のハッシュ", "Attributes hash"],
  input_support_signature: ["基本4情報の署名", "Input-support signature"],
  certificate_chain: ["証明書チェーン", "Certificate chain"],
  certificate_validity: ["証明書の有効期間", "Certificate validity"],
  key_usage: ["鍵用途", "Key usage"],
  basic_constraints: ["基本制約", "Basic constraints"],
  certificate_policy: ["証明書ポリシー", "Certificate policy"],
  revocation: ["失効確認", "Revocation"],
  challenge_signature: ["チャレンジ署名", "Challenge signature"],
  card_expiry: ["カードの有効期限", "Card expiry"],
  addressee_match: ["宛名との照合", "Addressee match"],
  pin_state: ["暗証番号の残り回数", "PIN tries left"],
  face_confirmation: ["顔写真の確認", "Face confirmation"],
  card_communication: ["カードとの通信", "Card communication"],
  mdoc_session: ["スマートフォンとの暗号化通信", "Phone session"],
  mdoc_issuer_certificate: ["発行者証明書", "Issuer certificate"],
  mdoc_issuer_signature: ["発行者の署名", "Issuer signature"],
  mdoc_validity: ["データの有効期間", "Data validity"],
  mdoc_doc_type: ["書類の種類", "Document type"],
  mdoc_element_digests: ["各項目のハッシュ", "Element digests"],
  mdoc_elements_complete: ["必要な項目の有無", "Elements complete"],
  mdoc_device_authentication: ["端末認証（複製でないこと）", "Device authentication"],
};
const STATES = {
  passed: ["合格", "passed"], failed: ["不合格", "FAILED"],
  not_checked: ["未確認", "not checked"], not_present: ["対象外", "not present"],
};

const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem("honnin-lang") === "en" ? "en" : "ja";
let state = null;
let item = null;
let lastPhase = null;
let lastImages = null;
let message = null;
const tab = sessionStorage.getItem("honnin-tab") || newTab();

function newTab() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  const id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  sessionStorage.setItem("honnin-tab", id);
  return id;
}

const t = (key) => T[lang][key] ?? key;
const pick = (pair) => (lang === "ja" ? pair[0] : pair[1]);
const local = (m) => (m ? (lang === "ja" ? m.ja || m.message_ja : m.en || m.message_en) : "");
const mine = () => !state || !state.owner || state.owner === tab;

function setMessage(m) {
  message = m;
  $("message").textContent = local(m);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(Object.assign({ tab }, body)),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  return { ok: response.ok, data };
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = "honnin " + t("title");
  for (const element of document.querySelectorAll("[data-t]")) {
    element.textContent = t(element.dataset.t);
  }
  $("lang").textContent = lang === "ja" ? "English" : "日本語";
  $("lang").lang = lang === "ja" ? "en" : "ja";
  if (item) showItem(item, false);
  setMessage(message);
  render();
}

function showItem(view, focus) {
  item = view;
  $("item-info").dataset.item = view.item;
  $("info-sender").textContent = view.sender;
  $("info-addressee").textContent = view.addressee;
  $("info-min").textContent = t("level_" + view.min_level);
  const options = $("level-options");
  const chosen = document.querySelector("input[name=level]:checked")?.value;
  options.replaceChildren();
  // The card's levels, then the phone: what the holder shows decides, not a ranking.
  for (const level of ["A", "B", "C", "M"]) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "level";
    input.value = level;
    input.id = "level-" + level;
    // Never below the sender's minimum: those levels are not offered at all.
    input.disabled = !view.levels.includes(level);
    input.checked = chosen ? chosen === level && !input.disabled : level === view.min_level;
    input.addEventListener("change", secretField);
    label.append(input, " ", t("level_" + level));
    options.append(label);
  }
  if (!document.querySelector("input[name=level]:checked")) {
    $("level-" + view.min_level).checked = true;
  }
  $("item-info").hidden = false;
  secretField();
  if (focus) $(chosenLevel() === "M" ? "qr" : "secret").focus();
}

function chosenLevel() {
  return document.querySelector("input[name=level]:checked")?.value || "A";
}

function secretField() {
  const level = chosenLevel();
  const phone = level === "M";
  $("secret-row").hidden = phone;
  $("qr-row").hidden = !phone;
  // Nothing typed for a card goes with a phone check, nor a QR text with a card check.
  if (phone) $("secret").value = "";
  else $("qr").value = "";
  if (phone) return;
  $("secret-label").textContent = t("secret_" + level);
  $("secret-hint").textContent = t("hint_" + level);
  const secret = $("secret");
  secret.inputMode = level === "C" ? "text" : "numeric";
  secret.maxLength = level === "A" ? 14 : level === "B" ? 4 : 16;
}

function resetEntry() {
  item = null;
  $("item-info").hidden = true;
  $("secret").value = "";
  $("qr").value = "";
  $("item").value = "";
  $("item").focus();
}

async function lookUp(event) {
  event.preventDefault();
  const number = $("item").value.trim();
  if (!number) return;
  // A new number replaces the item at once: nothing of the previous item can be checked.
  item = null;
  $("item-info").hidden = true;
  const { ok, data } = await post("/api/item", { item: number });
  if (ok) {
    setMessage(null);
    document.querySelectorAll("input[name=level]").forEach((r) => (r.checked = false));
    showItem(data, true);
  } else {
    item = null;
    $("item-info").hidden = true;
    setMessage(data);
    $("item").select();
  }
}

async function startCheck(event) {
  event.preventDefault();
  if (!item) return;
  const level = chosenLevel();
  const body = { item: item.item, level };
  if (level === "M") {
    const qr = $("qr").value.trim();
    if (qr) body.qr = qr;
  } else {
    body.secret = $("secret").value;
  }
  $("secret").value = "";
  $("qr").value = "";
  const { ok, data } = await post("/api/check", body);
  setMessage(ok ? null : data);
  if (!ok) $(level === "M" ? "qr" : "secret").focus();
}

async function decide(decision) {
  const { ok, data } = await post("/api/decision", { decision });
  if (!ok) setMessage(data);
}

function renderReaders() {
  const status = $("reader-status");
  if (state.reader_problem) {
    status.textContent = local(state.reader_problem);
    status.className = "problem";
    return;
  }
  const readers = state.reader ? state.readers.filter((r) => r.name === state.reader) : state.readers;
  status.className = readers.some((r) => r.card === "present") ? "card" : "";
  status.textContent = readers.length === 0
    ? t("no_readers")
    : readers.map((r) => r.name + ": " + t(r.card === "present" ? "card" : r.card === "absent" ? "no_card" : r.card)).join(" / ");
}

function renderHistory() {
  const list = $("history-list");
  list.replaceChildren();
  // Today in Japan: a console left running past midnight starts a new day's list.
  const day = (seconds) => new Date(seconds * 1000).toLocaleDateString("en-CA", { timeZone: "Asia/Tokyo" });
  const today = day(Date.now() / 1000);
  for (const row of [...state.history].filter((r) => day(r.time) === today).reverse()) {
    const li = document.createElement("li");
    const time = new Date(row.time * 1000).toLocaleTimeString(lang === "ja" ? "ja-JP" : "en-GB", {
      timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit",
    });
    li.className = "v-" + row.verdict;
    li.textContent = `${time}  ${row.item}\n${t("level_" + row.level).split(/[（(]/)[0].trim()} · ${t("v_" + row.verdict)} · #${row.seq}`;
    list.append(li);
  }
}

function renderVerdict() {
  const result = state.result;
  const output = result.output;
  const box = $("verdict");
  box.className = "panel v-" + output.verdict;
  // The verdict's own sentence names it ("FORGED card: …"): no second label before it.
  $("verdict-text").textContent = lang === "ja" ? output.message_ja : output.message_en;
  $("verdict-item").textContent = `${t("item_of")} ${output.item} · ${output.sender} · ${t("level_" + output.level)}`;
  $("verdict-record").textContent = result.record_error
    ? t("record_failed") + result.record_error
    : output.record ? `${t("record")} #${output.record.seq}${t("stored")}` : "";
  $("verdict-record").className = result.record_error ? "problem" : "";
  $("verdict-offer").hidden = !result.offer_level_a;
  const body = document.querySelector("#checks tbody");
  body.replaceChildren();
  for (const line of output.checks) {
    const row = document.createElement("tr");
    row.className = "s-" + line.state;
    row.dataset.check = line.check;
    row.dataset.state = line.state;
    const reason = (lang === "ja" ? line.message_ja : line.message_en) + (line.detail ? ` (${line.detail})` : "");
    for (const text of [pick(CHECKS[line.check] || [line.check, line.check]), pick(STATES[line.state] || [line.state, line.state]), reason]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    body.append(row);
  }
}

function render() {
  if (!state) return;
  renderReaders();
  renderHistory();
  const elsewhere = !mine();
  $("banner").hidden = !elsewhere;
  $("banner-text").textContent = t("other_tab");
  for (const id of ["item", "secret", "qr", "start", "matches", "no-match", "use-level-a"]) $(id).disabled = elsewhere;
  document.querySelectorAll("input[name=level]").forEach((r) => {
    if (elsewhere) r.disabled = true;
    else if (item) r.disabled = !item.levels.includes(r.value);
  });

  const phase = state.phase;
  const busy = phase === "reading" || phase === "card_removed";
  $("idle").hidden = phase !== "idle";
  $("progress").hidden = !busy;
  $("compare").hidden = phase !== "awaiting_decision";
  $("verdict").hidden = !(phase === "done" && state.result);
  $("entry").classList.toggle("locked", busy || phase === "awaiting_decision");
  $("idle-text").textContent = local(state.notice) || t(state.card_checked ? "card_checked" : "waiting_card");
  if (busy && state.check) {
    $("progress-text").textContent = t(state.check.level === "M" ? phase + "_M" : phase);
    $("progress").className = "panel " + phase;
    // A phone's data comes in one encrypted session response, counted when it is done, not EF by
    // EF: no running byte count.
    const bytes = state.check.level === "M" ? "" : ` · ${state.check.bytes_read} bytes ${t("bytes")}`;
    $("progress-detail").textContent = `${t("item_of")} ${state.check.item} · ${t("level_" + state.check.level)}${bytes}`;
  }
  if (phase === "awaiting_decision" && state.check) {
    const phone = state.check.level === "M";
    $("compare").classList.toggle("phone", phone);
    $("compare-heading").textContent = t(phone ? "compare_heading_M" : "compare_heading");
    $("compare-question").textContent = t(phone ? "compare_question_M" : "compare_question");
    const key = state.check.images_id;
    if (lastImages !== key) {
      lastImages = key;
      for (const kind of ["face", "name", "address"]) {
        const img = $("img-" + kind);
        img.hidden = !state.check.images.includes(kind);
        // A phone sends a portrait only (its name is text, matched by the check): no empty
        // frames with captions for what is not there.
        img.closest("figure").hidden = img.hidden;
        img.alt = t(kind);
        img.src = img.hidden ? "" : `/api/image/${kind}?v=${key}`;
      }
    }
  }
  if (phase === "done" && state.result) {
    renderVerdict();
    const hint = state.card_checked ? t("card_checked") : "";
    if (hint) $("verdict").querySelector(".hint").textContent = t("next_hint") + " — " + hint;
  }
  if (phase !== lastPhase) {
    if (phase === "awaiting_decision" && !elsewhere) $("matches").focus();
    if (phase === "done" && lastPhase !== null) {
      if (state.result && state.result.offer_level_a) $("use-level-a").focus();
      else { $("item").focus(); $("item").select(); }
    }
    lastPhase = phase;
  }
}

function connect() {
  const events = new EventSource("/api/events?tab=" + tab);
  events.onmessage = (event) => {
    state = JSON.parse(event.data);
    $("banner").classList.remove("lost");
    render();
  };
  events.onerror = () => {
    $("banner").hidden = false;
    $("banner").classList.add("lost");
    $("banner-text").textContent = t("connection");
  };
}

document.addEventListener("DOMContentLoaded", () => {
  $("item-form").addEventListener("submit", lookUp);
  $("check-form").addEventListener("submit", startCheck);
  $("matches").addEventListener("click", () => decide("matches"));
  $("no-match").addEventListener("click", () => decide("does_not_match"));
  $("takeover").addEventListener("click", () => post("/api/takeover", {}));
  $("use-level-a").addEventListener("click", () => {
    if (!item) return;
    $("level-A").checked = true;
    secretField();
    $("secret").focus();
  });
  $("lang").addEventListener("click", () => {
    lang = lang === "ja" ? "en" : "ja";
    localStorage.setItem("honnin-lang", lang);
    applyLanguage();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    if (state && state.phase === "awaiting_decision") decide("cancel");
    else resetEntry();
  });
  applyLanguage();
  connect();
});
