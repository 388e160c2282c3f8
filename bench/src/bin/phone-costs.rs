//! The phone check (level M) in numbers: APDUs, bytes on the air and the modelled NFC time of a
//! full check against the software phone (../shared/card-model.md's time model, which has no
//! on-card RSA for a phone), and the host time of session setup and of verification.
//!
//! `cargo run --release -p honnin-bench --bin phone-costs [-- --quick]`

use std::time::{Duration, Instant};

use honnin_core::check::FaceDecision;
use honnin_core::mdoc::issuer_auth::verify_mso;
use honnin_core::mdoc::session::ReaderSession;
use honnin_core::mdoc::{DeviceEngagement, Engagement, MdocProfile, PhoneVerifier};
use honnin_core::record::AttributePolicy;
use honnin_core::verify::{FixedClock, SystemRandom, UnixTime};
use honnin_e2e::{addressee, request};
use honnin_simcard::mdoc::{PhoneProfile, test_anchors};

/// card-model.md: 15 ms per APDU, bytes × 8 / bitrate.
fn modelled_ms(apdus: u32, bytes: u64, bits_per_second: f64) -> f64 {
    f64::from(apdus) * 15.0 + bytes as f64 * 8.0 / bits_per_second * 1000.0
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 5 } else { 101 };
    let anchors = test_anchors().expect("test IACA");
    let verifier = PhoneVerifier::new(anchors.clone(), MdocProfile::default());
    let clock = FixedClock(UnixTime::from_date(2026, 11, 25));
    let request = request(Some(addressee()));

    println!("phone check (level M), software phone, genuine, NFC engagement");
    println!(
        "{:<14} {:>6} {:>12} {:>14} {:>14}",
        "link", "APDUs", "bytes (air)", "model 106k ms", "model 424k ms"
    );
    for (name, short) in [("extended", false), ("short only", true)] {
        let phone = PhoneProfile::Genuine.build().expect("phone");
        let phone = if short { phone.short_only() } else { phone };
        let awaiting = verifier.check_phone(
            phone,
            &request,
            AttributePolicy::default(),
            Engagement::Nfc,
            &clock,
            &mut SystemRandom,
        );
        let c = awaiting.counters();
        let verdict = awaiting.confirm(FaceDecision::Confirmed).verdict();
        assert_eq!(verdict.code(), "genuine");
        println!(
            "{:<14} {:>6} {:>12} {:>14.0} {:>14.0}",
            name,
            c.apdus,
            c.bytes_on_air(),
            modelled_ms(c.apdus, c.bytes_on_air(), 106_000.0),
            modelled_ms(c.apdus, c.bytes_on_air(), 424_000.0)
        );
    }

    // Host time: the whole check in-process (reader and software phone), session setup alone
    // (reader key, ECDH, HKDF), and issuer authentication alone (chain + MSO signature).
    let phone = PhoneProfile::Genuine.build().expect("phone");
    let engagement = DeviceEngagement::from_qr(&phone.qr_text()).expect("engagement");
    let mut whole = Vec::new();
    let mut setup = Vec::new();
    let mut issuer = Vec::new();
    let mut issuer_auth = Vec::new();
    for _ in 0..runs {
        let phone = PhoneProfile::Genuine.build().expect("phone");
        let start = Instant::now();
        let awaiting = verifier.check_phone(
            phone,
            &request,
            AttributePolicy::default(),
            Engagement::Nfc,
            &clock,
            &mut SystemRandom,
        );
        whole.push(start.elapsed());
        if issuer_auth.is_empty() {
            let report = awaiting.confirm(FaceDecision::Confirmed);
            issuer_auth = report
                .evidence()
                .mdoc
                .as_ref()
                .expect("evidence")
                .issuer_auth
                .clone();
        }
        let start = Instant::now();
        let session = ReaderSession::establish(&engagement, &mut SystemRandom).expect("session");
        setup.push(start.elapsed());
        drop(session);
        let start = Instant::now();
        let outcome = verify_mso(&issuer_auth, &anchors, UnixTime::from_date(2026, 11, 25));
        issuer.push(start.elapsed());
        assert!(outcome.verified.is_some());
    }
    println!();
    println!(
        "host time, median of {runs} (this machine, {} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!(
        "  whole check in-process (reader + software phone): {:>8.2} ms",
        median(whole).as_secs_f64() * 1000.0
    );
    println!(
        "  session setup (P-256 key, ECDH, HKDF):             {:>8.3} ms",
        median(setup).as_secs_f64() * 1000.0
    );
    println!(
        "  issuer authentication (DS chain + MSO ES256):      {:>8.3} ms",
        median(issuer).as_secs_f64() * 1000.0
    );
}
