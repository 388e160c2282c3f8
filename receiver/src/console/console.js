// The operator console: the token stays in this tab's session storage and goes out as a
// header; everything shown is set as text, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);
const tokenKey = "honnin-operator-token";

function token() {
  return sessionStorage.getItem(tokenKey);
}

async function api(method, path, body) {
  const options = { method, headers: { authorization: "Bearer " + token() } };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = answer.error ? answer.error.message : "HTTP " + response.status;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return answer;
}

function time(seconds) {
  return seconds == null ? "never" : new Date(seconds * 1000).toLocaleString();
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "-" : String(text);
  row.appendChild(td);
  return td;
}

function fill(tableId, rows, build) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren();
  if (rows.length === 0) {
    const row = document.createElement("tr");
    const td = cell(row, "none");
    td.colSpan = $(tableId).querySelectorAll("th").length;
    td.className = "empty";
    body.appendChild(row);
  }
  for (const item of rows) {
    const row = document.createElement("tr");
    build(row, item);
    body.appendChild(row);
  }
}

function status(message, ok) {
  $("status").textContent = message;
  $("status").className = ok ? "ok" : "error";
}

function showSecret(text) {
  $("secret").textContent = text;
  $("secret").hidden = false;
}

async function loadOverview() {
  const o = await api("GET", "/api/overview");
  const figures = [
    ["Records stored", o.database.records],
    ["Active devices", o.database.devices_active],
    ["Revoked devices", o.database.devices_revoked],
    ["Batches accepted", o.instance.batches_accepted],
    ["Records accepted", o.instance.records_accepted],
    ["Records rejected", o.instance.records_rejected],
  ];
  const list = $("overview");
  list.replaceChildren();
  for (const [name, value] of figures) {
    const box = document.createElement("div");
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    box.append(dt, dd);
    list.appendChild(box);
  }
  fill("senders", o.database.senders, (row, s) => {
    cell(row, s.sender_id);
    cell(row, s.feed_records);
    cell(row, s.webhook_lag == null ? "no webhook" : s.webhook_lag);
    cell(row, s.webhook_lag == null ? "-" : s.webhook_failures);
  });
  fill("refused", Object.entries(o.instance.refused), (row, [code, count]) => {
    cell(row, code);
    cell(row, count);
  });
  $("receipt-key-id").textContent = o.receipt_key_id;
  showTrust(o.trust);
  // This instance's own re-verification: a newer load it could not use keeps the one before.
  const failure = $("receiver-trust-failure");
  failure.textContent = o.receiver_trust.failure || "";
  failure.hidden = !o.receiver_trust.failure;
}

// What a list's state means to the operator.
const listStates = {
  current: "current",
  due_soon: "due soon: load a fresh list",
  stale: "STALE: devices refuse it",
};

function left(seconds) {
  if (seconds == null) return "-";
  const hours = Math.floor(Math.abs(seconds) / 3600);
  const text = hours >= 48 ? Math.floor(hours / 24) + " days" : hours + " h";
  return seconds < 0 ? text + " overdue" : text;
}

function showTrust(trust) {
  const warning = $("crl-warning");
  if (!trust) {
    $("trust-summary").textContent =
      "No trust bundle loaded (honnin-receiver trust-load): devices check revocation only at the receiver.";
    warning.hidden = true;
    fill("crls", [], () => {});
    return;
  }
  $("trust-summary").textContent =
    "Bundle " + trust.serial + ", loaded " + time(trust.loaded_at) + ": " + trust.anchors +
    " anchors, " + trust.mdoc_anchors + " phone issuer anchors, " + trust.lists.length +
    " revocation lists (warning " + Math.round(trust.warning_margin_seconds / 3600) +
    " h before a next update).";
  const due = trust.lists.filter((l) => l.state !== "current").map((l) => l.label);
  warning.textContent = due.length
    ? "Revocation lists past or near their next update: " + due.join(", ") +
      ". Load fresh lists (honnin-receiver trust-load) before devices refuse them."
    : "";
  warning.hidden = due.length === 0;
  fill("crls", trust.lists, (row, l) => {
    cell(row, l.label);
    cell(row, time(l.this_update));
    cell(row, time(l.next_update));
    cell(row, left(l.seconds_left));
    cell(row, listStates[l.state] || l.state);
    row.className = l.state;
  });
}

function openForm(form, device) {
  $("revoke-form").hidden = true;
  $("reenrol-form").hidden = true;
  $(form + "-device").textContent = device;
  $(form + "-form").dataset.device = device;
  $(form + "-form").hidden = false;
}

async function loadDevices() {
  const devices = await api("GET", "/api/devices");
  fill("devices", devices, (row, d) => {
    row.dataset.device = d.device_id;
    const r = d.revocation;
    if (r) row.className = "revoked";
    cell(row, d.device_id);
    cell(row, time(d.last_sync_at));
    cell(row, d.pending_estimate);
    cell(row, d.chain_head_seq == null ? "-" : d.chain_head_seq + " · " + d.chain_head_hash.slice(0, 12));
    cell(row, d.app_version);
    cell(row, r ? "revoked " + time(r.revoked_at) + " (" + r.reason + ")" +
      (r.replaced_by ? ", replaced by " + r.replaced_by : "") : "active");
    const actions = cell(row, "");
    const button = document.createElement("button");
    if (!r) {
      button.textContent = "Revoke";
      button.className = "revoke";
      button.addEventListener("click", () => openForm("revoke", d.device_id));
      actions.appendChild(button);
    } else if (!r.replaced_by) {
      button.textContent = "Re-enrol replacement";
      button.className = "reenrol";
      button.addEventListener("click", () => openForm("reenrol", d.device_id));
      actions.appendChild(button);
    }
  });
}

async function loadAudit() {
  const log = await api("GET", "/api/audit");
  $("audit-chain").textContent = log.chain.intact
    ? "Chain intact: " + log.chain.entries + " entries, head " + log.chain.head
    : "Chain BROKEN: " + log.chain.problem;
  $("audit-chain").className = log.chain.intact ? "ok" : "error";
  fill("audit", log.entries.slice().reverse(), (row, e) => {
    cell(row, e.seq);
    cell(row, time(e.at));
    cell(row, e.actor);
    cell(row, e.action);
    cell(row, e.subject);
    cell(row, e.detail);
  });
}

async function refresh() {
  try {
    await Promise.all([loadOverview(), loadDevices(), loadAudit()]);
  } catch (error) {
    if (error.status === 401) {
      logout("The token was refused: " + error.message);
    } else {
      status(error.message, false);
    }
  }
}

async function act(work, done) {
  try {
    const answer = await work();
    status(done(answer), true);
  } catch (error) {
    status(error.message, false);
  }
  await refresh();
}

function logout(message) {
  sessionStorage.removeItem(tokenKey);
  $("console").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

async function login(value) {
  sessionStorage.setItem(tokenKey, value);
  try {
    await api("GET", "/api/overview");
  } catch (error) {
    logout(error.status === 401 ? "That is not the operator token." : error.message);
    return;
  }
  $("login").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = false;
  await refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    login($("token").value.trim());
    $("token").value = "";
  });
  $("logout").addEventListener("click", () => logout());
  $("revoke-cancel").addEventListener("click", () => ($("revoke-form").hidden = true));
  $("reenrol-cancel").addEventListener("click", () => ($("reenrol-form").hidden = true));
  $("revoke-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const device = $("revoke-form").dataset.device;
    const local = $("revoke-cutoff").value;
    const body = { reason: $("revoke-reason").value };
    if (local) body.cutoff = Math.floor(new Date(local).getTime() / 1000);
    $("revoke-form").hidden = true;
    act(() => api("POST", "/api/devices/" + encodeURIComponent(device) + "/revoke", body),
      (r) => "Revoked " + device + ": its records from " + time(r.cutoff) + " on are flagged.");
  });
  $("reenrol-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const device = $("reenrol-form").dataset.device;
    const body = { replacement: $("reenrol-replacement").value.trim() };
    $("reenrol-form").hidden = true;
    act(async () => {
      const r = await api("POST", "/api/devices/" + encodeURIComponent(device) + "/reenrol", body);
      showSecret("Enrolment code for " + r.replacement + " (shown once, valid 24 h): " + r.enrolment_code);
      return r;
    }, (r) => r.replacement + " replaces " + device + "; " + r.items_moved + " items moved.");
  });
  $("sender-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { sender_id: $("sender-id").value.trim() };
    act(async () => {
      const r = await api("POST", "/api/senders", body);
      showSecret("API token of " + r.sender_id + " (shown once): " + r.token);
      return r;
    }, (r) => "Sender " + r.sender_id + " added.");
  });
  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const senders = $("code-senders").value.split(",").map((s) => s.trim()).filter(Boolean);
    const body = { device_id: $("code-device").value.trim(), senders };
    act(async () => {
      const r = await api("POST", "/api/enrol-codes", body);
      showSecret("Enrolment code for " + r.device_id + " (shown once, valid 24 h): " + r.enrolment_code);
      return r;
    }, (r) => "Enrolment code issued for " + r.device_id + ".");
  });
  $("rotate-receipt-key").addEventListener("click", () => {
    act(() => api("POST", "/api/receipt-key/rotate"),
      (r) => "Receipt key rotated; signing with " + r.receipt_key_id + ".");
  });
  if (token()) login(token());
});
