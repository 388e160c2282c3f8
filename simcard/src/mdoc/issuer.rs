//! The issuer side of the software phone: the holder's elements as IssuerSignedItems, the MSO
//! with their digests and the device key, and the document signer's COSE_Sign1 over it — with
//! the one change each forgery profile makes.

use ciborium::Value;
use coset::iana::Algorithm;
use coset::{AsCborValue, CoseSign1Builder, HeaderBuilder};
use honnin_core::mdoc::MdocProfile;
use honnin_core::mdoc::cbor;
use honnin_core::mdoc::engagement::public_to_cose_key;
use p256::SecretKey;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

use super::pki::{self, MdocPki};
use crate::error::SimError;
use crate::holder::TEST_HOLDER;

/// The validity window of the genuine MSO (tdate text): inside the document signer's.
pub const GENUINE_VALIDITY: (&str, &str, &str) = (
    "2025-06-01T00:00:00Z",
    "2025-06-01T00:00:00Z",
    "2030-05-31T23:59:59Z",
);
/// The expired profile's window: over before any check the tests make.
pub const EXPIRED_VALIDITY: (&str, &str, &str) = (
    "2025-01-01T00:00:00Z",
    "2025-01-01T00:00:00Z",
    "2025-03-31T23:59:59Z",
);
/// The not-yet-valid profile's window: starts after the tests' check dates.
pub const FUTURE_VALIDITY: (&str, &str, &str) = (
    "2031-06-01T00:00:00Z",
    "2031-06-01T00:00:00Z",
    "2036-05-31T23:59:59Z",
);
/// The family name the tampering profile writes over the signed one.
pub const TAMPERED_FAMILY_NAME: &str = "改竄";

/// How the issued document differs from the genuine one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IssueOptions {
    pub validity: Option<(&'static str, &'static str, &'static str)>,
    /// Signed by the forger's document signer (same names, other key).
    pub unknown_issuer: bool,
    /// The signature bytes altered after signing.
    pub forge_signature: bool,
    /// The MSO signs another document type than the document claims.
    pub mso_doc_type: Option<&'static str>,
    /// The family name changed after signing.
    pub tamper_family_name: bool,
}

/// An issued document: the tagged IssuerSignedItems by element, and the issuerAuth.
#[derive(Clone)]
pub struct IssuedDocument {
    pub doc_type: String,
    pub namespace: String,
    pub items: Vec<(String, Value)>,
    pub issuer_auth: Value,
}

fn holder_elements(profile: &MdocProfile, portrait: &[u8]) -> Vec<(String, Value)> {
    let (family, given) = TEST_HOLDER
        .name
        .split_once('\u{3000}')
        .unwrap_or((TEST_HOLDER.name, ""));
    let b = TEST_HOLDER.birth_date;
    let birth = format!("{}-{}-{}", &b[0..4], &b[4..6], &b[6..8]);
    let sex = match TEST_HOLDER.sex {
        crate::holder::Sex::Male => 1,
        crate::holder::Sex::Female => 2,
        crate::holder::Sex::NotApplicable => 9,
    };
    vec![
        (profile.family_name.clone(), Value::Text(family.into())),
        (profile.given_name.clone(), Value::Text(given.into())),
        (
            profile.birth_date.clone(),
            Value::Tag(1004, Box::new(Value::Text(birth))),
        ),
        (
            profile.resident_address.clone(),
            Value::Text(TEST_HOLDER.address.into()),
        ),
        (profile.sex.clone(), Value::Integer(sex.into())),
        (profile.age_over(18), Value::Bool(true)),
        (profile.age_over(20), Value::Bool(true)),
        (profile.portrait.clone(), Value::Bytes(portrait.to_vec())),
    ]
}

fn tdate(text: &str) -> Value {
    Value::Tag(0, Box::new(Value::Text(text.into())))
}

fn item(digest_id: usize, element: &str, value: Value) -> Result<Value, SimError> {
    let random = Sha256::digest(format!("honnin test mdoc salt / {digest_id}"));
    let encoded = cbor::encode(&cbor::text_map(vec![
        ("digestID", Value::Integer(digest_id.into())),
        ("random", Value::Bytes(random[..16].to_vec())),
        ("elementIdentifier", Value::Text(element.into())),
        ("elementValue", value),
    ]))
    .map_err(|e| SimError::Encoding(e.to_string()))?;
    Ok(cbor::tagged(encoded))
}

/// ES256 over `data` (r ‖ s), deterministic.
pub fn sign_es256(key: &SecretKey, data: &[u8]) -> Vec<u8> {
    let signature: Signature = SigningKey::from(key).sign(data);
    signature.to_bytes().to_vec()
}

/// Issues the holder's document under `profile`, bound to the phone's device key.
pub fn issue(
    profile: &MdocProfile,
    portrait: &[u8],
    pki_certs: &MdocPki,
    options: IssueOptions,
) -> Result<IssuedDocument, SimError> {
    let encode = |v: &Value| cbor::encode(v).map_err(|e| SimError::Encoding(e.to_string()));
    let mut items = Vec::new();
    let mut digests = Vec::new();
    for (i, (element, value)) in holder_elements(profile, portrait).into_iter().enumerate() {
        let tagged = item(i, &element, value)?;
        let digest = Sha256::digest(encode(&tagged)?);
        digests.push((Value::Integer(i.into()), Value::Bytes(digest.to_vec())));
        items.push((element, tagged));
    }
    let (signed, from, until) = options.validity.unwrap_or(GENUINE_VALIDITY);
    let mso = cbor::text_map(vec![
        ("version", Value::Text("1.0".into())),
        ("digestAlgorithm", Value::Text("SHA-256".into())),
        (
            "valueDigests",
            Value::Map(vec![(
                Value::Text(profile.namespace.clone()),
                Value::Map(digests),
            )]),
        ),
        (
            "deviceKeyInfo",
            cbor::text_map(vec![(
                "deviceKey",
                public_to_cose_key(&pki::key(pki::DEVICE_KEY).public_key()),
            )]),
        ),
        (
            "docType",
            Value::Text(options.mso_doc_type.unwrap_or(&profile.doc_type).to_owned()),
        ),
        (
            "validityInfo",
            cbor::text_map(vec![
                ("signed", tdate(signed)),
                ("validFrom", tdate(from)),
                ("validUntil", tdate(until)),
            ]),
        ),
    ]);
    let payload = encode(&cbor::tagged(encode(&mso)?))?;
    let (cert, key) = if options.unknown_issuer {
        (
            pki_certs.forger_document_signer.clone(),
            pki::key(pki::FORGER_DOCUMENT_SIGNER),
        )
    } else {
        (
            pki_certs.document_signer.clone(),
            pki::key(pki::DOCUMENT_SIGNER),
        )
    };
    let mut sign1 = CoseSign1Builder::new()
        .protected(HeaderBuilder::new().algorithm(Algorithm::ES256).build())
        .unprotected(HeaderBuilder::new().value(33, Value::Bytes(cert)).build())
        .payload(payload)
        .create_signature(b"", |tbs| sign_es256(&key, tbs))
        .build();
    if options.forge_signature
        && let Some(byte) = sign1.signature.get_mut(10)
    {
        *byte ^= 0x01;
    }
    if options.tamper_family_name
        && let Some((_, tagged)) = items.iter_mut().find(|(e, _)| *e == profile.family_name)
    {
        let inner =
            cbor::embedded(tagged, "item").map_err(|e| SimError::Encoding(e.to_string()))?;
        let mut value =
            cbor::decode(inner, "item").map_err(|e| SimError::Encoding(e.to_string()))?;
        if let Value::Map(entries) = &mut value {
            for (k, v) in entries.iter_mut() {
                if k.as_text() == Some("elementValue") {
                    *v = Value::Text(TAMPERED_FAMILY_NAME.into());
                }
            }
        }
        *tagged = cbor::tagged(encode(&value)?);
    }
    let issuer_auth = sign1
        .to_cbor_value()
        .map_err(|e| SimError::Encoding(e.to_string()))?;
    Ok(IssuedDocument {
        doc_type: profile.doc_type.clone(),
        namespace: profile.namespace.clone(),
        items,
        issuer_auth,
    })
}
