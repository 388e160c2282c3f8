//! The receiver's own re-verification uses what the operator loads (`trust-load`), together
//! with `serve`'s flags, from the next batch on and on every instance of the database: a list
//! loaded after `serve` started revokes a card `serve` knew no list for, a fresher list beats
//! an older or stale start-up one, phone issuer anchors loaded only by `trust-load` verify a
//! level-M record, a second instance follows a load made through the first, and a damaged
//! stored bundle never loosens anything. Real receivers over TLS on loopback, SQLite and
//! PostgreSQL; the records come from real door checks of the software cards on a device that
//! held no list (so the device's word is "revocation not checked").

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::check::{Level, Verifier};
use honnin_core::reader::CardSession;
use honnin_core::record::{AttributePolicy, ChainLink, SignedRecord};
use honnin_e2e::records::{device_signer, draft_of, genuine_report};
use honnin_e2e::{CountingRandom, addressee, anchors, auth_pin, clock, request};
use honnin_receiver::trust_bundle::{load_with_mdoc, read_mdoc_anchors, read_trust_files};
use honnin_receiver::{Receiver, now, operator};
use honnin_simcard::Profile;
use honnin_simcard::generate::pki::serial;
use honnin_simcard::generate::x509::{fixture_ca_list, utc};

use crate::common::{Backend, signed_batch};
use crate::hostile_support::{Server, call, start};

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/pki");

/// A device's chain of records and where each is sent.
struct Device {
    previous: [u8; 32],
    seq: u64,
}

impl Device {
    fn new() -> Self {
        Self {
            previous: [0; 32],
            seq: 0,
        }
    }

    /// The next record of the device: a level-B check of the card `profile` at the fixtures'
    /// check time (2026-11-25) on a device that holds no revocation list.
    fn card(&mut self, profile: Profile) -> SignedRecord {
        self.seq += 1;
        let report = Verifier::new(anchors()).check_level_b(
            &mut CardSession::new(profile.build().expect("card")),
            &request(Some(addressee())),
            &auth_pin(),
            &clock(),
            &mut CountingRandom(self.seq as u8),
        );
        self.sign(&report)
    }

    /// The next record of the device: a genuine phone's level-M check.
    fn phone(&mut self) -> SignedRecord {
        self.seq += 1;
        self.sign(&genuine_report(Level::M))
    }

    fn sign(&mut self, report: &honnin_core::check::DoorCheckReport) -> SignedRecord {
        let signer = device_signer();
        let record = SignedRecord::sign(
            draft_of(report, AttributePolicy::default()),
            &[self.seq as u8; 16],
            ChainLink {
                seq: self.seq,
                prev_hash: self.previous,
            },
            &signer,
            signer.device_key(),
        )
        .expect("signs");
        self.previous = record.hash();
        record
    }
}

/// A receiver with `serve`'s own trust `verifier`, `handheld-01` enrolled for `test-bank`:
/// the server and the bank's feed token.
fn serve(backend: &Backend, verifier: Verifier) -> (Server, String) {
    let server = start(backend, |receiver| receiver.verifier = verifier.into());
    let storage = server.receiver.storage.as_ref();
    let code = operator::issue_enrolment_code(storage, "handheld-01", &["test-bank"], now())
        .expect("code");
    let signer = device_signer();
    let body = serde_json::json!({
        "device_id": "handheld-01",
        "public_key": BASE64.encode(signer.device_key().spki_der()),
        "code": code,
    });
    let (status, answer) = call(&server, "POST", "/v1/enrol", &[], Some(body));
    assert_eq!(status, 201, "{answer}");
    let token = operator::add_sender(storage, "test-bank").expect("sender");
    (server, token)
}

/// Sends `record` to the instance at `base` and answers the verification the bank's feed
/// serves for it.
fn sync(server: &Server, base: &str, token: &str, record: &SignedRecord) -> serde_json::Value {
    let (headers, body) = signed_batch(std::slice::from_ref(record));
    let mut request = server
        .agent
        .post(format!("{base}/v1/batches"))
        .content_type("application/json");
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    let mut answer = request.send(&body[..]).expect("answered");
    let text = answer.body_mut().read_to_string().expect("body");
    assert_eq!(answer.status().as_u16(), 200, "{text}");
    let (status, page) = call(
        server,
        "GET",
        "/v1/feed?after=0",
        &[("authorization", format!("Bearer {token}"))],
        None,
    );
    assert_eq!(status, 200, "{page}");
    let id = record.body().record_id();
    page["entries"]
        .as_array()
        .and_then(|entries| {
            entries
                .iter()
                .find(|e| e["verification"]["record_id"] == id)
        })
        .unwrap_or_else(|| panic!("{id} not in the bank's feed"))["verification"]
        .clone()
}

/// The revocation check of `verification`: (state, reason, detail).
fn revocation(verification: &serde_json::Value) -> (String, String, String) {
    let check = verification["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == "revocation"))
        .unwrap_or_else(|| panic!("no revocation check: {verification}"));
    let text = |key: &str| check[key].as_str().unwrap_or_default().to_owned();
    (text("state"), text("reason"), text("detail"))
}

/// A list of the test authentication CA issued on `this_update`, next update `next_update`,
/// revoking each `(serial, date)`, written to `dir/name`.
fn auth_list(
    dir: &Path,
    name: &str,
    (this_update, next_update): ((u16, u8, u8), (u16, u8, u8)),
    revoked: &[(u32, (u16, u8, u8))],
) -> PathBuf {
    let day = |(y, m, d): (u16, u8, u8)| utc(y, m, d, 0, 0, 0);
    let revoked: Vec<(u32, _)> = revoked.iter().map(|&(s, at)| (s, day(at))).collect();
    let der = fixture_ca_list(
        "jpki-auth-ca",
        7,
        (day(this_update), day(next_update)),
        &revoked,
    )
    .expect("list");
    let path = dir.join(name);
    std::fs::write(&path, der).expect("writes");
    path
}

/// `trust-load --anchors fixtures/pki/anchors --crl <lists>` (and `--mdoc-anchors` when
/// `phones`) into `receiver`'s database: the serial.
fn trust_load(receiver: &Receiver, lists: &[PathBuf], phones: bool) -> u64 {
    let (anchors, lists) = read_trust_files(&Path::new(PKI).join("anchors"), lists).expect("reads");
    let phones = if phones {
        read_mdoc_anchors(&Path::new(PKI).join("mdoc/anchors")).expect("IACA")
    } else {
        Vec::new()
    };
    load_with_mdoc(
        receiver.storage.as_ref(),
        "t",
        anchors,
        lists,
        phones,
        now(),
    )
    .expect("loads")
}

fn fixture_list() -> PathBuf {
    Path::new(PKI).join("jpki-auth-ca.crl.der")
}

/// (a) and (e): `serve` without `--crl`; a list loaded afterwards revokes the revoked card's
/// next record, names the bundle, and still passes a card it does not list.
pub fn a_list_loaded_after_serve_started_revokes_the_next_records(backend: &Backend) {
    let (server, bank) = serve(backend, Verifier::new(anchors()));
    let mut device = Device::new();
    let before = sync(&server, &server.base, &bank, &device.card(Profile::Revoked));
    assert_eq!(revocation(&before).1, "no_revocation_list", "{before:#}");

    assert_eq!(trust_load(&server.receiver, &[fixture_list()], false), 1);
    let after = sync(&server, &server.base, &bank, &device.card(Profile::Revoked));
    let (state, reason, detail) = revocation(&after);
    assert_eq!((state.as_str(), reason.as_str()), ("failed", "revoked"));
    assert!(detail.contains("from trust bundle 1 loaded"), "{detail}");
    assert!(detail.contains("issued 2026-11-01"), "which list: {detail}");
    assert_eq!(after["outcome"], "failed", "{after:#}");

    // A card the loaded list does not name still verifies, its check naming the list.
    let genuine = sync(&server, &server.base, &bank, &device.card(Profile::Genuine));
    let (state, reason, detail) = revocation(&genuine);
    assert_eq!((state.as_str(), reason.as_str()), ("passed", "not_revoked"));
    assert!(detail.contains("from trust bundle 1"), "{detail}");
    assert_eq!(genuine["outcome"], "verified", "{genuine:#}");
    assert_eq!(server.receiver.verifier.in_use().serial, Some(1));
}

/// (b): a fresher list loaded after `serve` started with an older one decides: it revokes what
/// the older one did not list yet, and replaces a start-up list gone stale. A list issued after
/// the check time decides by the revocation date it gives.
pub fn a_fresher_list_beats_the_one_serve_started_with(backend: &Backend) {
    let scratch = tempfile::tempdir().expect("temp dir");
    let older = auth_list(
        scratch.path(),
        "older.crl",
        ((2026, 10, 15), (2026, 12, 31)),
        &[],
    );
    let stale = auth_list(
        scratch.path(),
        "stale.crl",
        ((2026, 10, 15), (2026, 11, 20)),
        &[],
    );
    let with = |path: &Path| {
        let list = std::fs::read(path).expect("reads");
        Verifier::new(anchors()).with_revocation_lists(vec![
            honnin_core::verify::x509::RevocationList::from_der(&list).expect("parses"),
        ])
    };

    // Current but older: the revoked card passes under it (the hole), until the fresh list.
    let (server, bank) = serve(backend, with(&older));
    let mut device = Device::new();
    let before = sync(&server, &server.base, &bank, &device.card(Profile::Revoked));
    assert_eq!(revocation(&before).0, "passed", "{before:#}");
    trust_load(&server.receiver, &[fixture_list()], false);
    let after = sync(&server, &server.base, &bank, &device.card(Profile::Revoked));
    assert_eq!(revocation(&after).1, "revoked", "{after:#}");
    drop(server);

    // Stale at the check time: inconclusive, until a current list is loaded.
    let (server, bank) = serve(backend, with(&stale));
    let mut device = Device::new();
    let before = sync(&server, &server.base, &bank, &device.card(Profile::Genuine));
    assert_eq!(
        revocation(&before).1,
        "revocation_list_invalid",
        "{before:#}"
    );
    assert_ne!(before["outcome"], "verified");
    trust_load(&server.receiver, &[fixture_list()], false);
    let after = sync(&server, &server.base, &bank, &device.card(Profile::Genuine));
    assert_eq!(revocation(&after).1, "not_revoked", "{after:#}");
    assert_eq!(after["outcome"], "verified", "{after:#}");

    // Issued after the check (2026-12-01): the genuine card revoked on 2026-11-30, after its
    // check, still passes and says so; revoked on 2026-11-20, before it, fails.
    for (revoked_on, expected) in [((2026, 11, 30), "passed"), ((2026, 11, 20), "failed")] {
        let later = auth_list(
            scratch.path(),
            "later.crl",
            ((2026, 12, 1), (2027, 1, 31)),
            &[(serial::CARD_AUTH, revoked_on)],
        );
        trust_load(&server.receiver, &[later], false);
        let verification = sync(&server, &server.base, &bank, &device.card(Profile::Genuine));
        let (state, _, detail) = revocation(&verification);
        assert_eq!(state, expected, "{verification:#}");
        assert!(detail.contains("issued after the check"), "{detail}");
    }
}

/// (c): phone issuer anchors loaded only through `trust-load` verify a level-M record.
pub fn phone_anchors_loaded_by_trust_load_verify_a_phone_record(backend: &Backend) {
    let (server, bank) = serve(backend, honnin_e2e::verifier_with_crl());
    let mut device = Device::new();
    let before = sync(&server, &server.base, &bank, &device.phone());
    assert_eq!(before["outcome"], "unverified", "{before:#}");
    trust_load(&server.receiver, &[fixture_list()], true);
    let after = sync(&server, &server.base, &bank, &device.phone());
    assert_eq!(after["outcome"], "verified", "{after:#}");
    // A load without them takes them away again (serve has none of its own).
    trust_load(&server.receiver, &[fixture_list()], false);
    let without = sync(&server, &server.base, &bank, &device.phone());
    assert_eq!(without["outcome"], "unverified", "{without:#}");
}

/// (d): a second instance on the same database follows a load made through the first, and
/// both follow one made by the `honnin-receiver trust-load` command, with no restart.
pub fn a_second_instance_follows_a_load_made_through_the_first(backend: &Backend) {
    let (server, bank) = serve(backend, Verifier::new(anchors()));
    let (second, other) = server.another_instance(Verifier::new(anchors()));
    let mut device = Device::new();
    let before = sync(&server, &second, &bank, &device.card(Profile::Revoked));
    assert_eq!(revocation(&before).1, "no_revocation_list", "{before:#}");
    trust_load(&server.receiver, &[fixture_list()], false);
    let after = sync(&server, &second, &bank, &device.card(Profile::Revoked));
    assert_eq!(revocation(&after).1, "revoked", "{after:#}");
    assert_eq!(other.verifier.in_use().serial, Some(1));

    // The operator's command, run as a separate process on the same database: a load with no
    // list leaves the revoked card to the device's word ("not checked") on both instances.
    let (flag, address) = server.database_flag();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_honnin-receiver"))
        .args([flag, address, "trust-load", "--anchors"])
        .arg(Path::new(PKI).join("anchors"))
        .output()
        .expect("runs honnin-receiver");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(printed.starts_with("trust bundle 2:"), "{printed}");
    // The operator is told which CA's list the load left out.
    let warned = String::from_utf8_lossy(&output.stderr);
    assert!(
        warned.contains("warning: the bundle before had a revocation list of")
            && warned.contains("JPKI for user authentication"),
        "{warned}"
    );
    for base in [server.base.as_str(), second.as_str()] {
        let verification = sync(&server, base, &bank, &device.card(Profile::Revoked));
        assert_eq!(
            revocation(&verification).1,
            "no_revocation_list",
            "{verification:#}"
        );
    }
    assert_eq!(other.verifier.in_use().serial, Some(2));
    assert_eq!(server.receiver.verifier.in_use().serial, Some(2));

    // The list loaded again: no warning, and both instances revoke the card again.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_honnin-receiver"))
        .args([flag, address, "trust-load", "--anchors"])
        .arg(Path::new(PKI).join("anchors"))
        .arg("--crl")
        .arg(fixture_list())
        .output()
        .expect("runs honnin-receiver");
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    for base in [server.base.as_str(), second.as_str()] {
        let verification = sync(&server, base, &bank, &device.card(Profile::Revoked));
        assert_eq!(revocation(&verification).1, "revoked", "{verification:#}");
    }
}

/// (e): a damaged stored bundle (not JSON, or a certificate that does not parse) does not stop
/// ingest and loosens nothing: the last good trust stays in use, and the failure is shown.
pub fn a_damaged_stored_bundle_keeps_the_last_good_trust(backend: &Backend) {
    let (server, bank) = serve(backend, Verifier::new(anchors()));
    let storage = server.receiver.storage.as_ref();
    let mut device = Device::new();
    trust_load(&server.receiver, &[fixture_list()], false);
    let first = sync(&server, &server.base, &bank, &device.card(Profile::Revoked));
    assert_eq!(revocation(&first).1, "revoked", "{first:#}");
    let good = storage
        .meta("trust_bundle.v1")
        .expect("reads")
        .expect("kept");
    // Overwrites a settings entry the way a damaged database would, whatever it holds.
    let overwrite = |key: &str, bytes: &[u8]| {
        let kept = storage.meta(key).expect("reads").expect("kept");
        assert!(storage.replace_meta(key, &kept, bytes).expect("writes"));
    };
    let key = honnin_receiver::trust_bundle::SERIAL_KEY;
    let mut bad_certificate: serde_json::Value = serde_json::from_slice(&good).expect("json");
    bad_certificate["serial"] = 3.into();
    bad_certificate["anchors"][0]["certificate"] = BASE64.encode(b"not a certificate").into();
    for (serial, damaged) in [
        (b"2".to_vec(), b"{not json".to_vec()),
        (b"3".to_vec(), bad_certificate.to_string().into_bytes()),
    ] {
        overwrite("trust_bundle.v1", &damaged);
        overwrite(key, &serial);
        let verification = sync(&server, &server.base, &bank, &device.card(Profile::Revoked));
        assert_eq!(revocation(&verification).1, "revoked", "{verification:#}");
        let in_use = server.receiver.verifier.in_use();
        assert_eq!(in_use.serial, Some(1));
        assert!(
            in_use
                .failure
                .as_deref()
                .is_some_and(|f| f.contains("trust bundle 1")),
            "{in_use:?}"
        );
        let text = honnin_receiver::receiver_trust::exposition(&in_use);
        assert!(text.contains("honnin_receiver_trust_failed 1"), "{text}");
    }
    // The operator repairs it by loading again, even over unreadable bytes: the new serial is
    // above the published one, so devices take it, and ingest uses it.
    assert_eq!(storage.meta(key).expect("reads"), Some(b"3".to_vec()));
    overwrite("trust_bundle.v1", b"{not json");
    assert_eq!(trust_load(&server.receiver, &[fixture_list()], false), 4);
    let verification = sync(&server, &server.base, &bank, &device.card(Profile::Revoked));
    assert_eq!(revocation(&verification).1, "revoked", "{verification:#}");
    let in_use = server.receiver.verifier.in_use();
    assert_eq!((in_use.serial, in_use.failure.as_deref()), (Some(4), None));
    let repair = honnin_receiver::audit::all_entries(storage)
        .expect("log")
        .into_iter()
        .rev()
        .find(|entry| entry.action == "trust_load")
        .expect("logged");
    assert!(
        repair.detail.contains("replaced_damaged_bundle"),
        "{repair:?}"
    );
    // Without a published serial, a load cannot know which number devices would take: it
    // refuses, saying what to do, and changes nothing.
    assert!(storage.replace_meta(key, b"4", b"").expect("writes"));
    overwrite("trust_bundle.v1", b"{not json");
    let (anchors, lists) =
        read_trust_files(&Path::new(PKI).join("anchors"), &[fixture_list()]).expect("reads");
    let refused = load_with_mdoc(storage, "t", anchors, lists, Vec::new(), now())
        .expect_err("no serial to exceed");
    assert!(refused.to_string().contains("backup"), "{refused}");
    assert_eq!(
        storage.meta("trust_bundle.v1").expect("reads").as_deref(),
        Some(&b"{not json"[..])
    );
}
