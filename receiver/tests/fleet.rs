//! The fleet over real HTTP on loopback, against SQLite and PostgreSQL (see `common`): devices
//! listed with their last sync, app version, chain head and pending estimate; a lost device
//! revoked (its later batches and manifest refused with `device_revoked`, its records after the
//! cut-off flagged in the feed, those before not); a replacement re-enrolled with the lost
//! one's items; and every action in the audit log, whose chain verifies — and, edited,
//! shortened or reordered in the database, names the first broken entry.

#[macro_use]
mod common;
#[path = "fleet/enrolment_audit.rs"]
mod enrolment_audit;

use std::process::Command;

use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, DeviceKey, SoftwareSigner};
use honnin_core::store::Store;
use honnin_core::sync::{Backoff, SyncClient, SyncConfig, SyncError};
use honnin_core::verify::{SystemClock, SystemRandom};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_receiver::audit::{ChainBreak, all_entries, verify_chain};
use honnin_receiver::storage::ItemRow;
use honnin_receiver::{fleet, now};
use sha2::Digest as _;

use common::{Backend, Server, TestDatabase, get, post_enrol, receipt_key_of, start};

const BIN: &str = env!("CARGO_BIN_EXE_honnin-receiver");

/// A file or directory of the fixtures' test PKI.
fn pki(name: &str) -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki/").to_owned() + name
}

backend_tests!(
    a_lost_device_is_revoked_its_late_records_flagged_and_a_replacement_takes_its_items,
    an_edited_removed_or_reordered_audit_entry_is_named,
    the_operator_commands_list_revoke_reenrol_and_verify,
    revocation_and_replacement_refuse_what_makes_no_sense,
    a_revocation_that_cannot_be_logged_is_not_made,
);

fn enrol(server: &Server, device: &str, code: &str, signer: &SoftwareSigner) -> DeviceKey {
    let (status, answer) = post_enrol(server, device, signer, code);
    assert_eq!(status, 201, "{answer}");
    receipt_key_of(&answer)
}

fn client(server: &Server, device: &str, receipt_key: DeviceKey) -> SyncClient {
    let mut config = SyncConfig::new(&server.base, device);
    config.allow_loopback_http = true;
    config.app_version = Some("honnin-test/1.2.3".into());
    config.backoff = Backoff {
        base: std::time::Duration::from_millis(10),
        max: std::time::Duration::from_millis(50),
    };
    SyncClient::new(config, receipt_key)
}

fn append(store: &mut Store, n: usize) {
    for _ in 0..n {
        store
            .append(
                draft_of(&genuine_report(Level::B), AttributePolicy::ALL),
                &device_signer(),
            )
            .expect("appends");
    }
}

/// Waits until the receiver's clock (whole seconds) has moved past `t`.
fn wait_past(t: i64) {
    while now() <= t {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn item(item_id: &str, device: &str) -> ItemRow {
    ItemRow {
        item_id: item_id.into(),
        sender_id: "test-bank".into(),
        device_id: device.into(),
        addressee_name: "試験 花子".into(),
        addressee_address: None,
        min_level: "B".into(),
        attributes: "name".into(),
    }
}

fn a_lost_device_is_revoked_its_late_records_flagged_and_a_replacement_takes_its_items(
    backend: &Backend,
) {
    let server = start(backend);
    let storage = server.receiver.storage.as_ref();
    let token = fleet::add_sender(storage, "cli:test", "test-bank", now()).expect("sender");
    let code =
        fleet::issue_enrolment_code(storage, "cli:test", "handheld-01", &["test-bank"], now())
            .expect("code");
    let receipt_key = enrol(&server, "handheld-01", &code, &device_signer());
    storage
        .put_items(
            "test-bank",
            &[item("JP-ITEM-0002", "handheld-01")],
            now(),
            100,
        )
        .expect("registers");
    let sync = |store: &mut Store| {
        client(&server, "handheld-01", receipt_key.clone()).sync(
            store,
            &device_signer(),
            &SystemClock,
            &mut SystemRandom,
        )
    };

    // Two records before the loss, two after it (received before the operator heard of it).
    let mut store =
        Store::create(&server.dir.path().join("device.db"), &store_keys()).expect("store");
    append(&mut store, 2);
    assert_eq!(sync(&mut store).expect("syncs").synced, 2);
    let listed = fleet::devices(storage).expect("lists");
    assert_eq!(listed.len(), 1);
    let device = &listed[0];
    assert_eq!(device.device_id, "handheld-01");
    assert_eq!(device.app_version.as_deref(), Some("honnin-test/1.2.3"));
    assert_eq!(device.chain_head_seq, Some(2));
    assert!(device.last_sync_at.is_some_and(|t| (t - now()).abs() < 60));
    assert_eq!(device.pending_estimate, 1, "JP-ITEM-0002 is still out");
    assert!(device.revocation.is_none());

    wait_past(now());
    let cutoff = now();
    append(&mut store, 2);
    assert_eq!(sync(&mut store).expect("syncs").synced, 2);
    wait_past(cutoff);
    fleet::revoke(
        storage,
        "console",
        "handheld-01",
        "lost on route 12",
        cutoff,
        now(),
    )
    .expect("revokes");

    // The lost device's next batch and its manifest are refused, saying why.
    append(&mut store, 1);
    match sync(&mut store) {
        Err(SyncError::DeviceRevoked { message }) => {
            assert!(message.contains("lost on route 12"), "{message}")
        }
        other => panic!("a revoked device's batch was not refused as revoked: {other:?}"),
    }
    assert_eq!(
        store.info().expect("info").pending_sync,
        1,
        "kept on the device"
    );
    let manifest = client(&server, "handheld-01", receipt_key.clone()).fetch_manifest(
        &mut store,
        &device_signer(),
        &SystemClock,
        &mut SystemRandom,
    );
    assert!(
        matches!(manifest, Err(SyncError::DeviceRevoked { .. })),
        "{manifest:?}"
    );
    assert_eq!(server.receiver.storage.count_records().expect("count"), 4);

    // The feed flags the records received from the cut-off on, and only those.
    let (status, page) = get(&format!("{}/v1/feed", server.base), Some(&token));
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 4);
    let flags: Vec<bool> = entries
        .iter()
        .map(|e| e.get("device_revoked").is_some())
        .collect();
    assert_eq!(flags, [false, false, true, true], "{page}");
    assert_eq!(entries[2]["device_revoked"]["reason"], "lost on route 12");
    assert_eq!(entries[2]["device_revoked"]["cutoff"], cutoff);

    // The replacement gets the undelivered item and the sender enrolment, and its own key.
    let (code, moved) =
        fleet::reenrol(storage, "console", "handheld-01", "handheld-02", now()).expect("reenrols");
    assert_eq!(moved, 1);
    let replacement = SoftwareSigner::from_secret_bytes(&[0x31; 32]).expect("key");
    let receipt_key = enrol(&server, "handheld-02", &code, &replacement);
    let mut new_store =
        Store::create(&server.dir.path().join("new.db"), &store_keys()).expect("store");
    let manifest = client(&server, "handheld-02", receipt_key)
        .fetch_manifest(
            &mut new_store,
            &replacement,
            &SystemClock,
            &mut SystemRandom,
        )
        .expect("the replacement's manifest");
    let items: Vec<&str> = manifest
        .items()
        .iter()
        .map(|i| i.item_id.as_str())
        .collect();
    assert_eq!(items, ["JP-ITEM-0002"]);
    assert_eq!(
        storage.device_senders("handheld-02").expect("senders"),
        ["test-bank"]
    );
    let listed = fleet::devices(storage).expect("lists");
    assert_eq!(
        listed[0]
            .revocation
            .as_ref()
            .and_then(|r| r.replaced_by.as_deref()),
        Some("handheld-02")
    );

    // Every operator action is in the audit log, in order, and the chain verifies.
    let entries = all_entries(storage).expect("audit log");
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "add_sender",
            "enrol_code",
            "enrol_device",
            "revoke_device",
            "reenrol_device",
            "enrol_device"
        ]
    );
    assert!(
        !entries.iter().any(|e| e.detail.contains(&code)),
        "an enrolment code reached the audit log"
    );
    assert_eq!(verify_chain(&entries, None).expect("verifies").0, 6);
}

/// A raw statement on the test's database, as someone with access to it could run.
fn tamper(database: &TestDatabase, backend: &Backend, sql: &str) {
    match backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(&database.address).expect("opens");
            conn.execute_batch(sql).expect("tampers");
        }
        Backend::Postgres(_) => {
            let mut client = r2d2_postgres::postgres::Client::connect(
                &database.address,
                r2d2_postgres::postgres::NoTls,
            )
            .expect("connects");
            client.batch_execute(sql).expect("tampers");
        }
    }
}

fn an_edited_removed_or_reordered_audit_entry_is_named(backend: &Backend) {
    let cases = [
        (
            "UPDATE audit_log SET subject = 'handheld-99' WHERE seq = 2",
            2,
        ),
        ("UPDATE audit_log SET at = at + 1 WHERE seq = 3", 3),
        ("DELETE FROM audit_log WHERE seq = 2", 3),
        // Entries 2 and 3 swap places (each keeps its own number's slot).
        (
            "UPDATE audit_log SET seq = -2 WHERE seq = 2;
             UPDATE audit_log SET seq = 2 WHERE seq = 3;
             UPDATE audit_log SET seq = 3 WHERE seq = -2;",
            2,
        ),
    ];
    for (sql, first_broken) in cases {
        let server = start(backend);
        let storage = server.receiver.storage.as_ref();
        for device in ["handheld-01", "handheld-02", "handheld-03", "handheld-04"] {
            fleet::issue_enrolment_code(storage, "cli:test", device, &[], now()).expect("code");
        }
        let entries = all_entries(storage).expect("log");
        assert_eq!(verify_chain(&entries, None).expect("verifies").0, 4);
        tamper(&server.database, backend, sql);
        let entries = all_entries(storage).expect("log");
        match verify_chain(&entries, None) {
            Err(ChainBreak::Broken { seq, .. }) => assert_eq!(seq, first_broken, "{sql}"),
            other => panic!("{sql}: not caught: {other:?}"),
        }
    }
}

/// `honnin-receiver` with this test's database.
fn receiver_command(server: &Server, backend: &Backend, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(BIN);
    match backend {
        Backend::Sqlite => command.args(["--db", &server.database.address]),
        Backend::Postgres(_) => command.env("HONNIN_RECEIVER_DATABASE", &server.database.address),
    };
    command.env("USER", "operator-a");
    let output = command.args(args).output().expect("runs honnin-receiver");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn the_operator_commands_list_revoke_reenrol_and_verify(backend: &Backend) {
    let server = start(backend);
    let (ok, code, _) = receiver_command(
        &server,
        backend,
        &[
            "enrol-code",
            "--device",
            "handheld-01",
            "--sender",
            "test-bank",
        ],
    );
    assert!(ok);
    enrol(&server, "handheld-01", code.trim(), &device_signer());
    let (ok, out, err) = receiver_command(&server, backend, &["devices", "list"]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("handheld-01\t") && l.ends_with("active")),
        "{out}"
    );

    let (ok, out, err) = receiver_command(
        &server,
        backend,
        &[
            "devices",
            "revoke",
            "--device",
            "handheld-01",
            "--reason",
            "stolen",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("revoked handheld-01"), "{out}");
    let (ok, _, err) = receiver_command(
        &server,
        backend,
        &[
            "devices",
            "revoke",
            "--device",
            "handheld-01",
            "--reason",
            "again",
        ],
    );
    assert!(!ok && err.contains("revoked before"), "{err}");
    let (ok, code, err) = receiver_command(
        &server,
        backend,
        &[
            "devices",
            "reenrol",
            "--device",
            "handheld-01",
            "--replacement",
            "handheld-09",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(code.trim().len(), 20, "{code}");
    let (ok, out, _) = receiver_command(&server, backend, &["devices", "list", "--json"]);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(listed[0]["revocation"]["reason"], "stolen");
    assert_eq!(listed[0]["revocation"]["replaced_by"], "handheld-09");

    // Every other operator command writes one entry too, with what it changed and no secret.
    let secrets = |name: &str| server.dir.path().join(name).display().to_string();
    let next_pin = honnin_core::sync::SpkiPin::from_bytes([7; 32]).to_string();
    let mut printed = Vec::new();
    for args in [
        vec![
            "trust-load",
            "--anchors",
            &pki("anchors"),
            "--crl",
            &pki("jpki-auth-ca.crl.der"),
            "--mdoc-anchors",
            &pki("mdoc/anchors"),
        ],
        vec!["announce-tls-key", "--pin", &next_pin],
        vec!["announce-tls-key", "--clear"],
        vec!["rotate-receipt-key"],
        vec![
            "rotate-secrets-key",
            "--secrets-key",
            &secrets("new.key"),
            "--previous-secrets-key",
            &secrets("old.key"),
        ],
        vec!["operator-token"],
        vec!["add-sender", "--sender", "other-bank"],
    ] {
        let (ok, out, err) = receiver_command(&server, backend, &args);
        assert!(ok, "{args:?}: {err}");
        printed.push(out);
    }

    // Exported, verified from the file, and the head kept; then the log's end is cut off.
    let export = server.dir.path().join("audit.jsonl");
    let (ok, _, err) = receiver_command(
        &server,
        backend,
        &["audit", "export", "--out", export.to_str().expect("path")],
    );
    assert!(ok, "{err}");
    let head = err.trim().rsplit(' ').next().expect("head").to_owned();
    let text = std::fs::read_to_string(&export).expect("export");
    let actors: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["actor"].clone())
        .collect();
    // Each an operator's, but the device's own enrolment.
    let mut expected = vec!["cli:operator-a"; 10];
    expected.insert(1, "device:handheld-01");
    assert_eq!(actors, expected);
    let entries: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "enrol_code",
            "enrol_device",
            "revoke_device",
            "reenrol_device",
            "trust_load",
            "announce_tls_key",
            "clear_tls_key_announcements",
            "rotate_receipt_key",
            "rotate_secrets_key",
            "operator_token",
            "add_sender",
        ]
    );
    let detail = |i: usize| -> serde_json::Value {
        serde_json::from_str(entries[i]["detail"].as_str().expect("detail")).expect("JSON")
    };
    // The load: its serial, and each root and list by the SHA-256 of its DER.
    let loaded = detail(4);
    assert_eq!(loaded["serial"], 1, "{loaded}");
    let root = std::fs::read(pki("anchors/test-jpki-root.cert.der")).expect("reads");
    assert!(
        loaded["anchors"]
            .as_array()
            .expect("anchors")
            .iter()
            .any(|a| a["sha256"] == hex::encode(sha2::Sha256::digest(&root))),
        "{loaded}"
    );
    let crl = std::fs::read(pki("jpki-auth-ca.crl.der")).expect("reads");
    assert_eq!(
        loaded["lists"][0]["sha256"],
        hex::encode(sha2::Sha256::digest(&crl))
    );
    assert_eq!(loaded["mdoc_anchors"].as_array().map(Vec::len), Some(1));
    assert_eq!(detail(5)["pin"], next_pin);
    assert_eq!(detail(6)["withdrawn"], serde_json::json!([next_pin]));
    assert!(detail(7)["new_key_id"].is_string());
    let resealed = detail(8);
    for id in ["key_id", "previous_key_id"] {
        assert!(
            resealed[id].as_str().is_some_and(|k| k.len() == 16),
            "{resealed}"
        );
    }
    // Neither the new key files, the operator token nor the sender token are in the log.
    for secret in [
        std::fs::read_to_string(secrets("new.key")).expect("key"),
        std::fs::read_to_string(secrets("old.key")).expect("key"),
        printed[5].clone(),
        printed[6].clone(),
    ] {
        assert!(
            secret.trim().len() >= 32 && !text.contains(secret.trim()),
            "a secret reached the audit log"
        );
    }
    let (ok, out, _) = receiver_command(&server, backend, &["audit", "verify", "--head", &head]);
    assert!(ok && out.contains("11 entries"), "{out}");
    let edited = text.replacen("stolen", "broken screen", 1);
    std::fs::write(&export, edited).expect("edits the export");
    let (ok, _, err) = Command::new(BIN)
        .args(["audit", "verify", "--file", export.to_str().expect("path")])
        .output()
        .map(|o| {
            (
                o.status.success(),
                (),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .expect("runs");
    assert!(!ok && err.contains("audit entry 3"), "{err}");
    tamper(
        &server.database,
        backend,
        "DELETE FROM audit_log WHERE seq = 11",
    );
    let (ok, _, err) = receiver_command(&server, backend, &["audit", "verify", "--head", &head]);
    assert!(!ok && err.contains("is not in the audit log"), "{err}");
}

fn refused<T: std::fmt::Debug>(result: Result<T, fleet::FleetError>) -> String {
    result.expect_err("refused").to_string()
}

fn revocation_and_replacement_refuse_what_makes_no_sense(backend: &Backend) {
    let server = start(backend);
    let storage = server.receiver.storage.as_ref();
    let code = fleet::issue_enrolment_code(storage, "t", "handheld-01", &[], now()).expect("code");
    enrol(&server, "handheld-01", &code, &device_signer());
    let now = now();
    assert!(
        refused(fleet::revoke(storage, "t", "handheld-07", "lost", now, now))
            .contains("not enrolled")
    );
    assert!(refused(fleet::revoke(storage, "t", "handheld-01", " ", now, now)).contains("reason"));
    assert!(
        refused(fleet::revoke(
            storage,
            "t",
            "handheld-01",
            "lost\nx",
            now,
            now
        ))
        .contains("reason")
    );
    assert!(
        refused(fleet::revoke(
            storage,
            "t",
            "handheld-01",
            "lost",
            now + 60,
            now
        ))
        .contains("future")
    );
    assert!(
        refused(fleet::reenrol(
            storage,
            "t",
            "handheld-01",
            "handheld-02",
            now
        ))
        .contains("not revoked")
    );
    fleet::revoke(storage, "t", "handheld-01", "lost", now, now).expect("revokes");
    assert!(
        refused(fleet::reenrol(
            storage,
            "t",
            "handheld-01",
            "handheld-01",
            now
        ))
        .contains("choose a new device id")
    );
    fleet::reenrol(storage, "t", "handheld-01", "handheld-02", now).expect("reenrols");
    assert!(
        refused(fleet::reenrol(
            storage,
            "t",
            "handheld-01",
            "handheld-03",
            now
        ))
        .contains("replaced by")
    );
    // Refusals are not logged: only the code, the enrolment, the revocation and the
    // replacement are.
    let actions: Vec<String> = all_entries(storage)
        .expect("log")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "enrol_code",
            "enrol_device",
            "revoke_device",
            "reenrol_device"
        ]
    );
}

fn a_revocation_that_cannot_be_logged_is_not_made(backend: &Backend) {
    let server = start(backend);
    let storage = server.receiver.storage.as_ref();
    let code = fleet::issue_enrolment_code(storage, "t", "handheld-01", &[], now()).expect("code");
    enrol(&server, "handheld-01", &code, &device_signer());
    // The audit log cannot be written: the revocation is rolled back with its entry.
    tamper(&server.database, backend, "DROP TABLE audit_log");
    let now = now();
    assert!(fleet::revoke(storage, "t", "handheld-01", "lost", now, now).is_err());
    assert_eq!(storage.revocation("handheld-01").expect("reads"), None);
}
