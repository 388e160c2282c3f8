//! The phone check end to end: engagement, session, request, issuer and device authentication,
//! addressee, then the courier's look at the portrait — into the same [`DoorCheckReport`] the card
//! levels give, at level [`Level::M`].
//!
//! Every required check is reported; one the flow did not reach is "not checked", so a phone
//! that stops mid-transfer is `inconclusive` with `card_removed`, a phone that returns only some
//! elements is `inconclusive` with `elements_missing`, and only a phone that passed everything
//! and whose portrait the courier confirmed is `genuine`.

use ciborium::Value;
use zeroize::Zeroizing;

use super::anchors::IssuerAnchors;
use super::device_auth::verify_device_auth;
use super::engagement::DeviceEngagement;
use super::error::MdocError;
use super::evidence::MdocEvidence;
use super::issuer_auth::verify_issuer_auth;
use super::ndef::read_handover_select;
use super::profile::MdocProfile;
use super::request::ElementRequest;
use super::response::{DeviceAuth, Document, parse_device_response};
use super::session::ReaderSession;
use super::transfer::NfcLink;
use crate::card::{CalendarDate, Sex};
use crate::check::{
    CheckRequest, DoorCheckReport, Evidence, FaceDecision, Level, Verdict, VerifiedAttributes,
};
use crate::reader::Counters;
use crate::record::AttributePolicy;
use crate::transport::{CardTransport, TransportError};
use crate::verify::addressee::{HolderAttributes, match_addressee};
use crate::verify::{CheckId, CheckResult, CheckState, Clock, RandomSource, Reason};

/// How the phone engaged.
#[derive(Debug, Clone, Copy)]
pub enum Engagement<'a> {
    /// NFC static handover: read from the phone's NDEF file over the same link.
    Nfc,
    /// The text of the QR code the phone shows.
    Qr(&'a str),
}

/// The phone check's configuration: issuer anchors and the document profile.
#[derive(Debug, Clone)]
pub struct PhoneVerifier {
    anchors: IssuerAnchors,
    profile: MdocProfile,
}

/// Level M after the phone was read and verified, waiting for the courier's look at the portrait.
pub struct AwaitingPortraitConfirmation {
    steps: Vec<CheckResult>,
    evidence: Evidence,
    portrait: Option<Zeroizing<Vec<u8>>>,
    addressee: Option<CheckResult>,
    counters: Counters,
}

impl std::fmt::Debug for AwaitingPortraitConfirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AwaitingPortraitConfirmation({} checks)",
            self.steps.len()
        )
    }
}

impl PhoneVerifier {
    pub fn new(anchors: IssuerAnchors, profile: MdocProfile) -> Self {
        Self { anchors, profile }
    }

    pub fn profile(&self) -> &MdocProfile {
        &self.profile
    }

    pub fn anchors(&self) -> &IssuerAnchors {
        &self.anchors
    }

    /// Runs the check on the phone behind `transport`.
    pub fn check_phone<T: CardTransport>(
        &self,
        transport: T,
        request: &CheckRequest,
        policy: AttributePolicy,
        engagement: Engagement<'_>,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
    ) -> AwaitingPortraitConfirmation {
        let wanted = ElementRequest::door_check(&self.profile, request.addressee.as_ref(), policy);
        let mut link = NfcLink::new(transport);
        let mut awaiting = AwaitingPortraitConfirmation {
            steps: Vec::new(),
            evidence: Evidence::default(),
            portrait: None,
            addressee: None,
            counters: Counters::default(),
        };
        match self.exchange(&mut link, &wanted, engagement, random) {
            Err(error) => awaiting.steps.extend(communication_failure(&error)),
            Ok((transcript, document)) => {
                awaiting.steps.push(CheckResult::passed(
                    CheckId::CardCommunication,
                    Reason::Verified,
                ));
                awaiting
                    .steps
                    .push(CheckResult::passed(CheckId::MdocSession, Reason::Verified));
                self.verify(
                    &mut awaiting,
                    &wanted,
                    request,
                    policy,
                    transcript,
                    document,
                    clock,
                );
            }
        }
        awaiting.counters = link.counters();
        awaiting
    }

    /// Engagement, session, request and response: the phone's document, still unverified.
    fn exchange<T: CardTransport>(
        &self,
        link: &mut NfcLink<T>,
        wanted: &ElementRequest,
        engagement: Engagement<'_>,
        random: &mut dyn RandomSource,
    ) -> Result<(Vec<u8>, Document), MdocError> {
        let engagement = match engagement {
            Engagement::Nfc => {
                DeviceEngagement::from_handover_select(&read_handover_select(link)?)?
            }
            Engagement::Qr(text) => DeviceEngagement::from_qr(text)?,
        };
        let limits = engagement.nfc().ok_or(MdocError::Unsupported(
            "only BLE or Wi-Fi data transfer (honnin reads phones over NFC)".into(),
        ))?;
        link.set_limits(limits);
        let mut session = ReaderSession::establish(&engagement, random)?;
        link.select_mdoc()?;
        let establishment = session.establishment(&wanted.device_request()?)?;
        let answer = link.exchange(&establishment)?;
        let response = session.open_session_data(&answer)?;
        // The session is over for the phone too; a phone that does not take the termination
        // has already answered, so its failure changes nothing.
        let _ = link.exchange(&ReaderSession::termination()?);
        let document = parse_device_response(&response)?;
        Ok((session.transcript().as_bytes().to_vec(), document))
    }

    #[allow(clippy::too_many_arguments)]
    fn verify(
        &self,
        awaiting: &mut AwaitingPortraitConfirmation,
        wanted: &ElementRequest,
        request: &CheckRequest,
        policy: AttributePolicy,
        transcript: Vec<u8>,
        document: Document,
        clock: &dyn Clock,
    ) {
        let now = clock.now();
        let issuer = verify_issuer_auth(&document, wanted, &self.anchors, now);
        awaiting.steps.extend(issuer.results);
        let device_signature = match &document.device_auth {
            DeviceAuth::Signature(s) => coset::CborSerializable::to_vec((**s).clone()).ok(),
            DeviceAuth::Mac(_) => None,
        };
        awaiting.evidence.mdoc = Some(MdocEvidence::new(
            &document,
            transcript.clone(),
            device_signature,
            &self.profile,
            policy,
        ));
        let Some(mso) = issuer.verified else {
            return;
        };
        let transcript_value = match super::cbor::decode(&transcript, "SessionTranscript") {
            Ok(v) => v,
            Err(e) => {
                awaiting.steps.push(CheckResult::failed(
                    CheckId::MdocDeviceAuthentication,
                    Reason::CardDataMalformed,
                    e.to_string(),
                ));
                return;
            }
        };
        awaiting.steps.push(verify_device_auth(
            &document.device_auth,
            &mso.device_key,
            &transcript_value,
            &document.doc_type,
            &document.device_namespaces,
        ));
        // Only elements under a verified digest count; the digest check above failed the whole
        // document if any one was altered.
        if awaiting
            .steps
            .iter()
            .any(|r| r.check == CheckId::MdocElementDigests && r.state != CheckState::Passed)
        {
            return;
        }
        let element = |name: &str| {
            document
                .items
                .iter()
                .find(|i| i.namespace == self.profile.namespace && i.element == name)
                .map(|i| &i.value)
        };
        awaiting.portrait = element(&self.profile.portrait)
            .and_then(Value::as_bytes)
            .map(|b| Zeroizing::new(b.clone()));
        let text = |name: &str| element(name).and_then(Value::as_text).unwrap_or("");
        let name = [
            text(&self.profile.family_name),
            text(&self.profile.given_name),
        ]
        .iter()
        .filter(|t| !t.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
        let address = text(&self.profile.resident_address).to_owned();
        let birth_date = element(&self.profile.birth_date).and_then(full_date);
        let sex = element(&self.profile.sex).and_then(iso_5218);
        awaiting.addressee = Some(if name.is_empty() {
            CheckResult::not_checked(CheckId::AddresseeMatch, Reason::Skipped)
                .with_detail("the phone returned no name")
        } else {
            match_addressee(
                request.addressee.as_ref(),
                &HolderAttributes {
                    name: &name,
                    address: &address,
                    // Compared only when the addressee has one, and then it was requested.
                    birth_date: birth_date.unwrap_or(CalendarDate {
                        year: 0,
                        month: 0,
                        day: 0,
                    }),
                },
            )
        });
        if let Some(birth_date) = birth_date {
            awaiting.evidence.attributes = Some(VerifiedAttributes {
                name,
                address,
                birth_date,
                sex: sex.unwrap_or(Sex::NotApplicable),
                source: "mdoc",
            });
        }
    }
}

/// `full-date`: `#6.1004("YYYY-MM-DD")` or the plain text.
fn full_date(value: &Value) -> Option<CalendarDate> {
    let text = match value {
        Value::Tag(1004, inner) => inner.as_text()?,
        other => other.as_text()?,
    };
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
    (text.len() == 10).then_some(())?;
    CalendarDate::parse_yyyymmdd(&digits)
}

/// ISO/IEC 5218: 1 male, 2 female, 9 not applicable.
fn iso_5218(value: &Value) -> Option<Sex> {
    let code = value.as_integer().and_then(|i| u8::try_from(i).ok())?;
    Sex::from_code(code.to_string().as_bytes())
}

/// The results for a failed exchange: the link check and the session check.
fn communication_failure(error: &MdocError) -> Vec<CheckResult> {
    let detail = error.to_string();
    let link = |reason| CheckResult::failed(CheckId::CardCommunication, reason, detail.clone());
    let session = |reason| CheckResult::failed(CheckId::MdocSession, reason, detail.clone());
    match error {
        MdocError::Transport(
            TransportError::TagLost | TransportError::NoCard | TransportError::Timeout,
        ) => {
            vec![link(Reason::CardRemoved)]
        }
        MdocError::Transport(_) => vec![link(Reason::CardRefusedCommand)],
        MdocError::Refused { .. } => vec![link(Reason::CardRefusedCommand)],
        MdocError::NotAnMdoc(_) => vec![link(Reason::NotAnMdoc)],
        MdocError::Malformed { .. } | MdocError::TooLarge { .. } => {
            vec![link(Reason::CardDataMalformed)]
        }
        MdocError::Unsupported(_) => vec![session(Reason::UnsupportedAlgorithm)],
        MdocError::SessionMessageRejected => vec![session(Reason::SessionMessageRejected)],
        MdocError::SessionReplayed(_) => vec![session(Reason::SessionReplayed)],
        MdocError::SessionEnded(_) => vec![session(Reason::CardRefusedCommand)],
    }
}

impl AwaitingPortraitConfirmation {
    /// The portrait to show the courier (JPEG as the phone sent it), when verified.
    pub fn portrait(&self) -> Option<&[u8]> {
        self.portrait.as_deref().map(Vec::as_slice)
    }

    /// What the APDUs of the check cost.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The verdict the phone alone supports, before the courier's decision.
    pub fn card_verdict(&self) -> Verdict {
        let mut checks = self.steps.clone();
        checks.push(CheckResult::passed(
            CheckId::FaceConfirmation,
            Reason::ConfirmedByCourier,
        ));
        checks.push(self.addressee.clone().unwrap_or(CheckResult::not_checked(
            CheckId::AddresseeMatch,
            Reason::Skipped,
        )));
        DoorCheckReport::build(Level::M, checks, Evidence::default()).verdict()
    }

    /// Records the courier's decision and makes the report; the portrait is wiped.
    pub fn confirm(self, decision: FaceDecision) -> DoorCheckReport {
        let mut checks = self.steps;
        checks.push(match (decision, self.portrait.is_some()) {
            (FaceDecision::Confirmed, true) => {
                CheckResult::passed(CheckId::FaceConfirmation, Reason::ConfirmedByCourier)
            }
            (FaceDecision::Rejected, _) => {
                CheckResult::failed(CheckId::FaceConfirmation, Reason::RejectedByCourier, "")
            }
            (FaceDecision::Confirmed, false) => {
                CheckResult::not_checked(CheckId::FaceConfirmation, Reason::NotConfirmed)
                    .with_detail("no verified portrait was shown, so a confirmation cannot count")
            }
            (FaceDecision::NotGiven, _) => {
                CheckResult::not_checked(CheckId::FaceConfirmation, Reason::NotConfirmed)
            }
        });
        if let Some(addressee) = self.addressee {
            checks.push(addressee);
        }
        DoorCheckReport::build(Level::M, checks, self.evidence)
    }
}
