//! Issuer data authentication (ISO/IEC 18013-5 §9.3.1): the MSO's COSE_Sign1 under a document
//! signer chained to an anchor, its validity window, its document type, and the digest of every
//! returned element. One [`CheckResult`] per rule; a later rule is not run on an MSO that an
//! earlier one could not establish (the report marks it "not checked").

use ciborium::Value;
use coset::iana::Algorithm;
use coset::{CborSerializable, CoseSign1, Label, RegisteredLabelWithPrivate};
use p256::PublicKey;
use sha2::{Digest, Sha256};

use super::anchors::IssuerAnchors;
use super::cbor;
use super::engagement::cose_key_to_public;
use super::issuer_chain::{MAX_X5CHAIN, VerifiedSigner, validate_signer};
use super::request::ElementRequest;
use super::response::Document;
use crate::verify::{CheckId, CheckResult, Reason, UnixTime};

/// The COSE header label of `x5chain` (RFC 9360).
const X5CHAIN: i64 = 33;

/// An MSO whose document signer chained to an anchor and whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedMso {
    /// The key the issuer bound the document to: the device signature must be by this key.
    pub device_key: PublicKey,
    pub doc_type: String,
    pub valid_from: i64,
    pub valid_until: i64,
    mso: Mso,
}

impl VerifiedMso {
    /// The digest the MSO signs for `namespace`/`digest_id`.
    pub fn digest(&self, namespace: &str, digest_id: u64) -> Option<[u8; 32]> {
        signed_digest(&self.mso, namespace, digest_id).and_then(|d| <[u8; 32]>::try_from(d).ok())
    }
}

/// Every issuer-side result, and the MSO when all passed.
#[derive(Debug, Clone)]
pub struct IssuerAuthOutcome {
    pub results: Vec<CheckResult>,
    pub verified: Option<VerifiedMso>,
}

/// The MSO's parsed pieces, before any rule.
#[derive(Debug, Clone)]
struct Mso {
    doc_type: String,
    digest_algorithm: String,
    value_digests: Vec<(Value, Value)>,
    device_key: Value,
    signed: i64,
    valid_from: i64,
    valid_until: i64,
}

/// The certificates of the `x5chain` header (protected or unprotected), at most [`MAX_X5CHAIN`].
pub fn x5chain(sign1: &CoseSign1) -> Vec<Vec<u8>> {
    let found = [&sign1.protected.header, &sign1.unprotected]
        .into_iter()
        .flat_map(|h| h.rest.iter())
        .find(|(label, _)| *label == Label::Int(X5CHAIN))
        .map(|(_, v)| v);
    match found {
        Some(Value::Bytes(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .take(MAX_X5CHAIN)
            .filter_map(|v| v.as_bytes().cloned())
            .collect(),
        _ => Vec::new(),
    }
}

/// RFC 3339 `YYYY-MM-DDTHH:MM:SS[.fff]Z` under tag 0 (18013-5 tdate) as Unix seconds.
pub fn tdate(value: &Value) -> Option<i64> {
    let text = match value {
        Value::Tag(0, inner) => inner.as_text()?,
        _ => return None,
    };
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !text.ends_with('Z') || bytes[10] != b'T' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let date = crate::card::CalendarDate::new(year as u16, month as u8, day as u8)?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let midnight = UnixTime::from_date(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    );
    Some(midnight.0 + hour * 3600 + minute * 60 + second)
}

fn parse_mso(payload: &[u8]) -> Result<Mso, String> {
    const WHAT: &str = "MSO";
    let outer = cbor::decode(payload, WHAT).map_err(|e| e.to_string())?;
    let inner = cbor::embedded(&outer, WHAT).map_err(|e| e.to_string())?;
    let mso = cbor::decode(inner, WHAT).map_err(|e| e.to_string())?;
    let entries = cbor::map(&mso, WHAT).map_err(|e| e.to_string())?;
    let field = |key| cbor::field(entries, key, WHAT).map_err(|e| e.to_string());
    let text = |key| {
        field(key).and_then(|v| {
            v.as_text()
                .map(str::to_owned)
                .ok_or(format!("{key} is not text"))
        })
    };
    let validity = cbor::map(field("validityInfo")?, WHAT).map_err(|e| e.to_string())?;
    let time = |key: &str| {
        cbor::get(validity, key)
            .and_then(tdate)
            .ok_or(format!("validityInfo.{key} is not a tdate"))
    };
    let device_key_info = cbor::map(field("deviceKeyInfo")?, WHAT).map_err(|e| e.to_string())?;
    Ok(Mso {
        doc_type: text("docType")?,
        digest_algorithm: text("digestAlgorithm")?,
        value_digests: cbor::map(field("valueDigests")?, WHAT)
            .map_err(|e| e.to_string())?
            .to_vec(),
        device_key: cbor::field(device_key_info, "deviceKey", WHAT)
            .map_err(|e| e.to_string())?
            .clone(),
        signed: time("signed")?,
        valid_from: time("validFrom")?,
        valid_until: time("validUntil")?,
    })
}

/// The digest the MSO holds for `namespace`/`digest_id`.
fn signed_digest<'a>(mso: &'a Mso, namespace: &str, digest_id: u64) -> Option<&'a [u8]> {
    let (_, digests) = mso
        .value_digests
        .iter()
        .find(|(ns, _)| ns.as_text() == Some(namespace))?;
    digests
        .as_map()?
        .iter()
        .find(|(id, _)| {
            id.as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .is_some_and(|i| i == digest_id)
        })
        .and_then(|(_, d)| d.as_bytes())
        .map(Vec::as_slice)
}

/// Runs issuer data authentication on `document` for `request` at `now`.
pub fn verify_issuer_auth(
    document: &Document,
    request: &ElementRequest,
    anchors: &IssuerAnchors,
    now: UnixTime,
) -> IssuerAuthOutcome {
    let mut results = Vec::new();
    let verified = run(document, request, anchors, now, &mut results);
    IssuerAuthOutcome { results, verified }
}

/// The issuer's signature over the MSO: `x5chain` by key to `anchors` at `at`, ES256, then
/// the MSO read and its device key checked. Used by the door check and by record
/// re-verification alike.
pub fn verify_mso(issuer_auth: &[u8], anchors: &IssuerAnchors, at: UnixTime) -> IssuerAuthOutcome {
    let mut results = Vec::new();
    let verified = signed_mso(issuer_auth, anchors, at, &mut results);
    IssuerAuthOutcome { results, verified }
}

fn signed_mso(
    issuer_auth: &[u8],
    anchors: &IssuerAnchors,
    now: UnixTime,
    results: &mut Vec<CheckResult>,
) -> Option<VerifiedMso> {
    let sign1 = match CoseSign1::from_slice(issuer_auth) {
        Ok(s) => s,
        Err(e) => {
            results.push(CheckResult::failed(
                CheckId::MdocIssuerSignature,
                Reason::CardDataMalformed,
                format!("issuerAuth is not a COSE_Sign1: {e}"),
            ));
            return None;
        }
    };
    let (chain, signer) = validate_signer(&x5chain(&sign1), anchors, now);
    results.push(chain);
    let signer: VerifiedSigner = signer?;
    let es256 =
        sign1.protected.header.alg == Some(RegisteredLabelWithPrivate::Assigned(Algorithm::ES256));
    if !es256 {
        results.push(CheckResult::failed(
            CheckId::MdocIssuerSignature,
            Reason::UnsupportedAlgorithm,
            "the MSO is not signed with ES256",
        ));
        return None;
    }
    let Some(payload) = sign1.payload.clone() else {
        results.push(CheckResult::failed(
            CheckId::MdocIssuerSignature,
            Reason::CardDataMalformed,
            "the MSO signature has no payload",
        ));
        return None;
    };
    let signature_ok = sign1
        .verify_signature(b"", |sig, data| {
            signer.verify_es256(data, sig).then_some(()).ok_or(())
        })
        .is_ok();
    if !signature_ok {
        results.push(CheckResult::failed(
            CheckId::MdocIssuerSignature,
            Reason::SignatureInvalid,
            "the document signer's signature over the MSO does not verify",
        ));
        return None;
    }
    results.push(CheckResult::passed(
        CheckId::MdocIssuerSignature,
        Reason::Verified,
    ));
    let mso = match parse_mso(&payload) {
        Ok(mso) => mso,
        Err(why) => {
            results.push(CheckResult::failed(
                CheckId::MdocDocType,
                Reason::CardDataMalformed,
                format!("the signed MSO cannot be read: {why}"),
            ));
            return None;
        }
    };
    let device_key = match cose_key_to_public(&mso.device_key) {
        Ok(key) => key,
        Err(e) => {
            results.push(CheckResult::failed(
                CheckId::MdocDeviceAuthentication,
                Reason::CardDataMalformed,
                format!("the MSO's device key: {e}"),
            ));
            return None;
        }
    };
    Some(VerifiedMso {
        device_key,
        doc_type: mso.doc_type.clone(),
        valid_from: mso.valid_from,
        valid_until: mso.valid_until,
        mso,
    })
}

/// `mdoc_validity`: the MSO was valid at `at`.
pub fn tdate_of_mso(mso: &VerifiedMso, at: UnixTime) -> CheckResult {
    if at.0 < mso.valid_from || at.0 < mso.mso.signed {
        CheckResult::failed(
            CheckId::MdocValidity,
            Reason::MsoNotYetValid,
            format!("valid from {}", crate::verify::x509::date(mso.valid_from)),
        )
    } else if at.0 > mso.valid_until {
        CheckResult::failed(
            CheckId::MdocValidity,
            Reason::MsoExpired,
            format!("valid until {}", crate::verify::x509::date(mso.valid_until)),
        )
    } else {
        CheckResult::passed(CheckId::MdocValidity, Reason::Verified)
    }
}

fn run(
    document: &Document,
    request: &ElementRequest,
    anchors: &IssuerAnchors,
    now: UnixTime,
    results: &mut Vec<CheckResult>,
) -> Option<VerifiedMso> {
    let mso = signed_mso(&document.issuer_auth, anchors, now, results)?;
    let doc_type_ok = mso.doc_type == document.doc_type && mso.doc_type == request.doc_type;
    results.push(if doc_type_ok {
        CheckResult::passed(CheckId::MdocDocType, Reason::Verified)
    } else {
        // Names of document types are not personal data.
        CheckResult::failed(
            CheckId::MdocDocType,
            Reason::DocTypeMismatch,
            format!(
                "asked for {}, the document says {}, the issuer signed {}",
                request.doc_type, document.doc_type, mso.doc_type
            ),
        )
    });
    results.push(tdate_of_mso(&mso, now));
    results.push(check_digests(document, &mso.mso));
    let returned: Vec<&str> = document
        .items
        .iter()
        .filter(|i| i.namespace == request.namespace)
        .map(|i| i.element.as_str())
        .collect();
    let missing: Vec<&str> = request
        .elements
        .iter()
        .map(String::as_str)
        .filter(|e| !returned.contains(e))
        .collect();
    results.push(if missing.is_empty() {
        CheckResult::passed(CheckId::MdocElementsComplete, Reason::Verified)
    } else {
        CheckResult::failed(
            CheckId::MdocElementsComplete,
            Reason::ElementsMissing,
            format!("not returned: {}", missing.join(", ")),
        )
    });
    Some(mso)
}

fn check_digests(document: &Document, mso: &Mso) -> CheckResult {
    if mso.digest_algorithm != "SHA-256" {
        return CheckResult::failed(
            CheckId::MdocElementDigests,
            Reason::UnsupportedAlgorithm,
            format!("digest algorithm {}", mso.digest_algorithm),
        );
    }
    for item in &document.items {
        let computed = Sha256::digest(&item.tagged_bytes);
        match signed_digest(mso, &item.namespace, item.digest_id) {
            Some(signed) if signed == computed.as_slice() => {}
            Some(_) => {
                return CheckResult::failed(
                    CheckId::MdocElementDigests,
                    Reason::HashMismatch,
                    format!(
                        "element {} differs from what the issuer signed",
                        item.element
                    ),
                );
            }
            None => {
                return CheckResult::failed(
                    CheckId::MdocElementDigests,
                    Reason::HashMismatch,
                    format!("element {} has no digest in the MSO", item.element),
                );
            }
        }
    }
    CheckResult::passed(CheckId::MdocElementDigests, Reason::Verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tdates_parse_and_nonsense_does_not() {
        let t = |s: &str| tdate(&Value::Tag(0, Box::new(Value::Text(s.into()))));
        assert_eq!(t("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(
            t("2026-12-07T10:00:00.5Z"),
            Some(UnixTime::from_date(2026, 12, 7).0 + 36_000)
        );
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-12-07 10:00:00Z",
            "2026-12-07T10:00:00",
            "x",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
        assert_eq!(tdate(&Value::Text("2026-12-07T10:00:00Z".into())), None);
    }
}
