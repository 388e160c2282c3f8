//! The phone check against the software phone: the genuine phone is genuine, and every profile
//! that breaks one rule is refused with that rule's reason.

use honnin_core::card::CalendarDate;
use honnin_core::check::{CheckRequest, DoorCheckReport, FaceDecision, Level, Verdict};
use honnin_core::mdoc::{Engagement, MdocProfile, PhoneVerifier};
use honnin_core::record::AttributePolicy;
use honnin_core::verify::addressee::Addressee;
use honnin_core::verify::{CheckId, CheckState, FixedClock, RandomSource, Reason, UnixTime};
use honnin_simcard::mdoc::{PhoneProfile, test_anchors};

/// A deterministic random source: the reader key differs per seed.
struct Counter(u8);

impl RandomSource for Counter {
    fn fill(&mut self, out: &mut [u8]) {
        for b in out.iter_mut() {
            self.0 = self.0.wrapping_mul(31).wrapping_add(7);
            *b = self.0;
        }
    }
}

fn clock() -> FixedClock {
    FixedClock(UnixTime::from_date(2026, 12, 1))
}

fn request(addressee: &str) -> CheckRequest {
    CheckRequest {
        item_id: "JP-ITEM-0001".into(),
        sender_id: "test-bank".into(),
        device_id: "handheld-01".into(),
        addressee: Some(Addressee {
            name: addressee.into(),
            address: Some("東京都千代田区試験町1－2－3".into()),
            birth_date: CalendarDate::new(1990, 4, 1),
        }),
    }
}

fn verifier() -> PhoneVerifier {
    PhoneVerifier::new(test_anchors().expect("anchors"), MdocProfile::default())
}

fn check(profile: PhoneProfile, engagement_by_qr: bool) -> DoorCheckReport {
    let phone = profile.build().expect("phone");
    let qr = phone.qr_text();
    let engagement = if engagement_by_qr {
        Engagement::Qr(&qr)
    } else {
        Engagement::Nfc
    };
    verifier()
        .check_phone(
            phone,
            &request("試験 花子"),
            AttributePolicy::default(),
            engagement,
            &clock(),
            &mut Counter(1),
        )
        .confirm(FaceDecision::Confirmed)
}

fn failed(report: &DoorCheckReport) -> Vec<(CheckId, Reason)> {
    report
        .checks()
        .iter()
        .filter(|r| r.state == CheckState::Failed)
        .map(|r| (r.check, r.reason))
        .collect()
}

#[test]
fn a_genuine_phone_is_genuine_by_nfc_and_by_qr() {
    for qr in [false, true] {
        let report = check(PhoneProfile::Genuine, qr);
        assert_eq!(report.level(), Level::M);
        assert_eq!(report.verdict(), Verdict::Genuine, "{:#?}", report.checks());
        let evidence = report.evidence().mdoc.as_ref().expect("mdoc evidence");
        assert!(evidence.device_signature.is_some());
        // The portrait's digest is kept, never the portrait.
        let portrait = evidence
            .elements
            .iter()
            .find(|e| e.element == "portrait")
            .expect("portrait returned");
        assert!(portrait.item.is_none());
    }
}

#[test]
fn the_portrait_needs_the_couriers_look() {
    let phone = PhoneProfile::Genuine.build().expect("phone");
    let awaiting = verifier().check_phone(
        phone,
        &request("試験 花子"),
        AttributePolicy::default(),
        Engagement::Nfc,
        &clock(),
        &mut Counter(2),
    );
    assert_eq!(awaiting.card_verdict(), Verdict::Genuine);
    assert!(awaiting.portrait().is_some_and(|p| p.len() > 1000));
    let report = awaiting.confirm(FaceDecision::NotGiven);
    assert_eq!(report.verdict(), Verdict::Inconclusive);
    let phone = PhoneProfile::Genuine.build().expect("phone");
    let report = verifier()
        .check_phone(
            phone,
            &request("試験 花子"),
            AttributePolicy::default(),
            Engagement::Nfc,
            &clock(),
            &mut Counter(2),
        )
        .confirm(FaceDecision::Rejected);
    assert_eq!(report.verdict(), Verdict::NotAddressee);
}

#[test]
fn another_addressee_is_not_the_addressee() {
    let phone = PhoneProfile::Genuine.build().expect("phone");
    let report = verifier()
        .check_phone(
            phone,
            &request("試験 次郎"),
            AttributePolicy::default(),
            Engagement::Nfc,
            &clock(),
            &mut Counter(3),
        )
        .confirm(FaceDecision::Confirmed);
    assert_eq!(report.verdict(), Verdict::NotAddressee);
    assert_eq!(
        failed(&report),
        vec![(CheckId::AddresseeMatch, Reason::NameMismatch)]
    );
}

/// One profile per rule: the verdict and the one failed check with its reason.
#[test]
fn every_forgery_and_fault_is_refused_with_its_reason() {
    use CheckId::*;
    let cases = [
        (
            PhoneProfile::ElementTampered,
            Verdict::Forged,
            MdocElementDigests,
            Reason::HashMismatch,
        ),
        (
            PhoneProfile::MsoExpired,
            Verdict::Inconclusive,
            MdocValidity,
            Reason::MsoExpired,
        ),
        (
            PhoneProfile::MsoNotYetValid,
            Verdict::Inconclusive,
            MdocValidity,
            Reason::MsoNotYetValid,
        ),
        (
            PhoneProfile::UnknownIssuer,
            Verdict::Forged,
            MdocIssuerCertificate,
            Reason::UnknownIssuer,
        ),
        (
            PhoneProfile::IssuerSignatureForged,
            Verdict::Forged,
            MdocIssuerSignature,
            Reason::SignatureInvalid,
        ),
        (
            PhoneProfile::Clone,
            Verdict::Forged,
            MdocDeviceAuthentication,
            Reason::DeviceSignatureInvalid,
        ),
        (
            PhoneProfile::WrongDocType,
            Verdict::Forged,
            MdocDocType,
            Reason::DocTypeMismatch,
        ),
        (
            PhoneProfile::Replayed,
            Verdict::Inconclusive,
            MdocSession,
            Reason::SessionMessageRejected,
        ),
        (
            PhoneProfile::StopsAnswering,
            Verdict::Inconclusive,
            CardCommunication,
            Reason::CardRemoved,
        ),
        (
            PhoneProfile::MalformedCbor,
            Verdict::Inconclusive,
            CardCommunication,
            Reason::CardDataMalformed,
        ),
        (
            PhoneProfile::Partial,
            Verdict::Inconclusive,
            MdocElementsComplete,
            Reason::ElementsMissing,
        ),
    ];
    for (profile, verdict, check_id, reason) in cases {
        let report = check(profile, false);
        assert_eq!(
            report.verdict(),
            verdict,
            "{profile:?}: {:#?}",
            report.checks()
        );
        assert!(
            failed(&report).contains(&(check_id, reason)),
            "{profile:?}: {:?}",
            failed(&report)
        );
        assert!(
            report.check(CheckId::MdocDeviceAuthentication).is_some(),
            "{profile:?}: every required check is reported"
        );
    }
}

#[test]
fn a_short_only_link_takes_more_commands_and_gives_the_same_verdict() {
    let extended = PhoneProfile::Genuine.build().expect("phone");
    let short = PhoneProfile::Genuine.build().expect("phone").short_only();
    let run = |phone| {
        let awaiting = verifier().check_phone(
            phone,
            &request("試験 花子"),
            AttributePolicy::default(),
            Engagement::Nfc,
            &clock(),
            &mut Counter(4),
        );
        let counters = awaiting.counters();
        (
            awaiting.confirm(FaceDecision::Confirmed).verdict(),
            counters,
        )
    };
    let (v1, c1) = run(extended);
    let (v2, c2) = run(short);
    assert_eq!((v1, v2), (Verdict::Genuine, Verdict::Genuine));
    assert!(c2.apdus > c1.apdus + 5, "{c1:?} vs {c2:?}");
}

#[test]
fn another_issuers_anchor_does_not_verify_the_phone() {
    // The forger's IACA has the same name as the test IACA; only the key differs.
    let pki = honnin_simcard::mdoc::MdocPki::build().expect("pki");
    let anchors = honnin_core::mdoc::IssuerAnchors::from_der(&[pki.forger_iaca]).expect("anchors");
    let phone = PhoneProfile::Genuine.build().expect("phone");
    let report = PhoneVerifier::new(anchors, MdocProfile::default())
        .check_phone(
            phone,
            &request("試験 花子"),
            AttributePolicy::default(),
            Engagement::Nfc,
            &clock(),
            &mut Counter(5),
        )
        .confirm(FaceDecision::Confirmed);
    assert_eq!(report.verdict(), Verdict::Forged);
    assert_eq!(
        report
            .check(CheckId::MdocIssuerCertificate)
            .map(|r| r.reason),
        Some(Reason::UnknownIssuer)
    );
}

#[test]
fn the_committed_mdoc_fixtures_are_what_the_pki_builds() {
    let root = honnin_simcard::fixtures::fixtures_dir();
    let pki = honnin_simcard::mdoc::MdocPki::build().expect("pki");
    for (relative, bytes) in pki.fixture_files().expect("files") {
        let on_disk = std::fs::read(root.join(&relative)).expect(&relative);
        assert_eq!(on_disk, bytes, "{relative}: run gen-fixtures");
    }
    let from_dir = honnin_core::mdoc::IssuerAnchors::load_dir(honnin_simcard::mdoc::anchors_dir())
        .expect("anchor directory loads");
    assert_eq!(from_dir.len(), 1);
}
