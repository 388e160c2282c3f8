//! Isolation: two senders and two devices on one real receiver (TLS on loopback, SQLite and
//! PostgreSQL), each trying every endpoint with the other's credentials, ids and cursors. Every
//! attempt is refused with a typed error (status and `error.code`), no answer carries the
//! other's data, nothing either of them stored is lost or changed, and the receiver still
//! serves at the end.
//!
//! Sender `bank-a` sends with device `handheld-a`, `bank-b` with `handheld-b`; each device is
//! enrolled for its own sender only, and each sender registered one item on its own device.

#[macro_use]
mod common;
mod hostile_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::check::CheckRequest;
use honnin_core::reader::CardSession;
use honnin_core::record::{AttributePolicy, RecordContext, RecordDraft, SoftwareSigner};
use honnin_core::store::Store;
use honnin_core::sync::protocol::MANIFEST_REQUEST;
use honnin_core::verify::Clock;
use honnin_e2e::records::store_keys;
use honnin_e2e::{CountingRandom, addressee, auth_pin, clock, verifier_with_crl};
use honnin_receiver::{now, operator};
use honnin_simcard::Profile;

use common::{Backend, device_headers};
use hostile_support::{Server, start};

backend_tests!(neither_sender_nor_device_reaches_the_others_data);

/// One side: a sender, its device, the item it registered, the records the device made.
struct Party {
    sender: &'static str,
    token: String,
    device: &'static str,
    signer: SoftwareSigner,
    /// The item the device's records deliver.
    item: &'static str,
    /// An item still to go out: the device's manifest lists it alone.
    pending: String,
    /// Envelopes (JSON) of the records the device made, in chain order.
    records: Vec<serde_json::Value>,
    record_ids: Vec<String>,
}

/// `(status, JSON body)` of any request, the body sent as it is.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", server.base);
    let agent = &server.agent;
    let result = match (method, body) {
        ("GET", _) => headers
            .iter()
            .fold(agent.get(&url), |r, (n, v)| r.header(*n, v))
            .call(),
        ("DELETE", _) => headers
            .iter()
            .fold(agent.delete(&url), |r, (n, v)| r.header(*n, v))
            .call(),
        ("POST", Some(body)) => headers
            .iter()
            .fold(agent.post(&url), |r, (n, v)| r.header(*n, v))
            .content_type("application/json")
            .send(body),
        ("PUT", Some(body)) => headers
            .iter()
            .fold(agent.put(&url), |r, (n, v)| r.header(*n, v))
            .content_type("application/json")
            .send(body),
        _ => panic!("unsupported {method}"),
    };
    let mut response = result.expect("an answer");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {token}"))]
}

fn batch_body(envelopes: &[serde_json::Value]) -> Vec<u8> {
    serde_json::json!({ "records": envelopes })
        .to_string()
        .into_bytes()
}

/// Two genuine level-B door checks made by `device` for `sender`'s `item`, as records of a new
/// device store in `dir`.
fn make_records(
    dir: &std::path::Path,
    device: &str,
    sender: &str,
    item: &str,
    signer: &SoftwareSigner,
) -> Vec<serde_json::Value> {
    let request = CheckRequest {
        item_id: item.into(),
        sender_id: sender.into(),
        device_id: device.into(),
        addressee: Some(addressee()),
    };
    let mut store = Store::create(&dir.join(format!("{device}.db")), &store_keys()).expect("store");
    for round in 0..2u8 {
        let mut session = CardSession::new(Profile::Genuine.build().expect("card"));
        let report = verifier_with_crl().check_level_b(
            &mut session,
            &request,
            &auth_pin(),
            &clock(),
            &mut CountingRandom(round),
        );
        let context = RecordContext {
            courier_id: "courier-7".into(),
            time: clock().now(),
            policy: AttributePolicy::ALL,
        };
        let draft = RecordDraft::from_check(&report, &request, &context).expect("draft");
        store.append(draft, signer).expect("appends");
    }
    store
        .list(0, usize::MAX)
        .expect("lists")
        .into_iter()
        .map(|row| row.record.expect("reads").to_json_value())
        .collect()
}

fn party(
    server: &Server,
    dir: &std::path::Path,
    sender: &'static str,
    device: &'static str,
    item: &'static str,
    secret: u8,
) -> Party {
    let storage = server.receiver.storage.as_ref();
    let token = operator::add_sender(storage, sender).expect("sender");
    let signer = SoftwareSigner::from_secret_bytes(&[secret; 32]).expect("key");
    let code = operator::issue_enrolment_code(storage, device, &[sender], now()).expect("code");
    let enrol = serde_json::json!({
        "device_id": device,
        "public_key": BASE64.encode(signer.device_key().spki_der()),
        "code": code,
    });
    let (status, answer) = call(
        server,
        "POST",
        "/v1/enrol",
        &[],
        Some(enrol.to_string().as_bytes()),
    );
    assert_eq!(status, 201, "{answer}");
    let pending = format!("{item}-NEXT");
    let items = serde_json::json!({"items": [{
        "item_id": item, "device_id": device, "addressee_name": addressee().name,
        "min_level": "B", "attributes": ["name", "address", "birth_date", "sex"],
    }, {
        "item_id": pending, "device_id": device, "addressee_name": addressee().name,
        "min_level": "B",
    }]});
    let (status, answer) = call(
        server,
        "PUT",
        "/v1/items",
        &bearer(&token),
        Some(items.to_string().as_bytes()),
    );
    assert_eq!(status, 200, "{answer}");
    let records = make_records(dir, device, sender, item, &signer);
    let record_ids = records
        .iter()
        .map(|r| r["body"]["record_id"].as_str().expect("id").to_owned())
        .collect();
    Party {
        sender,
        token,
        device,
        signer,
        item,
        pending,
        records,
        record_ids,
    }
}

/// Sends `party`'s records as its device; each gets a receipt.
fn sync(server: &Server, party: &Party) {
    let body = batch_body(&party.records);
    let headers = device_headers(party.device, &party.signer, &body);
    let (status, answer) = call(server, "POST", "/v1/batches", &headers, Some(&body));
    assert_eq!(status, 200, "{answer}");
    for result in answer["results"].as_array().expect("results") {
        assert_eq!(result["status"], "accepted", "{result}");
    }
}

fn assert_refused(answer: (u16, serde_json::Value), status: u16, code: &str, what: &str) {
    assert_eq!(answer.0, status, "{what}: {}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{what}: {}", answer.1);
}

/// The record ids in `party`'s feed, read page by page from `after`.
fn feed_ids(server: &Server, token: &str, after: &str) -> Vec<String> {
    let (status, page) = call(
        server,
        "GET",
        &format!("/v1/feed?after={after}&limit=1000"),
        &bearer(token),
        None,
    );
    assert_eq!(status, 200, "{page}");
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            e["record"]["body"]["record_id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect()
}

/// No text of `answer` names anything of `other`'s.
fn assert_no_trace(answer: &serde_json::Value, other: &Party, what: &str) {
    let text = answer.to_string();
    for marker in
        other
            .record_ids
            .iter()
            .map(String::as_str)
            .chain([other.item, other.device, other.sender])
    {
        assert!(
            !text.contains(marker),
            "{what}: the answer names {marker:?} of the other side: {text}"
        );
    }
}

fn manifest_items(server: &Server, party: &Party) -> Vec<String> {
    let headers = device_headers(party.device, &party.signer, MANIFEST_REQUEST);
    let (status, manifest) = call(server, "GET", "/v1/manifest", &headers, None);
    assert_eq!(status, 200, "{manifest}");
    manifest["manifest"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["item_id"].as_str().expect("id").to_owned())
        .collect()
}

fn neither_sender_nor_device_reaches_the_others_data(backend: &Backend) {
    let server = start(backend, |receiver| {
        receiver.limits.allow_private_webhooks = true;
        // Every attempt below fails authentication on purpose; the limiter is tested elsewhere.
        receiver.limits.max_auth_failures = 10_000;
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let a = party(&server, dir.path(), "bank-a", "handheld-a", "ITEM-A", 0x31);
    let b = party(&server, dir.path(), "bank-b", "handheld-b", "ITEM-B", 0x32);
    sync(&server, &a);
    sync(&server, &b);
    for party in [&a, &b] {
        let hook = serde_json::json!({"url": format!("http://127.0.0.1:9/{}", party.sender)});
        let (status, answer) = call(
            &server,
            "PUT",
            "/v1/webhook",
            &bearer(&party.token),
            Some(hook.to_string().as_bytes()),
        );
        assert_eq!(status, 200, "{answer}");
    }
    let count_before = server.receiver.storage.count_records().expect("count");

    for (me, other) in [(&a, &b), (&b, &a)] {
        let mine = bearer(&me.token);
        // The other's item: missing, whatever the method.
        let path = format!("/v1/items/{}", other.item);
        let answer = call(&server, "GET", &path, &mine, None);
        assert_no_trace(&answer.1, other, "GET another's item");
        assert_refused(answer, 404, "no_such_item", "GET another's item");
        let answer = call(&server, "DELETE", &path, &mine, None);
        assert_refused(answer, 404, "no_such_item", "DELETE another's item");
        // Its id taken over, or put on the other's device under my name: the id is taken.
        let takeover = serde_json::json!({"items": [{
            "item_id": other.item, "device_id": me.device, "addressee_name": "乗っ取り 太郎",
            "min_level": "A",
        }]});
        let answer = call(
            &server,
            "PUT",
            "/v1/items",
            &mine,
            Some(takeover.to_string().as_bytes()),
        );
        assert_refused(answer, 409, "item_taken", "PUT another's item id");

        // The feed: mine only, from any cursor, including the other's last one and nonsense.
        let other_last = other.records.len().to_string();
        for after in ["0", "1", other_last.as_str(), "9223372036854775807"] {
            let ids = feed_ids(&server, &me.token, after);
            assert!(
                ids.iter().all(|id| me.record_ids.contains(id)),
                "after={after}: {ids:?}"
            );
        }
        assert_eq!(feed_ids(&server, &me.token, "0"), me.record_ids);
        // A negative cursor is refused (the document's minimum is 0), never read as 0.
        let answer = call(&server, "GET", "/v1/feed?after=-5", &mine, None);
        assert_no_trace(&answer.1, other, "a negative cursor");
        assert_refused(answer, 400, "invalid_query", "a negative cursor");
        let (_, page) = call(&server, "GET", "/v1/feed?after=0", &mine, None);
        assert_no_trace(&page, other, "my feed");
        let answer = call(&server, "GET", "/v1/feed?after=x", &mine, None);
        assert_refused(answer, 400, "invalid_query", "a cursor that is no number");

        // A sender's token is no device credential, and a device's signature no sender's.
        let body = batch_body(&other.records);
        let answer = call(&server, "POST", "/v1/batches", &mine, Some(&body));
        assert_refused(answer, 401, "unauthorized", "a batch with a sender token");
        let answer = call(&server, "GET", "/v1/manifest", &mine, None);
        assert_refused(
            answer,
            401,
            "unauthorized",
            "a manifest with a sender token",
        );
        let device = device_headers(me.device, &me.signer, b"GET /v1/feed");
        let answer = call(&server, "GET", "/v1/feed", &device, None);
        assert_refused(
            answer,
            401,
            "unauthorized",
            "the feed with a device signature",
        );

        // My device naming the other device, signing with my key: not the other's signature.
        let mut headers = device_headers(me.device, &me.signer, MANIFEST_REQUEST);
        headers[0].1 = other.device.to_owned();
        let answer = call(&server, "GET", "/v1/manifest", &headers, None);
        assert_refused(answer, 401, "unauthorized", "a manifest for another device");
        let mut headers = device_headers(me.device, &me.signer, &body);
        headers[0].1 = other.device.to_owned();
        let answer = call(&server, "POST", "/v1/batches", &headers, Some(&body));
        assert_refused(answer, 401, "unauthorized", "a batch as another device");
        // A signed manifest request replayed as a batch: the signature binds the endpoint.
        let headers = device_headers(me.device, &me.signer, MANIFEST_REQUEST);
        let answer = call(&server, "POST", "/v1/batches", &headers, Some(&body));
        assert_refused(answer, 401, "unauthorized", "manifest headers on a batch");

        // My device sending the other's records (the other's signed envelopes) as its own:
        // each refused, no receipt, nothing of the other's returned.
        let headers = device_headers(me.device, &me.signer, &body);
        let (status, answer) = call(&server, "POST", "/v1/batches", &headers, Some(&body));
        assert_eq!(status, 200, "{answer}");
        for result in answer["results"].as_array().expect("results") {
            assert_eq!(result["status"], "rejected", "{result}");
            assert!(result["receipt"].is_null(), "{result}");
        }

        // My manifest lists my pending item only (the other was delivered by my records).
        assert_eq!(manifest_items(&server, me), vec![me.pending.clone()]);
        let headers = device_headers(me.device, &me.signer, MANIFEST_REQUEST);
        let (_, manifest) = call(&server, "GET", "/v1/manifest", &headers, None);
        assert_no_trace(&manifest, other, "my manifest");

        // Enrolment: the other device's id, with a code the operator issued for another id.
        let spare = format!("{}-spare", me.device);
        let code =
            operator::issue_enrolment_code(server.receiver.storage.as_ref(), &spare, &[], now())
                .expect("code");
        let enrol = serde_json::json!({
            "device_id": other.device,
            "public_key": BASE64.encode(me.signer.device_key().spki_der()),
            "code": code,
        })
        .to_string();
        let answer = call(&server, "POST", "/v1/enrol", &[], Some(enrol.as_bytes()));
        assert_refused(
            answer,
            401,
            "unauthorized",
            "enrolling the other's device id",
        );
    }

    // Removing a webhook removes the caller's own only.
    let storage = server.receiver.storage.as_ref();
    let answer = call(&server, "DELETE", "/v1/webhook", &bearer(&a.token), None);
    assert_eq!(answer.0, 204, "{}", answer.1);
    assert!(storage.webhook(a.sender).expect("reads").is_none());
    let kept = storage
        .webhook(b.sender)
        .expect("reads")
        .expect("b's webhook stays");
    assert!(kept.url.ends_with("/bank-b"), "{}", kept.url);

    // Nothing lost or changed: each side's records, items and devices as they were.
    assert_eq!(storage.count_records().expect("count"), count_before);
    for party in [&a, &b] {
        assert_eq!(feed_ids(&server, &party.token, "0"), party.record_ids);
        let (status, item) = call(
            &server,
            "GET",
            &format!("/v1/items/{}", party.item),
            &bearer(&party.token),
            None,
        );
        assert_eq!(status, 200, "{item}");
        assert_eq!(item["device_id"], party.device);
        assert_eq!(item["addressee_name"], addressee().name);
        assert_eq!(item["delivery"]["record_id"], party.record_ids[0]);
        // Its device still gets its manifest with its own key.
        assert_eq!(manifest_items(&server, party), vec![party.pending.clone()]);
    }
    let (status, health) = call(&server, "GET", "/v1/health", &[], None);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
}
