//! Helpers of the record-store tests: real door checks against the software card turned into
//! record drafts, and the fixed test keys.

use honnin_core::check::{DoorCheckReport, FaceDecision, Level};
use honnin_core::reader::CardSession;
use honnin_core::record::{AttributePolicy, RecordContext, RecordDraft, SoftwareSigner};
use honnin_core::store::StaticKeyProvider;
use honnin_simcard::Profile;

use crate::{
    CountingRandom, addressee, auth_pin, clock, matching_number_b, request, signing_password,
    verifier_with_crl,
};

/// The tests' store key (fixed so a helper process and the test open the same store).
pub const STORE_KEY: [u8; 32] = [0x42; 32];
/// The tests' device key (secret scalar).
pub const DEVICE_KEY: [u8; 32] = [0x24; 32];

pub fn store_keys() -> StaticKeyProvider {
    StaticKeyProvider::new(STORE_KEY)
}

pub fn device_signer() -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&DEVICE_KEY).expect("valid test scalar")
}

/// A genuine software card checked at `level` for the test request (item JP-ITEM-0001).
pub fn genuine_report(level: Level) -> DoorCheckReport {
    let verifier = verifier_with_crl();
    let request = request(Some(addressee()));
    let mut random = CountingRandom(level as u8);
    match level {
        Level::A => level_a_report(FaceDecision::Confirmed),
        Level::M => super::phone::phone_report(
            honnin_simcard::mdoc::PhoneProfile::Genuine,
            honnin_core::record::AttributePolicy::ALL,
        ),
        Level::B => verifier.check_level_b(
            &mut genuine_session(),
            &request,
            &auth_pin(),
            &clock(),
            &mut random,
        ),
        Level::C => verifier.check_level_c(
            &mut genuine_session(),
            &request,
            &signing_password(),
            &clock(),
            &mut random,
        ),
    }
}

/// A genuine software card checked at level A for the test request, the courier deciding
/// `face` on the face image.
pub fn level_a_report(face: FaceDecision) -> DoorCheckReport {
    verifier_with_crl()
        .check_level_a(
            &mut genuine_session(),
            &request(Some(addressee())),
            &matching_number_b(),
            &clock(),
            &mut CountingRandom(Level::A as u8),
        )
        .confirm(face)
}

fn genuine_session() -> CardSession<honnin_simcard::SoftwareCard> {
    CardSession::new(Profile::Genuine.build().expect("genuine card builds"))
}

/// The draft of `report`, made by courier `courier-7` at the test clock's time.
pub fn draft_of(report: &DoorCheckReport, policy: AttributePolicy) -> RecordDraft {
    let context = RecordContext {
        courier_id: "courier-7".into(),
        time: honnin_core::verify::Clock::now(&clock()),
        policy,
    };
    RecordDraft::from_check(report, &request(Some(addressee())), &context).expect("draft")
}

/// Signs an edited envelope's body (`{"body": …}`) with the test device key, as a compromised
/// device could: the result has a valid device signature over whatever the body now says.
pub fn resign(
    mut envelope: serde_json::Value,
) -> Result<honnin_core::record::SignedRecord, honnin_core::record::RecordError> {
    let body = envelope["body"].take();
    let device_signature = sign_body(&body)?;
    honnin_core::record::SignedRecord::from_value(serde_json::json!({
        "body": body,
        "device_signature": device_signature,
    }))
}

/// The test device key's signature (base64 r‖s) over `body`'s canonical bytes, whatever the
/// body says: what a device holding its key can sign.
pub fn sign_body(body: &serde_json::Value) -> Result<String, honnin_core::record::RecordError> {
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer as _;
    let canonical = honnin_core::record::canonical::to_canonical_bytes(body)?;
    let key = p256::ecdsa::SigningKey::from_slice(&DEVICE_KEY).expect("valid test scalar");
    let signature: p256::ecdsa::Signature = key.sign(&canonical);
    Ok(base64::engine::general_purpose::STANDARD.encode(signature.normalize_s().to_bytes()))
}

/// `record` with its body edited by `edit` and signed again with the test device key.
pub fn edited(
    record: &honnin_core::record::SignedRecord,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Result<honnin_core::record::SignedRecord, honnin_core::record::RecordError> {
    let mut envelope: serde_json::Value =
        serde_json::from_slice(&record.to_envelope_bytes()).expect("an envelope is JSON");
    edit(&mut envelope["body"]);
    resign(envelope)
}
