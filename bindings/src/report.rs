//! The door check report as Kotlin sees it.
//!
//! The report is an object wrapping the core's report, not a record Kotlin could build: only a
//! check makes one, so a "genuine" report handed back to honnin (to `RecordStore.append`) is
//! always one the verifier made, with the request and time it was made for. Its `toString()` holds no personal data; the holder's verified
//! attributes are behind their own accessor, also redacted in `toString()`.

use std::sync::Arc;

use honnin_core::card::{CalendarDate, Sex};
use honnin_core::check::{
    CheckRequest as CoreRequest, DoorCheckReport as CoreReport, Level, Verdict,
};
use honnin_core::verify::{CheckId, CheckResult as CoreResult, CheckState, UnixTime};

use crate::error::HonninError;

#[uniffi::remote(Enum)]
pub enum Level {
    A,
    M,
    B,
    C,
}

#[uniffi::remote(Enum)]
pub enum Verdict {
    Genuine,
    Forged,
    Inconclusive,
    Refused,
    NotAddressee,
}

#[uniffi::remote(Enum)]
pub enum CheckState {
    Passed,
    Failed,
    NotChecked,
    NotPresent,
}

#[uniffi::remote(Enum)]
pub enum Sex {
    Male,
    Female,
    NotApplicable,
}

#[uniffi::remote(Enum)]
pub enum CheckId {
    CardFaceCvCertificate,
    CardFaceSignature,
    MatchingNumberConsistency,
    LiveChip,
    InputSupportCvCertificate,
    AttributesHash,
    InputSupportSignature,
    CertificateChain,
    CertificateValidity,
    KeyUsage,
    BasicConstraints,
    CertificatePolicy,
    Revocation,
    ChallengeSignature,
    CardExpiry,
    AddresseeMatch,
    PinState,
    FaceConfirmation,
    CardCommunication,
    MdocSession,
    MdocIssuerCertificate,
    MdocIssuerSignature,
    MdocValidity,
    MdocDocType,
    MdocElementDigests,
    MdocElementsComplete,
    MdocDeviceAuthentication,
}

/// One check: which, its state, why (a stable code, and messages for people), and a detail that
/// never holds personal data.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckResult {
    pub check: CheckId,
    pub state: CheckState,
    /// Stable reason code, as records store it (`signature_invalid`, `pin_guard_refused`, …).
    pub reason_code: String,
    pub message_en: String,
    pub message_ja: String,
    pub detail: String,
}

impl From<&CoreResult> for CheckResult {
    fn from(r: &CoreResult) -> Self {
        CheckResult {
            check: r.check,
            state: r.state,
            reason_code: r.reason.code().to_owned(),
            message_en: r.reason.message_en().to_owned(),
            message_ja: r.reason.message_ja().to_owned(),
            detail: r.detail.clone(),
        }
    }
}

/// What a card session cost on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct CardCounters {
    pub apdus: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub tag_losses: u32,
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct Date {
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

impl From<CalendarDate> for Date {
    fn from(d: CalendarDate) -> Self {
        Date {
            year: u32::from(d.year),
            month: u32::from(d.month),
            day: u32::from(d.day),
        }
    }
}

impl TryFrom<Date> for CalendarDate {
    type Error = HonninError;

    fn try_from(d: Date) -> Result<Self, HonninError> {
        let year = u16::try_from(d.year).ok();
        let month = u8::try_from(d.month).ok();
        let day = u8::try_from(d.day).ok();
        year.zip(month)
            .zip(day)
            .and_then(|((year, month), day)| CalendarDate::new(year, month, day))
            .ok_or_else(|| {
                HonninError::invalid_argument(format!(
                    "{:04}-{:02}-{:02} is not a calendar date",
                    d.year, d.month, d.day
                ))
            })
    }
}

/// The outcome of a door check.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct DoorCheckReport {
    report: CoreReport,
    /// What the check was made for and when: the record of this report is built from exactly
    /// these, so Kotlin cannot pair a report with another parcel.
    request: CoreRequest,
    time: UnixTime,
    counters: CardCounters,
}

impl DoorCheckReport {
    pub(crate) fn new(
        report: CoreReport,
        request: CoreRequest,
        time: UnixTime,
        counters: CardCounters,
    ) -> Arc<Self> {
        Arc::new(Self {
            report,
            request,
            time,
            counters,
        })
    }

    /// The core's report, its request and check time, for the record store.
    pub(crate) fn core(&self) -> (&CoreReport, &CoreRequest, UnixTime) {
        (&self.report, &self.request, self.time)
    }
}

impl std::fmt::Display for DoorCheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DoorCheckReport(level {:?}, {}, {} checks)",
            self.report.level(),
            self.report.verdict().code(),
            self.report.checks().len()
        )
    }
}

#[uniffi::export]
impl DoorCheckReport {
    pub fn level(&self) -> Level {
        self.report.level()
    }

    pub fn verdict(&self) -> Verdict {
        self.report.verdict()
    }

    /// What the courier or clerk is told, in English.
    pub fn verdict_message_en(&self) -> String {
        self.report.verdict().message_en().to_owned()
    }

    /// What the courier or clerk is told, in Japanese.
    pub fn verdict_message_ja(&self) -> String {
        self.report.verdict().message_ja().to_owned()
    }

    /// Every check the level requires, in the order they ran; "not checked" where the flow
    /// stopped before them.
    pub fn checks(&self) -> Vec<CheckResult> {
        self.report.checks().iter().map(CheckResult::from).collect()
    }

    pub fn check(&self, id: CheckId) -> Option<CheckResult> {
        self.report.check(id).map(CheckResult::from)
    }

    /// The first failed check, which is what the courier is told first.
    pub fn first_failure(&self) -> Option<CheckResult> {
        self.report.first_failure().map(CheckResult::from)
    }

    /// The holder's attributes that passed their issuer's signature; `None` when none did.
    pub fn verified_attributes(&self) -> Option<Arc<VerifiedAttributes>> {
        let attributes = self.report.evidence().attributes.as_ref()?;
        Some(Arc::new(VerifiedAttributes {
            name: attributes.name.clone(),
            address: attributes.address.clone(),
            birth_date: attributes.birth_date,
            sex: attributes.sex,
            source: attributes.source,
        }))
    }

    /// APDUs and bytes the check exchanged with the card.
    pub fn counters(&self) -> CardCounters {
        self.counters
    }
}

/// The holder's verified attributes. Personal data: show them, never log them (`toString()` is
/// redacted).
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct VerifiedAttributes {
    name: String,
    address: String,
    birth_date: CalendarDate,
    sex: Sex,
    source: &'static str,
}

impl std::fmt::Display for VerifiedAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifiedAttributes(from {}, redacted)", self.source)
    }
}

#[uniffi::export]
impl VerifiedAttributes {
    /// Empty at level A, where the name is an image compared by eye.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Empty at level A, where the address is an image.
    pub fn address(&self) -> String {
        self.address.clone()
    }

    pub fn birth_date(&self) -> Date {
        self.birth_date.into()
    }

    pub fn sex(&self) -> Sex {
        self.sex
    }

    /// `card_face` (A), `input_support` (B) or `signing_certificate` (C).
    pub fn source(&self) -> String {
        self.source.to_owned()
    }
}
