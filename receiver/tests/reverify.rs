//! The receiver re-verifies, never trusts: records a compromised handheld could make (its device
//! signature valid, its contents chosen) sent over real TLS on loopback to a real receiver,
//! against SQLite and PostgreSQL. None of them is `verified`, marks its item delivered, or reaches
//! a feed its device has no business in (issue 17, defects 1, 2, 4 and 5).

#[macro_use]
mod common;
mod hostile_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::check::{Level, Verifier};
use honnin_core::record::{AttributePolicy, ChainLink, SignedRecord};
use honnin_e2e::records::{device_signer, draft_of, edited, genuine_report, sign_body};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::{now, operator};

use common::{Backend, signed_batch, signed_headers};
use hostile_support::Server;

backend_tests!(
    a_genuine_record_verifies_and_delivers_its_item,
    a_record_stripped_of_its_card_evidence_is_unverified_and_delivers_nothing,
    a_lowercase_level_is_refused_at_ingest,
    a_record_backdated_before_the_devices_previous_record_fails,
    a_device_cannot_choose_the_sender_whose_feed_gets_its_records,
    level_c_attributes_that_differ_from_the_certificate_fail,
    a_phone_record_verifies_only_under_the_phone_issuers_anchors,
);

/// A receiver over TLS (self-signed for loopback, `hostile_support`) with the device
/// `handheld-01` enrolled for `enrolled_for`, and an agent that trusts exactly that certificate.
fn start(backend: &Backend, enrolled_for: &[&str]) -> Server {
    start_with(backend, enrolled_for, verifier_with_crl())
}

/// [`start`] with the receiver re-verifying under `verifier`.
fn start_with(backend: &Backend, enrolled_for: &[&str], verifier: Verifier) -> Server {
    let server = hostile_support::start(backend, |receiver| receiver.verifier = verifier.into());
    let storage = server.receiver.storage.as_ref();
    let code =
        operator::issue_enrolment_code(storage, "handheld-01", enrolled_for, now()).expect("code");
    let signer = device_signer();
    let (status, answer) = server.call(
        "POST",
        "/v1/enrol",
        &[],
        Some(
            serde_json::json!({
                "device_id": "handheld-01",
                "public_key": BASE64.encode(signer.device_key().spki_der()),
                "code": code,
            })
            .to_string()
            .into_bytes(),
        ),
    );
    assert_eq!(status, 201, "{answer}");
    server
}

/// The API calls of these tests, on the receiver of `hostile_support`.
trait Api {
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> (u16, serde_json::Value);
    fn send(&self, records: &[SignedRecord]) -> Vec<serde_json::Value>;
    fn sender(&self, sender: &str) -> String;
    fn feed(&self, token: &str) -> Vec<serde_json::Value>;
    fn register(&self, token: &str, min_level: &str, attributes: &[&str]);
    fn delivery(&self, token: &str) -> serde_json::Value;
}

impl Api for Server {
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.base);
        let result = match (method, body) {
            ("GET", None) => {
                let mut request = self.agent.get(&url);
                for (name, value) in headers {
                    request = request.header(*name, value);
                }
                request.call()
            }
            (method, Some(body)) => {
                let mut request = match method {
                    "POST" => self.agent.post(&url),
                    _ => self.agent.put(&url),
                }
                .content_type("application/json");
                for (name, value) in headers {
                    request = request.header(*name, value);
                }
                request.send(&body[..])
            }
            _ => panic!("unsupported {method}"),
        };
        let mut response = result.expect("an answer over TLS");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("body");
        (status, serde_json::from_str(&text).unwrap_or_default())
    }

    /// The per-record results of one batch from `handheld-01`.
    fn send(&self, records: &[SignedRecord]) -> Vec<serde_json::Value> {
        let (headers, body) = signed_batch(records);
        let headers: Vec<(&str, String)> = headers.into_iter().collect();
        let (status, answer) = self.call("POST", "/v1/batches", &headers, Some(body));
        assert_eq!(status, 200, "{answer}");
        answer["results"].as_array().expect("results").clone()
    }

    fn sender(&self, sender: &str) -> String {
        operator::add_sender(self.receiver.storage.as_ref(), sender).expect("sender")
    }

    fn feed(&self, token: &str) -> Vec<serde_json::Value> {
        let auth = [("authorization", format!("Bearer {token}"))];
        let (status, page) = self.call("GET", "/v1/feed?after=0", &auth, None);
        assert_eq!(status, 200, "{page}");
        page["entries"].as_array().expect("entries").clone()
    }

    /// Registers JP-ITEM-0001 for `handheld-01` at `min_level`, keeping `attributes`.
    fn register(&self, token: &str, min_level: &str, attributes: &[&str]) {
        let body = serde_json::json!({"items": [{
            "item_id": "JP-ITEM-0001",
            "device_id": "handheld-01",
            "addressee_name": "試験 花子",
            "min_level": min_level,
            "attributes": attributes,
        }]});
        let auth = [("authorization", format!("Bearer {token}"))];
        let (status, answer) = self.call(
            "PUT",
            "/v1/items",
            &auth,
            Some(body.to_string().into_bytes()),
        );
        assert_eq!(status, 200, "{answer}");
    }

    fn delivery(&self, token: &str) -> serde_json::Value {
        let auth = [("authorization", format!("Bearer {token}"))];
        let (status, item) = self.call("GET", "/v1/items/JP-ITEM-0001", &auth, None);
        assert_eq!(status, 200, "{item}");
        item["delivery"].clone()
    }
}

/// A genuine check's record at `level`, #`seq` after `previous`.
fn record(level: Level, policy: AttributePolicy, seq: u64, previous: [u8; 32]) -> SignedRecord {
    let signer = device_signer();
    let link = ChainLink {
        seq,
        prev_hash: previous,
    };
    SignedRecord::sign(
        draft_of(&genuine_report(level), policy),
        &[seq as u8; 16],
        link,
        &signer,
        signer.device_key(),
    )
    .expect("signs")
}

fn first(level: Level, policy: AttributePolicy) -> SignedRecord {
    record(level, policy, 1, [0u8; 32])
}

fn check<'a>(verification: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    verification["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == id))
        .unwrap_or_else(|| panic!("no {id} in {verification}"))
}

/// The control: the same path with nothing removed verifies and delivers.
fn a_genuine_record_verifies_and_delivers_its_item(backend: &Backend) {
    let server = start(backend, &[]);
    let bank = server.sender("test-bank");
    server.register(&bank, "B", &["name"]);
    let policy = "name".parse().expect("policy");
    let results = server.send(&[first(Level::B, policy)]);
    assert_eq!(results[0]["status"], "accepted", "{results:?}");
    assert_eq!(results[0]["receipt"]["receipt"]["outcome"], "verified");
    let feed = server.feed(&bank);
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0]["verification"]["outcome"], "verified");
    assert_eq!(
        check(&feed[0]["verification"], "check_time")["state"],
        "passed"
    );
    assert!(server.delivery(&bank).is_object(), "delivered");
}

/// Defect 1: a "genuine" level-B record for a level-B item without its certificates, or
/// without the card's signature: nothing fails, but it is `unverified` and delivers nothing.
fn a_record_stripped_of_its_card_evidence_is_unverified_and_delivers_nothing(backend: &Backend) {
    for field in ["certificates", "card_signature"] {
        let server = start(backend, &[]);
        let bank = server.sender("test-bank");
        server.register(&bank, "B", &["name"]);
        let genuine = first(Level::B, "name".parse().expect("policy"));
        let stripped = edited(&genuine, |body| {
            body[field] = match field {
                "certificates" => serde_json::json!([]),
                _ => serde_json::Value::Null,
            }
        })
        .expect("parses");
        let results = server.send(&[stripped]);
        assert_eq!(results[0]["status"], "accepted", "evidence is kept");
        assert_eq!(results[0]["receipt"]["receipt"]["outcome"], "unverified");
        let feed = server.feed(&bank);
        let verification = &feed[0]["verification"];
        assert_eq!(verification["outcome"], "unverified", "{field}");
        assert!(
            verification["missing"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m
                    .as_str()
                    .is_some_and(|m| m.starts_with("challenge_signature")))),
            "{verification}"
        );
        assert!(server.delivery(&bank).is_null(), "{field}: not delivered");
    }
}

/// Defect 2: level "c" for a level-C item is refused as a malformed record, not verified down
/// the level-A path.
fn a_lowercase_level_is_refused_at_ingest(backend: &Backend) {
    let server = start(backend, &[]);
    let bank = server.sender("test-bank");
    server.register(&bank, "C", &[]);
    let genuine = first(Level::A, AttributePolicy::default());
    let mut envelope: serde_json::Value =
        serde_json::from_slice(&genuine.to_envelope_bytes()).expect("json");
    envelope["body"]["level"] = "c".into();
    // Signed by the device key over the edited body: only the level code is wrong.
    let body = envelope["body"].take();
    let raw = serde_json::json!({"records": [{
        "device_signature": sign_body(&body).expect("signs"),
        "body": body,
    }]});
    let body_bytes = raw.to_string().into_bytes();
    let headers = signed_headers(&body_bytes);
    let (status, answer) = server.call("POST", "/v1/batches", &headers, Some(body_bytes));
    assert_eq!(status, 200, "{answer}");
    let result = &answer["results"][0];
    assert_eq!(result["status"], "rejected", "{answer}");
    assert!(
        result["error"]
            .as_str()
            .is_some_and(|e| e.contains("level")),
        "{answer}"
    );
    assert!(server.feed(&bank).is_empty());
    assert!(server.delivery(&bank).is_null());
}

/// Defect 4: the device's second record claims a time a day before its first: a backdated
/// check (to when an expired certificate was valid) fails `check_time`.
fn a_record_backdated_before_the_devices_previous_record_fails(backend: &Backend) {
    let server = start(backend, &["test-bank"]);
    let one = first(Level::B, AttributePolicy::default());
    let two = record(Level::B, AttributePolicy::default(), 2, one.hash());
    let backdated = edited(&two, |body| {
        let time = body["time"].as_i64().expect("time") - 86_400;
        body["time"] = time.into();
    })
    .expect("parses");
    // One batch: the window of #2 comes from #1 in the same batch.
    let results = server.send(&[one.clone(), backdated]);
    assert_eq!(results[1]["receipt"]["receipt"]["outcome"], "failed");
    // And across batches: the window comes from the stored head.
    let server = start(backend, &["test-bank"]);
    let bank = server.sender("test-bank");
    server.send(std::slice::from_ref(&one));
    let backdated = edited(
        &record(Level::B, AttributePolicy::default(), 2, one.hash()),
        |b| {
            let time = b["time"].as_i64().expect("time") - 86_400;
            b["time"] = time.into();
        },
    )
    .expect("parses");
    let results = server.send(&[backdated]);
    assert_eq!(results[0]["receipt"]["receipt"]["outcome"], "failed");
    let feed = server.feed(&bank);
    let time = check(&feed[1]["verification"], "check_time");
    assert_eq!(time["state"], "failed", "{time}");
    assert_eq!(time["reason"], "before_previous_record");
    assert_eq!(
        check(&feed[0]["verification"], "check_time")["state"],
        "passed"
    );
}

/// Defect 5: the device names a sender that registered no such item and that the device is
/// not enrolled for: the record is kept, flagged, and reaches no sender's feed.
fn a_device_cannot_choose_the_sender_whose_feed_gets_its_records(backend: &Backend) {
    let server = start(backend, &["test-bank"]);
    let bank = server.sender("test-bank");
    let other = server.sender("other-bank");
    let genuine = first(Level::B, "name".parse().expect("policy"));
    // The challenge binds the sender, so the card's signature no longer matches either; what
    // matters here is that other-bank's feed does not see the record at all.
    let second = record(Level::B, "name".parse().expect("policy"), 2, genuine.hash());
    let redirected =
        edited(&second, |body| body["sender_id"] = "other-bank".into()).expect("parses");
    let results = server.send(&[genuine.clone(), redirected]);
    assert_eq!(
        results[1]["status"], "accepted",
        "kept as evidence: {results:?}"
    );
    assert_eq!(results[1]["receipt"]["receipt"]["outcome"], "failed");
    assert!(server.feed(&other).is_empty(), "other-bank sees nothing");
    let own = server.feed(&bank);
    assert_eq!(own.len(), 1, "test-bank sees only its own record");
    assert_eq!(
        check(&own[0]["verification"], "item_policy")["reason"],
        "not_registered"
    );

    // Without enrolment for the sender and without a registered item, not even the named
    // sender gets it.
    let server = start(backend, &[]);
    let bank = server.sender("test-bank");
    let results = server.send(&[genuine]);
    assert_eq!(results[0]["receipt"]["receipt"]["outcome"], "failed");
    assert!(server.feed(&bank).is_empty());
}

/// Defect 5: at level C the attributes come from the verified signing certificate; a record
/// that keeps another name fails and delivers nothing.
fn level_c_attributes_that_differ_from_the_certificate_fail(backend: &Backend) {
    let server = start(backend, &[]);
    let bank = server.sender("test-bank");
    server.register(&bank, "C", &["name"]);
    let genuine = first(Level::C, "name".parse().expect("policy"));
    let renamed = edited(&genuine, |body| {
        body["attributes"]["name"] = "別人 太郎".into()
    })
    .expect("parses");
    let results = server.send(&[renamed]);
    assert_eq!(results[0]["receipt"]["receipt"]["outcome"], "failed");
    let feed = server.feed(&bank);
    assert_eq!(
        check(&feed[0]["verification"], "attributes")["reason"],
        "attributes_mismatch"
    );
    assert!(server.delivery(&bank).is_null());
}

/// A phone (level M) record is re-verified from its own evidence under the phone issuers' IACA
/// anchors (`serve --mdoc-anchors`): verified and delivered with them; without them the phone
/// checks are missing, so it is `unverified` and delivers nothing (never the device's word).
fn a_phone_record_verifies_only_under_the_phone_issuers_anchors(backend: &Backend) {
    let phone_anchors = honnin_simcard::mdoc::test_anchors().expect("IACA anchors");
    for with_anchors in [false, true] {
        let verifier = if with_anchors {
            verifier_with_crl().with_mdoc_anchors(phone_anchors.clone())
        } else {
            verifier_with_crl()
        };
        let server = start_with(backend, &[], verifier);
        let bank = server.sender("test-bank");
        server.register(&bank, "M", &[]);
        let results = server.send(&[first(Level::M, AttributePolicy::default())]);
        assert_eq!(results[0]["status"], "accepted", "{results:?}");
        let feed = server.feed(&bank);
        assert_eq!(feed.len(), 1);
        let verification = &feed[0]["verification"];
        if with_anchors {
            assert_eq!(verification["outcome"], "verified", "{verification:#}");
            assert_eq!(
                check(verification, "mdoc_device_authentication")["state"],
                "passed"
            );
            assert!(server.delivery(&bank).is_object(), "delivered");
        } else {
            assert_eq!(verification["outcome"], "unverified", "{verification:#}");
            assert!(
                verification["missing"]
                    .to_string()
                    .contains("mdoc_issuer_signature"),
                "{verification:#}"
            );
            assert!(server.delivery(&bank).is_null(), "not delivered");
        }
    }
}
