//! Device engagement (ISO/IEC 18013-5 §8.2): how the reader learns the phone's ephemeral key and
//! how to reach it, from the NFC static handover or from the `mdoc:` QR code, into one
//! [`DeviceEngagement`].
//!
//! The exact bytes of the engagement are kept: they go into the SessionTranscript, which every
//! session key and the device signature are bound to, so a re-encoding would break both.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value;
use p256::PublicKey;

use super::cbor;
use super::error::MdocError;
use super::ndef::{self, TNF_EXTERNAL, TYPE_DEVICE_ENGAGEMENT, TYPE_NFC_CARRIER};

/// The only cipher suite 18013-5 defines (ECDH P-256 … AES-256-GCM, §9.1.5).
pub const CIPHER_SUITE_1: u64 = 1;
/// DeviceRetrievalMethod type of NFC.
const RETRIEVAL_NFC: u64 = 1;
/// Largest QR text honnin decodes.
const MAX_QR_LEN: usize = 4096;

/// How the engagement reached the reader; it decides the SessionTranscript's Handover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// QR code: Handover is `null`.
    Qr,
    /// NFC static handover: Handover is `[HandoverSelect message, null]`.
    NfcStatic { handover_select: Vec<u8> },
}

impl Handover {
    pub fn to_cbor(&self) -> Value {
        match self {
            Handover::Qr => Value::Null,
            Handover::NfcStatic { handover_select } => {
                Value::Array(vec![Value::Bytes(handover_select.clone()), Value::Null])
            }
        }
    }
}

/// The largest APDU data fields the phone accepts and sends over NFC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfcLimits {
    pub max_command_data: usize,
    pub max_response_data: usize,
}

impl NfcLimits {
    /// What a phone that says nothing is assumed to carry: short APDUs.
    pub const SHORT: Self = Self {
        max_command_data: 255,
        max_response_data: 256,
    };
}

/// A parsed device engagement.
#[derive(Debug, Clone)]
pub struct DeviceEngagement {
    /// The DeviceEngagement CBOR exactly as the phone gave it.
    raw: Vec<u8>,
    /// The phone's ephemeral session key (EDeviceKey), checked to be a P-256 point.
    e_device_key: PublicKey,
    handover: Handover,
    /// NFC data-transfer limits, when the phone offers NFC.
    nfc: Option<NfcLimits>,
}

impl DeviceEngagement {
    /// From the text of the phone's QR code: `mdoc:` and the base64url DeviceEngagement.
    pub fn from_qr(text: &str) -> Result<Self, MdocError> {
        if text.len() > MAX_QR_LEN {
            return Err(MdocError::TooLarge {
                what: "QR code",
                len: text.len(),
                max: MAX_QR_LEN,
            });
        }
        let encoded = text
            .trim()
            .strip_prefix("mdoc:")
            .ok_or(MdocError::NotAnMdoc(
                "the QR code does not start with mdoc:",
            ))?;
        let raw = URL_SAFE_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .map_err(|e| MdocError::malformed("QR code", e))?;
        let (e_device_key, nfc) = parse_engagement(&raw)?;
        Ok(Self {
            raw,
            e_device_key,
            handover: Handover::Qr,
            nfc,
        })
    }

    /// From the phone's NDEF Handover Select message (NFC static handover).
    pub fn from_handover_select(message: &[u8]) -> Result<Self, MdocError> {
        let records = ndef::parse_message(message)?;
        let engagement = records
            .iter()
            .find(|r| r.tnf == TNF_EXTERNAL && r.record_type == TYPE_DEVICE_ENGAGEMENT)
            .ok_or(MdocError::NotAnMdoc(
                "the handover has no device engagement record",
            ))?;
        let carrier = records
            .iter()
            .find(|r| r.tnf == TNF_EXTERNAL && r.record_type == TYPE_NFC_CARRIER)
            .map(|r| parse_nfc_carrier(&r.payload))
            .transpose()?;
        let (e_device_key, offered) = parse_engagement(&engagement.payload)?;
        Ok(Self {
            raw: engagement.payload.clone(),
            e_device_key,
            handover: Handover::NfcStatic {
                handover_select: message.to_vec(),
            },
            nfc: carrier.or(offered).or(Some(NfcLimits::SHORT)),
        })
    }

    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn e_device_key(&self) -> &PublicKey {
        &self.e_device_key
    }

    pub fn handover(&self) -> &Handover {
        &self.handover
    }

    /// NFC limits, or `None` when the phone offers no NFC data transfer (BLE-only QR codes).
    pub fn nfc(&self) -> Option<NfcLimits> {
        self.nfc
    }
}

/// `{0: version, 1: [cipher suite, #6.24(COSE_Key)], ? 2: DeviceRetrievalMethods, …}`.
fn parse_engagement(raw: &[u8]) -> Result<(PublicKey, Option<NfcLimits>), MdocError> {
    const WHAT: &str = "device engagement";
    let value = cbor::decode(raw, WHAT)?;
    let entries = cbor::map(&value, WHAT)?;
    let version = cbor::get_int(entries, 0)
        .and_then(Value::as_text)
        .ok_or_else(|| MdocError::malformed(WHAT, "no version"))?;
    if !version.starts_with("1.") {
        return Err(MdocError::Unsupported(format!(
            "engagement version {version}"
        )));
    }
    let security = cbor::get_int(entries, 1)
        .ok_or_else(|| MdocError::malformed(WHAT, "no Security"))
        .and_then(|v| cbor::array(v, WHAT))?;
    let [suite, key] = security else {
        return Err(MdocError::malformed(WHAT, "Security is not [suite, key]"));
    };
    let suite = cbor::uint(suite, WHAT)?;
    if suite != CIPHER_SUITE_1 {
        return Err(MdocError::Unsupported(format!("cipher suite {suite}")));
    }
    let key = cose_key_to_public(&cbor::decode(cbor::embedded(key, WHAT)?, "EDeviceKey")?)?;
    let mut nfc = None;
    if let Some(methods) = cbor::get_int(entries, 2) {
        for method in cbor::array(methods, WHAT)? {
            let parts = cbor::array(method, WHAT)?;
            if parts.len() >= 3 && cbor::uint(&parts[0], WHAT)? == RETRIEVAL_NFC {
                let options = cbor::map(&parts[2], WHAT)?;
                let limit = |k| {
                    cbor::get_int(options, k)
                        .map(|v| cbor::uint(v, WHAT))
                        .transpose()
                };
                nfc = Some(NfcLimits {
                    max_command_data: bounded(limit(0)?.unwrap_or(255)),
                    max_response_data: bounded(limit(1)?.unwrap_or(256)),
                });
            }
        }
    }
    Ok((key, nfc))
}

fn bounded(value: u64) -> usize {
    usize::try_from(value)
        .unwrap_or(usize::MAX)
        .clamp(1, 65_536)
}

/// NFC carrier record payload: version `01`, then two length-prefixed big-endian numbers.
fn parse_nfc_carrier(payload: &[u8]) -> Result<NfcLimits, MdocError> {
    const WHAT: &str = "NFC carrier record";
    let mut input = payload;
    let next = |input: &mut &[u8]| -> Result<u64, MdocError> {
        let (&len, rest) = input
            .split_first()
            .ok_or_else(|| MdocError::malformed(WHAT, "truncated"))?;
        let len = usize::from(len);
        if len == 0 || len > 4 || rest.len() < len {
            return Err(MdocError::malformed(WHAT, "bad length field"));
        }
        let value = rest[..len]
            .iter()
            .fold(0u64, |v, b| (v << 8) | u64::from(*b));
        *input = &rest[len..];
        Ok(value)
    };
    match input.split_first() {
        Some((0x01, rest)) => input = rest,
        _ => return Err(MdocError::malformed(WHAT, "unknown version")),
    }
    Ok(NfcLimits {
        max_command_data: bounded(next(&mut input)?),
        max_response_data: bounded(next(&mut input)?),
    })
}

/// The NFC carrier record payload for `limits` (used by the simulated phone).
pub fn nfc_carrier_payload(limits: NfcLimits) -> Vec<u8> {
    let mut out = vec![0x01];
    for value in [limits.max_command_data, limits.max_response_data] {
        let bytes = (value as u32).to_be_bytes();
        out.push(4);
        out.extend_from_slice(&bytes);
    }
    out
}

/// A COSE_Key (RFC 9052 §7, EC2 on P-256) as a checked public key.
pub fn cose_key_to_public(value: &Value) -> Result<PublicKey, MdocError> {
    const WHAT: &str = "COSE_Key";
    let entries = cbor::map(value, WHAT)?;
    let int = |k| {
        cbor::get_int(entries, k)
            .and_then(Value::as_integer)
            .and_then(|i| i64::try_from(i).ok())
    };
    if int(1) != Some(2) || int(-1) != Some(1) {
        return Err(MdocError::Unsupported(
            "a session or device key other than EC2 P-256".into(),
        ));
    }
    let coordinate = |k| {
        cbor::get_int(entries, k)
            .and_then(Value::as_bytes)
            .filter(|b| b.len() == 32)
            .ok_or_else(|| MdocError::malformed(WHAT, "x or y is not 32 bytes"))
    };
    let mut point = vec![0x04];
    point.extend_from_slice(coordinate(-2)?);
    point.extend_from_slice(coordinate(-3)?);
    PublicKey::from_sec1_bytes(&point).map_err(|_| MdocError::malformed(WHAT, "not a P-256 point"))
}

/// A P-256 public key as a COSE_Key `{1: 2, -1: 1, -2: x, -3: y}`.
pub fn public_to_cose_key(key: &PublicKey) -> Value {
    use p256::elliptic_curve::sec1::ToSec1Point;
    let point = key.to_sec1_point(false);
    let bytes = point.as_bytes();
    let (x, y) = bytes
        .get(1..)
        .unwrap_or(&[])
        .split_at(32.min(bytes.len().saturating_sub(1)));
    Value::Map(vec![
        (Value::Integer(1.into()), Value::Integer(2.into())),
        (Value::Integer((-1).into()), Value::Integer(1.into())),
        (Value::Integer((-2).into()), Value::Bytes(x.to_vec())),
        (Value::Integer((-3).into()), Value::Bytes(y.to_vec())),
    ])
}

/// A DeviceEngagement for `e_device_key` offering NFC with `limits` (the simulated phone's).
pub fn encode_engagement(
    e_device_key: &PublicKey,
    limits: NfcLimits,
) -> Result<Vec<u8>, MdocError> {
    let key = cbor::encode(&public_to_cose_key(e_device_key))?;
    let options = Value::Map(vec![
        (
            Value::Integer(0.into()),
            Value::Integer((limits.max_command_data as u64).into()),
        ),
        (
            Value::Integer(1.into()),
            Value::Integer((limits.max_response_data as u64).into()),
        ),
    ]);
    cbor::encode(&Value::Map(vec![
        (Value::Integer(0.into()), Value::Text("1.0".into())),
        (
            Value::Integer(1.into()),
            Value::Array(vec![
                Value::Integer(CIPHER_SUITE_1.into()),
                cbor::tagged(key),
            ]),
        ),
        (
            Value::Integer(2.into()),
            Value::Array(vec![Value::Array(vec![
                Value::Integer(RETRIEVAL_NFC.into()),
                Value::Integer(1.into()),
                options,
            ])]),
        ),
    ]))
}

/// The `mdoc:` URI of an engagement (what the phone shows as a QR code).
pub fn qr_text(engagement: &[u8]) -> String {
    format!("mdoc:{}", URL_SAFE_NO_PAD.encode(engagement))
}
