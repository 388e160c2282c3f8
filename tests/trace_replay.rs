//! Recorded APDU traces of door checks against the software card, committed under
//! fixtures/traces/: a check replayed from its trace reaches the same verdict, and a fresh
//! recording equals the committed one, so any change in what honnin sends to a card shows up in
//! review. Regenerate after an intended change with `HONNIN_UPDATE_TRACES=1 cargo test -p
//! honnin-e2e --test trace_replay`.

use std::path::PathBuf;

use honnin_core::check::{DoorCheckReport, Level};
use honnin_core::reader::CardSession;
use honnin_core::transport::{
    CardTransport, ReplayTransport, Trace, TracingTransport, TransportCapabilities,
};
use honnin_e2e::{matching_number_b, run_level};
use honnin_simcard::{LinkConfig, Profile};

fn trace_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/traces")
        .join(name)
}

fn run_check<T: CardTransport>(level: Level, transport: T) -> (DoorCheckReport, T) {
    let mut session = CardSession::new(transport);
    let report = run_level(&mut session, level, &matching_number_b());
    (report, session.into_transport())
}

fn recorded(level: Level, link: LinkConfig) -> (DoorCheckReport, Trace) {
    let card = Profile::Genuine.build().expect("builds").with_link(link);
    // Full responses: the committed traces are replayed, and the card is the software card.
    let (report, tracer) = run_check(level, TracingTransport::with_full_responses(card));
    (report, tracer.into_parts().1)
}

#[test]
fn committed_traces_replay_to_the_same_verdict_and_match_a_fresh_recording() {
    let update = std::env::var_os("HONNIN_UPDATE_TRACES").is_some();
    for (level, link, caps, name) in [
        (
            Level::A,
            LinkConfig::EXTENDED,
            TransportCapabilities::EXTENDED,
            "genuine-level-a-extended.trace",
        ),
        (
            Level::B,
            LinkConfig::EXTENDED,
            TransportCapabilities::EXTENDED,
            "genuine-level-b-extended.trace",
        ),
        (
            Level::B,
            LinkConfig::SHORT_ONLY,
            TransportCapabilities::SHORT_ONLY,
            "genuine-level-b-short.trace",
        ),
        (
            Level::C,
            LinkConfig::EXTENDED,
            TransportCapabilities::EXTENDED,
            "genuine-level-c-extended.trace",
        ),
    ] {
        let (fresh_report, fresh) = recorded(level, link);
        let path = trace_path(name);
        if update {
            let header = format!(
                "# honnin APDU trace: genuine software card, level {level:?}; VERIFY data masked\n"
            );
            std::fs::write(&path, header + &fresh.to_text()).expect("writes trace");
        }
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let committed = Trace::parse(&text).expect("trace parses");
        assert_eq!(
            committed, fresh,
            "{name}: what honnin sends changed; review and regenerate"
        );
        assert!(
            !text.contains("32343638"),
            "{name}: the PIN is in the trace"
        );

        let (replayed_report, replay) = run_check(level, ReplayTransport::new(committed, caps));
        assert!(
            replay.finished(),
            "{name}: not every recorded exchange was replayed"
        );
        assert_eq!(replayed_report.verdict(), fresh_report.verdict(), "{name}");
        assert_eq!(replayed_report.checks(), fresh_report.checks(), "{name}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Issue 17, defect 6: the public tracer keeps personal data out of a trace unless told
/// otherwise. The DF31 hash of the Individual Number and the card-face data are the cases named.
#[test]
fn a_default_trace_holds_no_response_data() {
    use honnin_core::card::input_support::InputSupportSignature;
    use honnin_core::card::profile::{aid, card_face, input_support};

    let card = Profile::Genuine.build().expect("builds");
    let signature_ef = card
        .ef(&aid::INPUT_SUPPORT, input_support::SIGNATURE)
        .expect("EF 0003")
        .to_vec();
    let number_hash = InputSupportSignature::parse(&signature_ef)
        .expect("parses")
        .individual_number_hash
        .clone();
    let face_ef = card
        .ef(&aid::CARD_FACE, card_face::FACE_DATA)
        .expect("EF 0002")
        .to_vec();
    let birth_date = hex(b"19900401");
    for level in [Level::A, Level::B, Level::C] {
        let card = Profile::Genuine.build().expect("builds");
        let (report, tracer) = run_check(level, TracingTransport::new(card));
        assert_eq!(report.verdict(), honnin_core::check::Verdict::Genuine);
        let text = tracer.into_parts().1.to_text();
        assert!(!text.contains(&hex(&number_hash)), "level {level:?}: DF31");
        assert!(!text.contains(&birth_date), "level {level:?}: birth date");
        assert!(!text.contains(&hex(&face_ef[..64])), "level {level:?}");
        assert!(text.contains("< redacted "), "level {level:?}");
        // Status-only answers stay readable.
        assert!(text.contains("< 9000"), "level {level:?}");

        // The same check with full responses carries them (which is why it is opt-in).
        let card = Profile::Genuine.build().expect("builds");
        let (_, tracer) = run_check(level, TracingTransport::with_full_responses(card));
        let text = tracer.into_parts().1.to_text();
        if level == Level::B {
            assert!(text.contains(&hex(&number_hash)));
        }
        if level == Level::A {
            assert!(text.contains(&birth_date));
        }
    }
}
