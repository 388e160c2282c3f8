//! A signed record: the body, its canonical bytes, the device signature and the chain hash.
//!
//! Envelope (what is stored and sent): `{"body": <body>, "device_signature": <base64 r‖s>}`,
//! itself written in canonical JSON. The signature is ECDSA P-256 / SHA-256 over the canonical
//! body bytes; the record's hash, which the next record names in `prev_hash`, is SHA-256 of the
//! same bytes. The signature is not part of the hash, so ECDSA's malleability cannot change a
//! record's identity.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::body::{ChainLink, FORMAT_V1, RecordBody, RecordDraft};
use super::canonical::{encodes_canonically_as, to_canonical_bytes, to_canonical_vec};
use super::error::RecordError;
use super::signer::{DeviceKey, DeviceSigner, hex_lower, parse_hex};
use crate::check::{Level, Verdict};

/// A record with its device signature. [`SignedRecord::parse`] does not check the signature:
/// call [`SignedRecord::verify`] with the device key the record should come from.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRecord {
    body: RecordBody,
    canonical_body: Vec<u8>,
    signature: [u8; 64],
    hash: [u8; 32],
}

impl std::fmt::Debug for SignedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignedRecord({:?})", self.body)
    }
}

impl SignedRecord {
    /// Places `draft` at `link`, and signs it with `signer`, whose public key is `key`.
    pub fn sign(
        draft: RecordDraft,
        record_id: &[u8; 16],
        link: ChainLink,
        signer: &dyn DeviceSigner,
        key: &DeviceKey,
    ) -> Result<Self, RecordError> {
        let body = draft.into_body(record_id, link, key);
        let canonical_body = canonical_body_bytes(&body)?;
        let returned = signer.sign(&canonical_body)?;
        let signature = key.accept_signature(&canonical_body, &returned)?;
        let hash = Sha256::digest(&canonical_body).into();
        Ok(Self {
            body,
            canonical_body,
            signature,
            hash,
        })
    }

    /// Reads an envelope. Checks its shape and canonical form, not the signature.
    pub fn parse(bytes: &[u8]) -> Result<Self, RecordError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed {
            why: format!("not JSON (line {}, column {})", e.line(), e.column()),
        })?;
        Self::from_value(value)
    }

    /// [`SignedRecord::parse`] for an envelope exactly as [`SignedRecord::to_envelope_bytes`]
    /// writes it (what the store seals), in about half the time: the body is read straight into
    /// its type and encoded again, and only when that encoding is byte for byte the body given
    /// is it taken. Any other input (whitespace, another member order, an escape, an unknown
    /// field) goes through [`SignedRecord::parse`], so the outcome, record or error, is the same.
    pub fn parse_envelope(bytes: &[u8]) -> Result<Self, RecordError> {
        match Self::parse_exact(bytes) {
            Some(record) => Ok(record),
            None => Self::parse(bytes),
        }
    }

    /// `{"body":<canonical body>,"device_signature":"<88 base64 characters>"}`, then only
    /// spaces (the store's padding); `None` for anything else.
    pub(super) fn parse_exact(bytes: &[u8]) -> Option<Self> {
        const HEAD: &[u8] = b"{\"body\":";
        const SIGNATURE: &[u8] = b",\"device_signature\":\"";
        const SIGNATURE_B64: usize = 88;
        let end = bytes.iter().rposition(|b| *b != b' ')? + 1;
        let rest = bytes[..end].strip_prefix(HEAD)?.strip_suffix(b"\"}")?;
        let split = rest.len().checked_sub(SIGNATURE.len() + SIGNATURE_B64)?;
        let (body_bytes, tail) = rest.split_at(split);
        let encoded = tail.strip_prefix(SIGNATURE)?;
        let signature = BASE64
            .decode(encoded)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())?;
        let body: RecordBody = serde_json::from_slice(body_bytes).ok()?;
        if body.format != FORMAT_V1
            || parse_hex::<16>(&body.record_id).is_none()
            || parse_hex::<32>(&body.prev_hash).is_none()
            || parse_hex::<32>(&body.device_key_id).is_none()
        {
            return None;
        }
        // The body's types are declared in canonical member order, so its encoding is the
        // canonical form (checked as it is written), and equal bytes mean the body given was
        // canonical, with every field, and nothing else: what `parse` checks through a JSON
        // value (its level, verdict and station are typed and so within their codes). Compared
        // as it is encoded: no JSON value, no second copy of the body.
        if !encodes_canonically_as(&body, body_bytes) {
            return None;
        }
        let canonical_body = body_bytes.to_vec();
        let hash = Sha256::digest(&canonical_body).into();
        Some(Self {
            body,
            canonical_body,
            signature,
            hash,
        })
    }

    /// Reads an envelope already parsed as JSON.
    pub fn from_value(value: Value) -> Result<Self, RecordError> {
        let Value::Object(mut envelope) = value else {
            return Err(malformed("the envelope is not a JSON object"));
        };
        if envelope.len() != 2 {
            return Err(RecordError::NotCanonical {
                why: "the envelope must hold exactly body and device_signature",
            });
        }
        let body_value = envelope
            .remove("body")
            .ok_or_else(|| malformed("no body"))?;
        let signature = match envelope.remove("device_signature") {
            Some(Value::String(text)) => BASE64
                .decode(text.as_bytes())
                .ok()
                .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
                .ok_or_else(|| malformed("device_signature is not 64 bytes in base64"))?,
            _ => return Err(malformed("no device_signature")),
        };
        let canonical_body = to_canonical_bytes(&body_value)?;
        check_closed_codes(&body_value)?;
        let body = RecordBody::deserialize(&body_value)
            // serde's message may quote a value, which can be personal: say only what is wrong.
            .map_err(|_| malformed("the body does not have the fields of honnin.record.v1"))?;
        if body.format != FORMAT_V1 {
            return Err(malformed(
                "unknown format (this honnin reads honnin.record.v1)",
            ));
        }
        let again =
            serde_json::to_value(&body).map_err(|_| malformed("the body cannot be re-encoded"))?;
        if again != body_value {
            return Err(RecordError::NotCanonical {
                why: "a field is missing, or null where the format has a value",
            });
        }
        check_hex::<16>(&body.record_id, "record_id")?;
        check_hex::<32>(&body.prev_hash, "prev_hash")?;
        check_hex::<32>(&body.device_key_id, "device_key_id")?;
        let hash = Sha256::digest(&canonical_body).into();
        Ok(Self {
            body,
            canonical_body,
            signature,
            hash,
        })
    }

    /// Checks that `key` signed this record and is the key the record names.
    pub fn verify(&self, key: &DeviceKey) -> Result<(), RecordError> {
        // Parsing holds device_key_id to 64 lowercase hex digits, the form `id_hex` writes:
        // comparing the bytes it names compares the text, without writing the key's id out.
        if parse_hex::<32>(&self.body.device_key_id) != Some(key.id()) {
            return Err(RecordError::ForeignKey {
                expected: key.id_hex(),
                found: self.body.device_key_id.clone(),
            });
        }
        if key.verifies(&self.canonical_body, &self.signature) {
            Ok(())
        } else {
            Err(RecordError::SignatureInvalid)
        }
    }

    pub fn body(&self) -> &RecordBody {
        &self.body
    }

    /// SHA-256 of the canonical body: what the next record's `prev_hash` holds.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    pub fn hash_hex(&self) -> String {
        hex_lower(&self.hash)
    }

    /// The 64-byte `r ‖ s` device signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The exact bytes the signature and the hash are over.
    pub fn canonical_body(&self) -> &[u8] {
        &self.canonical_body
    }

    /// Where this record sits in its chain.
    pub fn link(&self) -> ChainLink {
        ChainLink {
            seq: self.body.seq,
            prev_hash: parse_hex::<32>(&self.body.prev_hash).unwrap_or([0u8; 32]),
        }
    }

    /// The canonical envelope bytes.
    pub fn to_envelope_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.envelope_len());
        self.write_envelope(&mut out);
        out
    }

    /// The length of [`SignedRecord::to_envelope_bytes`], so a buffer for it (and the store's
    /// padding) is allocated once and the record is never left behind in a reallocation.
    pub fn envelope_len(&self) -> usize {
        // {"body":  ,"device_signature":"  <88 base64 characters>  "}
        8 + self.canonical_body.len() + 21 + 88 + 2
    }

    /// Appends the canonical envelope bytes to `out`.
    pub fn write_envelope(&self, out: &mut Vec<u8>) {
        let mut signature = [0u8; 88];
        // 64 bytes are exactly 88 base64 characters, so this cannot fail.
        let written = BASE64
            .encode_slice(self.signature, &mut signature)
            .unwrap_or(0);
        // Canonical member order: "body" < "device_signature".
        out.extend_from_slice(b"{\"body\":");
        out.extend_from_slice(&self.canonical_body);
        out.extend_from_slice(b",\"device_signature\":\"");
        out.extend_from_slice(&signature[..written]);
        out.extend_from_slice(b"\"}");
    }

    /// The envelope as JSON (for pretty printing; sign and hash only over canonical bytes).
    pub fn to_json_value(&self) -> Value {
        serde_json::json!({
            "body": serde_json::to_value(&self.body).unwrap_or(Value::Null),
            "device_signature": BASE64.encode(self.signature),
        })
    }
}

fn canonical_body_bytes(body: &RecordBody) -> Result<Vec<u8>, RecordError> {
    // Straight from the body's fields; the JSON value only where that path declines.
    if let Some(bytes) = to_canonical_vec(body) {
        return Ok(bytes);
    }
    let value = serde_json::to_value(body).map_err(|_| malformed("the body cannot be encoded"))?;
    Ok(to_canonical_bytes(&value)?)
}

fn check_hex<const N: usize>(text: &str, field: &str) -> Result<(), RecordError> {
    parse_hex::<N>(text)
        .map(|_| ())
        .ok_or_else(|| malformed(&format!("{field} is not {N} bytes in lowercase hex")))
}

fn malformed(why: &str) -> RecordError {
    RecordError::Malformed {
        why: why.to_owned(),
    }
}

/// Refuses a body whose `level` or `verdict` is not one of honnin.record.v1's codes, with a
/// message that says which field (not its value, which a hostile device chose).
fn check_closed_codes(body: &Value) -> Result<(), RecordError> {
    let level = body.get("level").and_then(Value::as_str);
    if level
        .and_then(|code| serde_json::from_value::<Level>(code.into()).ok())
        .is_none()
    {
        return Err(malformed(
            "the level is not one of the codes A, B, C (exactly, in capitals)",
        ));
    }
    let verdict = body.get("verdict").and_then(Value::as_str);
    if verdict
        .and_then(|code| serde_json::from_value::<Verdict>(code.into()).ok())
        .is_none()
    {
        return Err(malformed(
            "the verdict is not one of genuine, forged, inconclusive, refused, not_addressee",
        ));
    }
    // Absent means door; the only value written is "counter" (one encoding per meaning).
    match body.get("station") {
        None => {}
        Some(Value::String(code)) if code == "counter" => {}
        Some(Value::String(code)) if code == "door" => {
            return Err(RecordError::NotCanonical {
                why: "a door record leaves station out instead of writing \"door\"",
            });
        }
        Some(_) => {
            return Err(malformed(
                "the station is not counter (door records omit it)",
            ));
        }
    }
    Ok(())
}
