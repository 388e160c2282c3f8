//! The signed body of a proof record (format `honnin.record.v1`), and the draft a door check
//! makes before the store gives it its place in the chain.
//!
//! Every field is always present (`null` when it does not apply), so a body has exactly one
//! canonical encoding. The level and the verdict are closed sets, parsed into their enums at
//! this boundary: a record with any other code (`"c"`, `"D"`, `"genuine!"`) is refused, so no
//! verifier can route it down the wrong level's checks. Check codes (check, state, reason) are
//! stored as the strings `honnin.check.v1` uses, so a record made by a newer honnin with a new
//! reason code still parses and verifies here. The face image, the Individual Number and its hash (DF31), and
//! PINs have no field.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::canonical::MAX_SAFE_INTEGER;
use super::error::RecordError;
use super::signer::{DeviceKey, hex_lower};
use crate::check::{CheckRequest, DoorCheckReport, Level, Verdict};
use crate::verify::UnixTime;

/// The value of `format` in every body of this version.
pub const FORMAT_V1: &str = "honnin.record.v1";

/// Which of the holder's attributes the sender's policy wants in its records. Default: none.
///
/// Level C records carry the signing certificate whatever this says, because the sender needs
/// it to verify the card's signature, and that certificate holds name, address, birth date and
/// sex (the attributes 犯収法 asks for with that method).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttributePolicy {
    pub name: bool,
    pub address: bool,
    pub birth_date: bool,
    pub sex: bool,
}

impl AttributePolicy {
    pub const ALL: AttributePolicy = AttributePolicy {
        name: true,
        address: true,
        birth_date: true,
        sex: true,
    };

    /// The requested attribute names, in the fixed order name, address, birth_date, sex.
    pub fn names(self) -> Vec<String> {
        [
            (self.name, "name"),
            (self.address, "address"),
            (self.birth_date, "birth_date"),
            (self.sex, "sex"),
        ]
        .into_iter()
        .filter(|(wanted, _)| *wanted)
        .map(|(_, name)| name.to_owned())
        .collect()
    }
}

impl std::str::FromStr for AttributePolicy {
    type Err = String;

    /// A comma-separated list of `name`, `address`, `birth_date`, `sex`; `none` or empty for none.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut policy = AttributePolicy::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "none" => {}
                "all" => policy = AttributePolicy::ALL,
                "name" => policy.name = true,
                "address" => policy.address = true,
                "birth_date" => policy.birth_date = true,
                "sex" => policy.sex = true,
                _ => {
                    return Err(format!(
                        "unknown attribute {part:?}: use name, address, birth_date, sex, all or none"
                    ));
                }
            }
        }
        Ok(policy)
    }
}

/// Where the check was made. A record says `"station": "counter"` when a post-office clerk made
/// it (`honnin console`); a door check leaves the field out, so every record made before the field
/// existed is a door record and keeps its exact canonical bytes. Only one encoding per meaning:
/// an explicit `"door"` is refused at parsing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Station {
    /// A courier's handheld at the door (the field is absent).
    #[default]
    Door,
    /// A clerk's PC at a post-office counter.
    Counter,
}

impl Station {
    pub fn code(self) -> &'static str {
        match self {
            Station::Door => "door",
            Station::Counter => "counter",
        }
    }

    fn is_door(&self) -> bool {
        *self == Station::Door
    }
}

/// Who made the record, when, and what the sender's policy wants kept.
#[derive(Debug, Clone)]
pub struct RecordContext {
    pub courier_id: String,
    /// When the record is made (normally the check's time).
    pub time: UnixTime,
    pub policy: AttributePolicy,
}

/// One check of the report: its id, state, reason code and the person-readable detail (which
/// never holds personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckEntry {
    pub check: String,
    pub detail: String,
    pub reason: String,
    pub state: String,
}

/// What the card signed: the time and nonce of the challenge (item, sender and device ids are
/// the record's own), and the 32-byte challenge itself so a recomputation can be compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeEntry {
    /// `honnin/challenge/v1` digest, lowercase hex.
    pub digest: String,
    /// 32 bytes, lowercase hex.
    pub nonce: String,
    pub time: i64,
}

/// Level A: the issuer signature over the card-face data, and the digest of the signed bytes
/// (the bytes hold the face photo and stay on the device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardFaceEntry {
    /// `DF28`, base64.
    pub signature: String,
    /// SHA-256 of `DF21`–`DF27` ‖ `DF29` as signed, lowercase hex.
    pub signed_digest: String,
}

/// The holder's attributes the policy asked for, as far as the card gave them as text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributesEntry {
    pub address: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub name: Option<String>,
    /// `male`, `female` or `not_applicable`.
    pub sex: Option<String>,
    /// `input_support` (B), `signing_certificate` (C) or `card_face` (A).
    pub source: String,
}

impl std::fmt::Debug for AttributesEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttributesEntry(from {}, redacted)", self.source)
    }
}

/// The signed body. Made only from a door check's report ([`RecordDraft`]) or parsed from a
/// record whose signature then verifies, so a body with a verdict no check produced cannot be
/// built through this API.
///
/// The fields of this type and of every entry in it are declared in canonical member order
/// (sorted by name), so serde writes them as canonical JSON does: reading a stored record then
/// compares its bytes with that encoding instead of building a JSON value
/// ([`SignedRecord::parse_envelope`](super::SignedRecord::parse_envelope)). A field out of order
/// costs only that speed (the order is checked as the bytes go by), and a test fails on it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    pub(crate) attributes: Option<AttributesEntry>,
    pub(crate) attributes_requested: Vec<String>,
    pub(crate) card_face: Option<CardFaceEntry>,
    pub(crate) card_signature: Option<String>,
    pub(crate) certificates: Vec<String>,
    pub(crate) challenge: Option<ChallengeEntry>,
    pub(crate) checks: Vec<CheckEntry>,
    pub(crate) courier_id: String,
    pub(crate) device_id: String,
    pub(crate) device_key_id: String,
    pub(crate) format: String,
    pub(crate) item_id: String,
    pub(crate) level: Level,
    /// Level M only; absent (and so not in the signed bytes) for card records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mdoc: Option<super::mdoc_entry::MdocEntry>,
    pub(crate) prev_hash: String,
    pub(crate) record_id: String,
    pub(crate) sender_id: String,
    pub(crate) seq: u64,
    /// Absent for door records (see [`Station`]).
    #[serde(default, skip_serializing_if = "Station::is_door")]
    pub(crate) station: Station,
    pub(crate) time: i64,
    pub(crate) verdict: Verdict,
}

impl std::fmt::Debug for RecordBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RecordBody(#{} {}, level {}, {})",
            self.seq,
            self.record_id,
            self.level.code(),
            self.verdict.code()
        )
    }
}

impl RecordBody {
    pub fn record_id(&self) -> &str {
        &self.record_id
    }
    /// The record's position in its device's chain, from 1.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    pub fn prev_hash(&self) -> &str {
        &self.prev_hash
    }
    pub fn device_id(&self) -> &str {
        &self.device_id
    }
    pub fn device_key_id(&self) -> &str {
        &self.device_key_id
    }
    pub fn courier_id(&self) -> &str {
        &self.courier_id
    }
    pub fn item_id(&self) -> &str {
        &self.item_id
    }
    pub fn sender_id(&self) -> &str {
        &self.sender_id
    }
    pub fn time(&self) -> UnixTime {
        UnixTime(self.time)
    }
    pub fn level(&self) -> Level {
        self.level
    }
    /// The verdict the device recorded: its word, which re-verification does not change.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }
    pub fn checks(&self) -> &[CheckEntry] {
        &self.checks
    }
    pub fn challenge(&self) -> Option<&ChallengeEntry> {
        self.challenge.as_ref()
    }
    pub fn card_signature(&self) -> Option<&str> {
        self.card_signature.as_deref()
    }
    /// Base64 DER certificates, end-entity first.
    pub fn certificates(&self) -> &[String] {
        &self.certificates
    }
    pub fn card_face(&self) -> Option<&CardFaceEntry> {
        self.card_face.as_ref()
    }
    pub fn attributes_requested(&self) -> &[String] {
        &self.attributes_requested
    }
    pub fn attributes(&self) -> Option<&AttributesEntry> {
        self.attributes.as_ref()
    }
    /// Door or counter: signed with the rest of the body.
    pub fn station(&self) -> Station {
        self.station
    }
    /// Level M: the phone's evidence.
    pub fn mdoc(&self) -> Option<&super::mdoc_entry::MdocEntry> {
        self.mdoc.as_ref()
    }
}

/// Where a record goes in its chain: its sequence number and the hash of the record before it
/// (32 zero bytes for the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainLink {
    pub seq: u64,
    pub prev_hash: [u8; 32],
}

impl ChainLink {
    pub const GENESIS: ChainLink = ChainLink {
        seq: 1,
        prev_hash: [0u8; 32],
    };
}

/// A door check turned into a record, not yet placed in a chain nor signed.
#[derive(Clone)]
pub struct RecordDraft {
    body: RecordBody,
}

impl std::fmt::Debug for RecordDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RecordDraft(level {}, {})",
            self.body.level.code(),
            self.body.verdict.code()
        )
    }
}

/// Longest id honnin accepts (item, sender, device, courier), in bytes.
pub const MAX_ID_LEN: usize = 256;

fn checked_id(field: &'static str, value: &str) -> Result<String, RecordError> {
    if value.is_empty() {
        return Err(RecordError::InvalidField {
            field,
            why: "it is empty",
        });
    }
    if value.len() > MAX_ID_LEN {
        return Err(RecordError::InvalidField {
            field,
            why: "it is longer than 256 bytes",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(RecordError::InvalidField {
            field,
            why: "it holds control characters",
        });
    }
    Ok(value.to_owned())
}

fn safe_time(field: &'static str, time: UnixTime) -> Result<(), RecordError> {
    if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&time.0) {
        Ok(())
    } else {
        Err(RecordError::InvalidField {
            field,
            why: "it is out of range",
        })
    }
}

fn code_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(code)) => code,
        // Every enum this is used with serialises as a string.
        _ => String::from("unknown"),
    }
}

impl RecordDraft {
    /// The record of `report`, a check made for `request`, keeping the attributes `context`'s
    /// policy asks for.
    pub fn from_check(
        report: &DoorCheckReport,
        request: &CheckRequest,
        context: &RecordContext,
    ) -> Result<Self, RecordError> {
        let item_id = checked_id("item id", &request.item_id)?;
        let sender_id = checked_id("sender id", &request.sender_id)?;
        let device_id = checked_id("device id", &request.device_id)?;
        let courier_id = checked_id("courier id", &context.courier_id)?;
        safe_time("time", context.time)?;
        let evidence = report.evidence();
        let challenge = match &evidence.challenge {
            None => None,
            Some(inputs) => {
                for (field, bound, own) in [
                    ("item id", &inputs.item_id, &item_id),
                    ("sender id", &inputs.sender_id, &sender_id),
                    ("device id", &inputs.device_id, &device_id),
                ] {
                    if bound != own {
                        return Err(RecordError::ChallengeMismatch { field });
                    }
                }
                safe_time("challenge time", inputs.time)?;
                Some(ChallengeEntry {
                    time: inputs.time.0,
                    nonce: hex_lower(&inputs.nonce),
                    digest: hex_lower(&inputs.digest()),
                })
            }
        };
        let policy = context.policy;
        let attributes = evidence.attributes.as_ref().and_then(|a| {
            let text =
                |wanted: bool, value: &str| (wanted && !value.is_empty()).then(|| value.to_owned());
            let entry = AttributesEntry {
                source: a.source.to_owned(),
                name: text(policy.name, &a.name),
                address: text(policy.address, &a.address),
                birth_date: policy.birth_date.then(|| a.birth_date.to_string()),
                sex: policy.sex.then(|| code_of(&a.sex)),
            };
            let any = entry.name.is_some()
                || entry.address.is_some()
                || entry.birth_date.is_some()
                || entry.sex.is_some();
            any.then_some(entry)
        });
        let body = RecordBody {
            format: FORMAT_V1.to_owned(),
            record_id: String::new(),
            seq: 0,
            prev_hash: String::new(),
            device_id,
            device_key_id: String::new(),
            courier_id,
            item_id,
            sender_id,
            time: context.time.0,
            level: report.level(),
            verdict: report.verdict(),
            checks: report
                .checks()
                .iter()
                .map(|r| CheckEntry {
                    check: code_of(&r.check),
                    state: code_of(&r.state),
                    reason: r.reason.code().to_owned(),
                    detail: r.detail.clone(),
                })
                .collect(),
            challenge,
            card_signature: evidence.card_signature.as_ref().map(|s| BASE64.encode(s)),
            certificates: evidence
                .certificates
                .iter()
                .map(|c| BASE64.encode(c))
                .collect(),
            card_face: match (
                &evidence.card_face_signed_digest,
                &evidence.card_face_signature,
            ) {
                (Some(digest), Some(signature)) => Some(CardFaceEntry {
                    signed_digest: hex_lower(digest),
                    signature: BASE64.encode(signature),
                }),
                _ => None,
            },
            attributes_requested: policy.names(),
            attributes,
            station: Station::Door,
            mdoc: evidence
                .mdoc
                .as_ref()
                .map(super::mdoc_entry::MdocEntry::from),
        };
        Ok(Self { body })
    }

    /// The same record, made at `station` (a door check is the default).
    pub fn at_station(mut self, station: Station) -> Self {
        self.body.station = station;
        self
    }

    pub fn device_id(&self) -> &str {
        &self.body.device_id
    }

    pub fn time(&self) -> UnixTime {
        UnixTime(self.body.time)
    }

    /// The body with its id, chain place and signing key filled in.
    pub(crate) fn into_body(
        self,
        record_id: &[u8; 16],
        link: ChainLink,
        key: &DeviceKey,
    ) -> RecordBody {
        let mut body = self.body;
        body.record_id = hex_lower(record_id);
        body.seq = link.seq;
        body.prev_hash = hex_lower(&link.prev_hash);
        body.device_key_id = key.id_hex();
        body
    }
}
