//! A device's enrolment in the operator's audit log, over real HTTP on loopback against SQLite
//! and PostgreSQL: one `enrol_device` entry per enrolment (a first one by the device's own sync
//! client, and a replacement's after `reenrol_device`), naming the key's SHA-256, the client
//! address, the issue of the code used, the senders and the app version, never the code;
//! none for a refused attempt; and none without the enrolment, or the enrolment without it,
//! when the entry cannot be written.

use honnin_core::sync::{SyncClient, SyncConfig};
use honnin_e2e::records::device_signer;
use honnin_receiver::audit::{AuditEntry, all_entries, export, verify_chain};
use honnin_receiver::operator::secret_hash;
use honnin_receiver::{fleet, now};

use super::{enrol, receiver_command, tamper};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::common::{Backend, Server, post, post_enrol, start};

backend_tests!(
    an_enrolment_is_logged_once_with_its_key_address_code_issue_and_senders,
    an_enrolment_whose_entry_cannot_be_written_is_not_made,
);

/// The log's `enrol_device` entries.
fn enrolments(server: &Server) -> Vec<AuditEntry> {
    all_entries(server.receiver.storage.as_ref())
        .expect("log")
        .into_iter()
        .filter(|e| e.action == "enrol_device")
        .collect()
}

fn detail(entry: &AuditEntry) -> serde_json::Value {
    serde_json::from_str(&entry.detail).expect("the detail is JSON")
}

/// The time of the one entry with `action`.
fn time_of(server: &Server, action: &str) -> i64 {
    let entries = all_entries(server.receiver.storage.as_ref()).expect("log");
    let found: Vec<&AuditEntry> = entries.iter().filter(|e| e.action == action).collect();
    assert_eq!(found.len(), 1, "{action}: {found:?}");
    found[0].at
}

fn an_enrolment_is_logged_once_with_its_key_address_code_issue_and_senders(backend: &Backend) {
    let server = start(backend);
    let storage = server.receiver.storage.as_ref();
    fleet::add_sender(storage, "cli:test", "test-bank", now()).expect("sender");
    let code =
        fleet::issue_enrolment_code(storage, "cli:test", "handheld-01", &["test-bank"], now())
            .expect("code");
    // An expired code of the device, and a wrong one: refused, and not logged.
    storage
        .add_enrolment_code("handheld-01", &secret_hash("expired-code"), now() - 1)
        .expect("stores");
    for wrong in ["expired-code", "0123456789abcdef0123"] {
        let (status, answer) = post_enrol(&server, "handheld-01", &device_signer(), wrong);
        assert_eq!(status, 401, "{answer}");
    }
    assert!(enrolments(&server).is_empty());

    // The device enrols with its own sync client, which tells its app version.
    let before = now();
    let mut config = SyncConfig::new(&server.base, "handheld-01");
    config.allow_loopback_http = true;
    config.app_version = Some("honnin-test/4.5.6".into());
    SyncClient::enrol(&config, &code, &device_signer()).expect("enrols");
    let logged = enrolments(&server);
    assert_eq!(logged.len(), 1, "{logged:?}");
    let entry = &logged[0];
    assert_eq!(
        (entry.actor.as_str(), entry.subject.as_str()),
        ("device:handheld-01", "handheld-01")
    );
    assert!((before..=now()).contains(&entry.at), "{entry:?}");
    let enrolled = detail(entry);
    assert_eq!(
        enrolled,
        serde_json::json!({
            "device_key_sha256": device_signer().device_key().id_hex(),
            "client": "127.0.0.1",
            "code_issued_at": time_of(&server, "enrol_code"),
            "senders": ["test-bank"],
            "app_version": "honnin-test/4.5.6",
        })
    );

    // The used code again, for the device and for another id: refused, and not logged.
    for device in ["handheld-01", "handheld-09"] {
        let (status, answer) = post_enrol(&server, device, &device_signer(), &code);
        assert_eq!(status, 401, "{answer}");
    }
    assert_eq!(enrolments(&server).len(), 1);
    // Counted for the operator's metrics instead: the expired, wrong and two used codes.
    let counts = server.receiver.metrics.counts();
    assert_eq!((counts.enrolments, counts.enrolments_refused), (1, 4));

    // Lost and replaced: the replacement's enrolment is logged with the replacement's code
    // issue and the senders it took over. Its app version is not one (65 characters): left
    // out of the entry, and the enrolment, whose API does not take the header, not refused.
    let t = now();
    fleet::revoke(storage, "cli:test", "handheld-01", "lost", t, t).expect("revokes");
    let (replacement_code, _) =
        fleet::reenrol(storage, "cli:test", "handheld-01", "handheld-02", now()).expect("reenrols");
    let body = serde_json::json!({
        "device_id": "handheld-02",
        "public_key": BASE64.encode(device_signer().device_key().spki_der()),
        "code": replacement_code,
    });
    let (status, answer) = post(
        &format!("{}/v1/enrol", server.base),
        &[("x-honnin-app-version", "v".repeat(65))],
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 201, "{answer}");
    let logged = enrolments(&server);
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert_eq!(logged[1].subject, "handheld-02");
    let replaced = detail(&logged[1]);
    assert_eq!(
        replaced["code_issued_at"],
        time_of(&server, "reenrol_device")
    );
    assert_eq!(replaced["senders"], serde_json::json!(["test-bank"]));
    assert_eq!(replaced["app_version"], serde_json::Value::Null);

    // Neither code, nor what the receiver keeps of it, is in the log; the chain is unbroken.
    let entries = all_entries(storage).expect("log");
    let text = export(&entries);
    for secret in [&code, &replacement_code] {
        assert!(
            !text.contains(secret.as_str()) && !text.contains(&secret_hash(secret)),
            "an enrolment code reached the audit log"
        );
    }
    assert_eq!(verify_chain(&entries, None).expect("verifies").0, 6);
    let (ok, out, err) = receiver_command(&server, backend, &["audit", "verify"]);
    assert!(ok && out.contains("6 entries"), "{out}{err}");
}

/// Refuses to store `enrol_device` entries: a trigger on the log, in the test's database only.
const REFUSE_SQLITE: &str = "CREATE TRIGGER refuse_enrolments BEFORE INSERT ON audit_log
    WHEN NEW.action = 'enrol_device' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";
const REFUSE_POSTGRES: &str = "CREATE FUNCTION refuse_enrolments() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
        IF NEW.action = 'enrol_device' THEN RAISE EXCEPTION 'refused by the test'; END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_enrolments BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION refuse_enrolments();";

fn an_enrolment_whose_entry_cannot_be_written_is_not_made(backend: &Backend) {
    let server = start(backend);
    let storage = server.receiver.storage.as_ref();
    let code =
        fleet::issue_enrolment_code(storage, "cli:test", "handheld-01", &[], now()).expect("code");
    let (refuse, allow) = match backend {
        Backend::Sqlite => (REFUSE_SQLITE, "DROP TRIGGER refuse_enrolments"),
        Backend::Postgres(_) => (
            REFUSE_POSTGRES,
            "DROP TRIGGER refuse_enrolments ON audit_log",
        ),
    };
    tamper(&server.database, backend, refuse);
    let (status, answer) = post_enrol(&server, "handheld-01", &device_signer(), &code);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (503, Some("storage_unavailable")),
        "{answer}"
    );
    assert_eq!(storage.device_key("handheld-01").expect("reads"), None);
    assert!(fleet::devices(storage).expect("lists").is_empty());
    assert!(enrolments(&server).is_empty());

    // The log writable again: the same code still enrols (it was not consumed), and logs.
    tamper(&server.database, backend, allow);
    enrol(&server, "handheld-01", &code, &device_signer());
    assert_eq!(enrolments(&server).len(), 1);
    let entries = all_entries(storage).expect("log");
    assert!(verify_chain(&entries, None).is_ok());
}
