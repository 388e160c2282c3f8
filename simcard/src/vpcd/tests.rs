use std::io::{Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

use honnin_core::transport::TransportCapabilities;

use super::*;

/// A card with one bit of security state ("application selected") and scripted failures.
#[derive(Default)]
struct FakeCard {
    selected: bool,
    resets: u32,
    commands: u32,
}

const INS_SELECT: u8 = 0xA4;
const INS_READ: u8 = 0xB0;
/// The card "leaves the field" on this instruction.
const INS_TAG_LOST: u8 = 0xEE;
/// The card answers more than vpcd can frame.
const INS_HUGE: u8 = 0xEF;

impl CardTransport for FakeCard {
    fn capabilities(&self) -> TransportCapabilities {
        TransportCapabilities::EXTENDED
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.commands += 1;
        match command.get(1) {
            Some(&INS_SELECT) => {
                self.selected = true;
                Ok(vec![0x90, 0x00])
            }
            Some(&INS_READ) if self.selected => Ok(vec![0xCA, 0xFE, 0x90, 0x00]),
            Some(&INS_READ) => Ok(vec![0x69, 0x86]),
            Some(&INS_TAG_LOST) => Err(TransportError::TagLost),
            Some(&INS_HUGE) => Ok(vec![0u8; 70_000]),
            _ => Ok(vec![0x6D, 0x00]),
        }
    }
}

impl VirtualCard for FakeCard {
    fn reset(&mut self) {
        self.selected = false;
        self.resets += 1;
    }
}

const SELECT: &[u8] = &[0x00, INS_SELECT, 0x04, 0x0C, 0x01, 0xAA];
const READ: &[u8] = &[0x00, INS_READ, 0x00, 0x00, 0x02];

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// vpcd's side of an in-memory connection: what it sends, and what it got back.
struct Duplex {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Duplex {
    fn new(messages: &[&[u8]]) -> Self {
        Self {
            input: Cursor::new(messages.iter().flat_map(|m| frame(m)).collect()),
            output: Vec::new(),
        }
    }
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn no_events(_: &BridgeEvent) {}

#[test]
fn answers_atr_and_apdus_and_ignores_power_controls() {
    let mut bridge = Bridge::new(FakeCard::default(), MY_NUMBER_CARD_ATR).expect("bridge");
    let mut vpcd = Duplex::new(&[&[ctrl::POWER_ON], &[ctrl::GET_ATR], SELECT, READ]);
    let end = bridge
        .serve_connection(&mut vpcd, &no_events)
        .expect("serves");
    assert_eq!(end, ConnectionEnd::Closed);
    let expected = [
        frame(&MY_NUMBER_CARD_ATR),
        frame(&[0x90, 0x00]),
        frame(&[0xCA, 0xFE, 0x90, 0x00]),
    ]
    .concat();
    assert_eq!(vpcd.output, expected);
    assert_eq!(bridge.card().resets, 1, "power on starts from a reset card");
}

#[test]
fn power_off_and_reset_forget_the_security_state() {
    for control in [ctrl::POWER_OFF, ctrl::RESET] {
        let mut bridge = Bridge::new(FakeCard::default(), MY_NUMBER_CARD_ATR).expect("bridge");
        let mut vpcd = Duplex::new(&[SELECT, &[control], READ]);
        bridge
            .serve_connection(&mut vpcd, &no_events)
            .expect("serves");
        let expected = [frame(&[0x90, 0x00]), frame(&[0x69, 0x86])].concat();
        assert_eq!(vpcd.output, expected, "control {control:02X}");
    }
}

#[test]
fn tag_loss_ends_the_connection_as_a_card_error() {
    let mut bridge = Bridge::new(FakeCard::default(), MY_NUMBER_CARD_ATR).expect("bridge");
    let mut vpcd = Duplex::new(&[&[0x00, INS_TAG_LOST, 0, 0], READ]);
    let end = bridge.serve_connection(&mut vpcd, &no_events);
    assert!(
        matches!(end, Err(VpcdError::Card(TransportError::TagLost))),
        "{end:?}"
    );
    assert!(vpcd.output.is_empty(), "nothing is answered for a lost tag");
    assert_eq!(
        bridge.card().commands,
        1,
        "nothing after the loss reaches the card"
    );
}

#[test]
fn unframeable_response_is_a_typed_error() {
    let mut bridge = Bridge::new(FakeCard::default(), MY_NUMBER_CARD_ATR).expect("bridge");
    let mut vpcd = Duplex::new(&[&[0x00, INS_HUGE, 0, 0]]);
    let end = bridge.serve_connection(&mut vpcd, &no_events);
    assert!(
        matches!(end, Err(VpcdError::ResponseTooLong(70_000))),
        "{end:?}"
    );
}

#[test]
fn malformed_input_never_panics() {
    // Truncated length, truncated body, a 2-byte "command", an unknown control.
    for input in [
        vec![0x00],
        vec![0x00, 0x05, 0x00, 0xA4],
        frame(&[0x00, 0xA4]),
        frame(&[0x77]),
        frame(&[]),
    ] {
        let mut bridge = Bridge::new(FakeCard::default(), MY_NUMBER_CARD_ATR).expect("bridge");
        let mut vpcd = Duplex {
            input: Cursor::new(input.clone()),
            output: Vec::new(),
        };
        let end = bridge.serve_connection(&mut vpcd, &no_events);
        assert!(end.is_ok(), "{input:02X?}: {end:?}");
    }
}

#[test]
fn events_carry_no_data() {
    let events = Mutex::new(Vec::new());
    let mut bridge = Bridge::new(FakeCard::default(), MY_NUMBER_CARD_ATR).expect("bridge");
    let mut vpcd = Duplex::new(&[SELECT, READ]);
    bridge
        .serve_connection(&mut vpcd, &|e| {
            events.lock().expect("lock").push(e.clone());
        })
        .expect("serves");
    let events = events.into_inner().expect("lock");
    assert_eq!(
        events[1],
        BridgeEvent::Exchange {
            header: [0x00, INS_READ, 0x00, 0x00],
            command_len: 5,
            response_len: 4,
            status: 0x9000,
        }
    );
}

#[test]
fn bad_atr_is_refused() {
    assert!(matches!(
        Bridge::new(FakeCard::default(), vec![0x3B]),
        Err(VpcdError::BadAtr(1))
    ));
}

/// Plays vpcd over a real socket: ask for the ATR, send `apdus`, return the answers.
fn vpcd_session(conn: &mut TcpStream, apdus: &[&[u8]]) -> io::Result<Vec<Vec<u8>>> {
    let mut answers = Vec::new();
    for message in std::iter::once(&[ctrl::GET_ATR][..]).chain(apdus.iter().copied()) {
        conn.write_all(&frame(message))?;
        let mut len = [0u8; 2];
        conn.read_exact(&mut len)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        conn.read_exact(&mut body)?;
        answers.push(body);
    }
    Ok(answers)
}

fn fake_vpcd() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    (listener, addr)
}

#[test]
fn serve_reconnects_after_vpcd_closes_and_resets_the_card() {
    let (listener, addr) = fake_vpcd();
    let config = VpcdConfig::new(addr).with_retry_interval(Duration::from_millis(10));
    let handle = serve(FakeCard::default(), config).expect("serve");

    let (mut first, _) = listener.accept().expect("first connection");
    let answers = vpcd_session(&mut first, &[SELECT, READ]).expect("session");
    assert_eq!(answers[0], MY_NUMBER_CARD_ATR);
    assert_eq!(answers[2], vec![0xCA, 0xFE, 0x90, 0x00]);
    drop(first);

    // The card comes back, without its security state.
    let (mut second, _) = listener.accept().expect("second connection");
    let answers = vpcd_session(&mut second, &[READ]).expect("session");
    assert_eq!(answers[1], vec![0x69, 0x86]);
    assert_eq!(handle.insertions(), 2);

    let card = handle.stop().expect("stops");
    assert!(card.resets >= 1);
}

#[test]
fn tag_loss_drops_the_connection_then_the_card_returns() {
    let (listener, addr) = fake_vpcd();
    let (tx, rx) = mpsc::channel();
    let config = VpcdConfig::new(addr)
        .with_retry_interval(Duration::from_millis(10))
        .with_removal_time(Duration::from_millis(50))
        .on_event(move |e| {
            let _ = tx.send(e.clone());
        });
    let handle = serve(FakeCard::default(), config).expect("serve");

    let (mut first, _) = listener.accept().expect("first connection");
    vpcd_session(&mut first, &[SELECT]).expect("session");
    first
        .write_all(&frame(&[0x00, INS_TAG_LOST, 0, 0]))
        .expect("send");
    let mut buf = [0u8; 1];
    assert_eq!(
        first.read(&mut buf).expect("read"),
        0,
        "vpcd sees the card go"
    );

    let (mut second, _) = listener.accept().expect("card re-inserted");
    let answers = vpcd_session(&mut second, &[READ]).expect("session");
    assert_eq!(answers[1], vec![0x69, 0x86], "security state was lost");
    handle.stop().expect("stops");

    let events: Vec<BridgeEvent> = rx.try_iter().collect();
    assert!(
        events.iter().any(|e| matches!(
            e,
            BridgeEvent::Removed { reason } if reason.contains("removed or moved")
        )),
        "{events:?}"
    );
}

#[test]
fn remove_and_insert_card() {
    let (listener, addr) = fake_vpcd();
    let config = VpcdConfig::new(addr).with_retry_interval(Duration::from_millis(10));
    let handle = serve(FakeCard::default(), config).expect("serve");
    let (mut first, _) = listener.accept().expect("first connection");
    vpcd_session(&mut first, &[]).expect("session");
    assert!(handle.wait_connected(Duration::from_secs(60)));

    handle.remove_card();
    let mut buf = [0u8; 1];
    assert_eq!(first.read(&mut buf).expect("read"), 0);
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::sleep(Duration::from_millis(100));
    assert!(listener.accept().is_err(), "held out of the reader");

    handle.insert_card();
    listener.set_nonblocking(false).expect("blocking");
    let (mut second, _) = listener.accept().expect("inserted again");
    vpcd_session(&mut second, &[]).expect("session");
    handle.stop().expect("stops");
}

#[test]
fn stop_while_vpcd_is_absent() {
    // Nothing listens here: the bridge keeps retrying until stopped. The port stays bound (not
    // listening, so connections are refused) for the whole test: a port freed here could be
    // handed to a parallel test's listener, and the bridge would connect to that one.
    let reserved =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    reserved
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    let addr = reserved
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("an IP address")
        .to_string();
    let (tx, rx) = mpsc::channel();
    let config = VpcdConfig::new(addr)
        .with_retry_interval(Duration::from_millis(10))
        .on_event(move |e| {
            let _ = tx.send(e.clone());
        });
    let handle = serve(FakeCard::default(), config).expect("serve");
    let first = rx.recv_timeout(Duration::from_secs(60)).expect("an event");
    assert!(
        matches!(first, BridgeEvent::CannotConnect { .. }),
        "{first:?}"
    );
    handle.stop().expect("stops");
    let later: Vec<_> = rx.try_iter().collect();
    assert!(
        !later
            .iter()
            .any(|e| matches!(e, BridgeEvent::CannotConnect { .. })),
        "reported once per run of failures: {later:?}"
    );
}
