//! The PC/SC transport and OpenSC against the software card, through a real pcscd.
//!
//! Needs pcscd and vsmartcard-vpcd (and OpenSC for the OpenSC tests): see
//! `honnin_e2e::virtual_reader` for what happens when they are missing.

use std::process::Command;
use std::time::Duration;

use honnin_core::card::profile::{aid, ins, jpki};
use honnin_core::reader::CardSession;
use honnin_core::transport::{CardTransport, TransportError};
use honnin_pcsc::{ConnectOptions, Pcsc, PcscError, PcscTransport, Protocol, Sharing};
use honnin_simcard::{Fault, PinId, Profile, SoftwareCard, When};

use honnin_e2e::virtual_reader::{self as support, virtual_reader};

const SELECT_JPKI: [u8; 15] = [
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
];
const OK: [u8; 2] = [0x90, 0x00];

fn select_ef(fid: u16) -> Vec<u8> {
    let [hi, lo] = fid.to_be_bytes();
    vec![0x00, 0xA4, 0x02, 0x0C, 0x02, hi, lo]
}

fn genuine() -> (SoftwareCard, Vec<u8>) {
    let card = Profile::Genuine
        .build()
        .expect("the genuine card builds from the fixtures");
    let cert = card
        .ef(&aid::JPKI, jpki::AUTH_CERT)
        .expect("the card holds an authentication certificate")
        .to_vec();
    (card, cert)
}

fn connect(reader: &str) -> PcscTransport {
    Pcsc::establish()
        .expect("pcscd runs")
        .connect(reader, ConnectOptions::default())
        .expect("connects to the software card")
}

#[test]
fn transport_reads_the_authentication_certificate_through_pcscd() {
    let (card, expected) = genuine();
    let Some(vr) = virtual_reader(card) else {
        return;
    };
    let mut t = connect(&vr.reader);
    assert_eq!(
        t.protocol(),
        Protocol::T1,
        "the My Number Card ATR offers T=1"
    );
    assert!(t.capabilities().extended_length);
    assert_eq!(t.reader(), vr.reader);
    assert_eq!(
        t.atr().expect("atr"),
        honnin_simcard::vpcd::MY_NUMBER_CARD_ATR
    );

    assert_eq!(t.transmit(&SELECT_JPKI), Ok(OK.to_vec()));
    assert_eq!(t.transmit(&select_ef(jpki::AUTH_CERT)), Ok(OK.to_vec()));
    // One extended READ BINARY brings the whole EF.
    let [hi, lo] = u16::try_from(expected.len())
        .expect("a certificate under 64 KB")
        .to_be_bytes();
    let whole = t
        .transmit(&[0x00, 0xB0, 0x00, 0x00, 0x00, hi, lo])
        .expect("extended read");
    assert_eq!(&whole[whole.len() - 2..], &[0x90, 0x00]);
    assert_eq!(&whole[..whole.len() - 2], &expected[..]);
    // And a short one its first 256 bytes.
    let first = t
        .transmit(&[0x00, 0xB0, 0x00, 0x00, 0x00])
        .expect("short read");
    assert_eq!(&first[..256], &expected[..256]);
    drop(t);

    let card = vr.stop();
    let sent: Vec<u8> = card.log().iter().map(|e| e.ins).collect();
    assert_eq!(
        sent,
        vec![ins::SELECT, ins::SELECT, ins::READ_BINARY, ins::READ_BINARY],
        "each command reached the card exactly once"
    );
}

#[test]
fn core_reads_the_jpki_application_through_pcscd() {
    let (card, expected) = genuine();
    let Some(vr) = virtual_reader(card) else {
        return;
    };
    let mut session = CardSession::new(connect(&vr.reader));
    let mut jpki = session.jpki().expect("selects JPKI");
    assert_eq!(jpki.token().expect("token"), "JPKIAPICCTOKEN");
    let cert = jpki
        .authentication_certificate()
        .expect("reads the certificate");
    assert_eq!(cert.as_bytes(), &expected[..]);
    assert!(session.extended_length_in_use());
}

#[test]
fn a_wrong_pin_costs_exactly_one_try_through_pcscd() {
    let (card, _) = genuine();
    let wrong = if card.facts().auth_pin == "0000" {
        b"1111"
    } else {
        b"0000"
    };
    let Some(vr) = virtual_reader(card) else {
        return;
    };
    let mut t = connect(&vr.reader);
    assert_eq!(t.transmit(&SELECT_JPKI), Ok(OK.to_vec()));
    assert_eq!(t.transmit(&select_ef(jpki::AUTH_PIN)), Ok(OK.to_vec()));
    let mut verify = vec![0x00, 0x20, 0x00, 0x80, 0x04];
    verify.extend_from_slice(wrong);
    assert_eq!(t.transmit(&verify), Ok(vec![0x63, 0xC2]));
    drop(t);

    let card = vr.stop();
    assert_eq!(card.tries_left(PinId::Auth), Some(2));
    let verifies = card.log().iter().filter(|e| e.ins == ins::VERIFY).count();
    assert_eq!(verifies, 1, "the VERIFY was not re-sent");
}

#[test]
fn tag_loss_is_reported_and_the_card_comes_back() {
    let (card, _) = genuine();
    let card = card.with_fault(Fault::TagLostBefore(When::Exchange(2)));
    let Some(vr) = virtual_reader(card) else {
        return;
    };
    let mut t = connect(&vr.reader);
    assert_eq!(t.transmit(&SELECT_JPKI), Ok(OK.to_vec()));
    assert_eq!(
        t.transmit(&select_ef(jpki::AUTH_CERT)),
        Err(TransportError::TagLost)
    );
    // The bridge puts the card back; the transport waits for it and attaches afresh.
    t.reconnect().expect("the card comes back");
    // Fresh card: nothing selected any more, so the EF is not found.
    let answer = t
        .transmit(&select_ef(jpki::AUTH_CERT))
        .expect("the card answers");
    assert_ne!(
        answer,
        OK.to_vec(),
        "the JPKI application is no longer selected"
    );
    assert_eq!(t.transmit(&SELECT_JPKI), Ok(OK.to_vec()));
    assert_eq!(t.transmit(&select_ef(jpki::AUTH_CERT)), Ok(OK.to_vec()));
    drop(t);
    assert!(vr.handle().insertions() >= 2);
}

#[test]
fn waits_for_removal_and_insertion() {
    let (card, _) = genuine();
    let Some(vr) = virtual_reader(card) else {
        return;
    };
    let pcsc = Pcsc::establish().expect("pcscd runs");
    assert_eq!(
        pcsc.wait_for_card(Some(&vr.reader), Duration::from_secs(60)),
        Ok(vr.reader.clone()),
        "a card already there is found at once"
    );

    vr.handle().remove_card();
    pcsc.wait_for_removal(&vr.reader, Duration::from_secs(60))
        .expect("removal is seen");
    assert_eq!(
        pcsc.wait_for_card(Some(&vr.reader), Duration::from_millis(300)),
        Err(PcscError::WaitTimedOut(Duration::from_millis(300)))
    );

    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            vr.handle().insert_card();
        });
        let found = pcsc
            .wait_for_card(None, Duration::from_secs(60))
            .expect("insertion is seen");
        assert_eq!(found, vr.reader);
    });
    assert_eq!(t_select(&vr.reader), Ok(OK.to_vec()));
}

fn t_select(reader: &str) -> Result<Vec<u8>, TransportError> {
    connect(reader).transmit(&SELECT_JPKI)
}

#[test]
fn an_exclusive_connection_keeps_other_programs_out() {
    let (card, _) = genuine();
    let Some(vr) = virtual_reader(card) else {
        return;
    };
    let pcsc = Pcsc::establish().expect("pcscd runs");
    let held = pcsc
        .connect(&vr.reader, ConnectOptions::default())
        .expect("first connection");
    let shared = ConnectOptions {
        sharing: Sharing::Shared,
        ..ConnectOptions::default()
    };
    assert!(matches!(
        pcsc.connect(&vr.reader, shared),
        Err(PcscError::CardInUse(r)) if r == vr.reader
    ));
    drop(held);
    assert!(matches!(
        pcsc.connect("No Such Reader 00 00", ConnectOptions::default()),
        Err(PcscError::UnknownReader { .. })
    ));
}

/// Runs an OpenSC tool, or says why it cannot (same CI policy as pcscd).
fn opensc(tool: &str, args: &[&str]) -> Option<std::process::Output> {
    match Command::new(tool).args(args).output() {
        Ok(out) => Some(out),
        Err(e) if support::in_ci() => {
            panic!("{tool} is required in CI ({e}); install opensc with scripts/setup")
        }
        Err(e) => {
            eprintln!("SKIPPED ({tool} not available: {e})");
            None
        }
    }
}

fn opensc_pkcs11_module() -> Option<&'static str> {
    [
        "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
        "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
        "/usr/lib64/opensc-pkcs11.so",
        "/usr/lib/opensc-pkcs11.so",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

#[test]
fn opensc_reads_the_authentication_certificate() {
    let (card, expected) = genuine();
    let Some(vr) = virtual_reader(card) else {
        return;
    };

    let Some(listed) = opensc(
        "pkcs15-tool",
        &["--reader", &vr.reader, "--list-certificates"],
    ) else {
        return;
    };
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "pkcs15-tool failed: {text}{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(text.contains("User Authentication Certificate"), "{text}");
    assert!(text.contains("000a"), "{text}");

    let der_path = std::env::temp_dir().join(format!("honnin-opensc-{}.der", std::process::id()));
    let der_arg = der_path.to_string_lossy().into_owned();
    let mut args = vec![
        "--slot-description",
        &vr.reader,
        "--read-object",
        "--type",
        "cert",
        "--id",
        "01",
        "--output-file",
        &der_arg,
    ];
    if let Some(module) = opensc_pkcs11_module() {
        args.extend(["--module", module]);
    }
    let Some(read) = opensc("pkcs11-tool", &args) else {
        return;
    };
    assert!(
        read.status.success(),
        "pkcs11-tool failed: {}{}",
        String::from_utf8_lossy(&read.stdout),
        String::from_utf8_lossy(&read.stderr)
    );
    let got = std::fs::read(&der_path).expect("pkcs11-tool wrote the certificate");
    let _ = std::fs::remove_file(&der_path);
    assert_eq!(got, expected, "OpenSC returns the card's DER");

    let card = vr.stop();
    // What OpenSC sent, for the record (header-level: the card's log holds no command data).
    for e in card.log() {
        eprintln!(
            "opensc: INS {:02X} app {:02X?} EF {:04X?} -> {:?}",
            e.ins, e.aid, e.fid, e.status
        );
    }
    assert!(card.was_selected(&aid::JPKI, jpki::AUTH_CERT));
    assert_eq!(card.tries_left(PinId::Auth), Some(jpki::AUTH_PIN_TRIES));
    assert_eq!(card.tries_left(PinId::Sign), Some(jpki::SIGN_PIN_TRIES));
    for other in [aid::INPUT_SUPPORT, aid::CARD_FACE] {
        assert!(
            !card.selected_aids().iter().any(|a| a[..] == other[..]),
            "OpenSC has no business in {other:02X?}"
        );
    }
}
