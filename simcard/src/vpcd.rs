//! A bridge that puts any [`CardTransport`] — the software card above all — into a real PC/SC
//! reader, through vsmartcard's virtual reader driver `vpcd`.
//!
//! pcscd loads `vpcd` (`/etc/reader.conf.d/vpcd`), which shows the readers "Virtual PCD 00 00"
//! and "Virtual PCD 00 01" and listens on TCP ports 35963 and 35964 for a virtual card ("vicc").
//! Connecting to a port inserts the card into that reader; closing the connection removes it.
//! Then every PC/SC program — honnin's own PC/SC transport, OpenSC, `pcsc_scan` — talks to the
//! software card exactly as to a card in a desktop reader.
//!
//! The protocol (vsmartcard `vpcd.c`; no handshake, vpcd speaks first):
//! - every message is a 2-byte big-endian length and that many bytes, both ways;
//! - a 1-byte message from vpcd is a control: `00` power off, `01` power on, `02` reset,
//!   `04` "send your ATR" (the only control that is answered: with the ATR, framed);
//! - any longer message is a command APDU, answered with the framed response APDU.
//!
//! vpcd polls presence by asking for the ATR every few hundred milliseconds.
//!
//! The bridge is faithful to what a reader would do to a card:
//! - power off, power on and reset call [`VirtualCard::reset`]: the card forgets the selected
//!   application and verified PINs (try counters persist: they are in the card's memory);
//! - a [`TransportError::TagLost`] or [`TransportError::NoCard`] from the card removes it: the
//!   bridge closes the connection, the card is reset (no power), and the bridge inserts it again
//!   after [`VpcdConfig::with_removal_time`] (default 1 s) — so fault profiles that drop the tag
//!   mid-exchange look to PC/SC programs like a card pulled and put back. The pause matters:
//!   pcscd polls vpcd for presence every 400 ms, and a card back before the next poll would never
//!   be seen leaving, so programs would go on talking to a card that silently lost its state.
//!   (vpcd answers the interrupted `SCardTransmit` with an empty response, not an error; honnin's
//!   PC/SC transport then sees the card gone and reports `TagLost`.)
//! - any other card failure also closes the connection (pcscd reports a communication error).
//!
//! Limits: a response above 65,535 bytes cannot be framed (a 2-byte length); the bridge then
//! drops the connection. honnin never asks for more than the EF it reads (a few KB).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use honnin_core::transport::{CardTransport, TransportError};
use thiserror::Error;
use zeroize::Zeroize;

#[cfg(test)]
mod tests;

/// Where pcscd's vpcd listens for the first virtual reader ("Virtual PCD 00 00").
pub const DEFAULT_VPCD_ADDR: &str = "127.0.0.1:35963";

/// A contact ATR seen on a real My Number Card; OpenSC's `jpki` driver matches exactly this ATR
/// (a card with another ATR is only found by selecting the JPKI application). honnin itself never
/// matches by ATR.
pub const MY_NUMBER_CARD_ATR: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

/// What a PC/SC contactless reader shows for a phone (an ISO 14443-4 device without historical
/// bytes): the PC/SC part 3 pseudo-ATR `3B 8n 80 01 … TCK` with n = 0. A phone has no ATR of its
/// own; honnin tells a phone from a card by AID, never by this.
pub const CONTACTLESS_PHONE_ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// vpcd control messages (1 byte).
mod ctrl {
    pub const POWER_OFF: u8 = 0x00;
    pub const POWER_ON: u8 = 0x01;
    pub const RESET: u8 = 0x02;
    pub const GET_ATR: u8 = 0x04;
}

/// A card that can lose power: what the bridge needs beyond [`CardTransport`].
pub trait VirtualCard: CardTransport {
    /// Power was removed or the card was reset: forget the selected application and every
    /// verified PIN (try counters stay, as in the card's non-volatile memory).
    fn reset(&mut self);
}

impl<T: VirtualCard + ?Sized> VirtualCard for &mut T {
    fn reset(&mut self) {
        (**self).reset();
    }
}

impl<T: VirtualCard + ?Sized> VirtualCard for Box<T> {
    fn reset(&mut self) {
        (**self).reset();
    }
}

/// Why the bridge could not start, or why one connection ended.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VpcdError {
    #[error("an ATR has 2 to 33 bytes; {0} given")]
    BadAtr(usize),
    #[error("vpcd address {addr:?} does not resolve: {reason}")]
    BadAddress { addr: String, reason: String },
    #[error(
        "the card answered {0} bytes; a vpcd message carries at most 65,535, so the connection \
         was dropped"
    )]
    ResponseTooLong(usize),
    #[error("the card's link failed ({0}); the card was removed from the virtual reader")]
    Card(TransportError),
    #[error("vpcd connection: {0}")]
    Io(#[from] io::Error),
    #[error("the bridge thread panicked")]
    Panicked,
}

/// What the bridge reports as it runs (for logs and tests). Carries no APDU data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeEvent {
    /// Connected to vpcd: the card is in the reader.
    Inserted,
    /// The connection ended: the card left the reader. `reason` says why (no card data).
    Removed {
        reason: String,
    },
    /// Connecting failed (pcscd not running, or vpcd not loaded); the bridge keeps trying.
    /// Reported once per run of failures.
    CannotConnect {
        reason: String,
    },
    PowerOff,
    PowerOn,
    Reset,
    /// One command and its answer: header, sizes and status, never data.
    Exchange {
        header: [u8; 4],
        command_len: usize,
        response_len: usize,
        status: u16,
    },
    /// A control byte vpcd is not known to send; ignored, as vsmartcard's own vicc does.
    UnknownControl(u8),
}

type EventSink = Box<dyn Fn(&BridgeEvent) + Send>;

/// How to reach vpcd and what to present.
pub struct VpcdConfig {
    addr: String,
    atr: Vec<u8>,
    retry_interval: Duration,
    removal_time: Duration,
    on_event: Option<EventSink>,
}

impl std::fmt::Debug for VpcdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpcdConfig")
            .field("addr", &self.addr)
            .field("atr", &self.atr)
            .field("retry_interval", &self.retry_interval)
            .field("removal_time", &self.removal_time)
            .finish_non_exhaustive()
    }
}

impl Default for VpcdConfig {
    fn default() -> Self {
        Self {
            addr: DEFAULT_VPCD_ADDR.to_owned(),
            atr: MY_NUMBER_CARD_ATR.to_vec(),
            retry_interval: Duration::from_millis(200),
            removal_time: Duration::from_secs(1),
            on_event: None,
        }
    }
}

impl VpcdConfig {
    /// vpcd at `addr` (`host:port`), the My Number Card ATR.
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            ..Self::default()
        }
    }

    pub fn with_atr(mut self, atr: impl Into<Vec<u8>>) -> Self {
        self.atr = atr.into();
        self
    }

    /// Pause between connection attempts, and before reconnecting after vpcd closed the
    /// connection.
    pub fn with_retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// How long a card that left the reader because of a link failure (tag loss) stays out
    /// before it is inserted again. Keep it above two of pcscd's 400 ms presence polls.
    pub fn with_removal_time(mut self, time: Duration) -> Self {
        self.removal_time = time;
        self
    }

    /// Called on the bridge thread for every [`BridgeEvent`].
    pub fn on_event(mut self, sink: impl Fn(&BridgeEvent) + Send + 'static) -> Self {
        self.on_event = Some(Box::new(sink));
        self
    }
}

/// The protocol for one connection, independent of sockets (tests drive it over buffers).
pub struct Bridge<C> {
    card: C,
    atr: Vec<u8>,
}

/// How a connection ended without an I/O or card error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// vpcd closed the connection (pcscd stopped, or the bridge was stopped).
    Closed,
}

impl<C: VirtualCard> Bridge<C> {
    pub fn new(card: C, atr: impl Into<Vec<u8>>) -> Result<Self, VpcdError> {
        let atr = atr.into();
        if !(2..=33).contains(&atr.len()) {
            return Err(VpcdError::BadAtr(atr.len()));
        }
        Ok(Self { card, atr })
    }

    pub fn card(&self) -> &C {
        &self.card
    }

    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }

    pub fn into_card(self) -> C {
        self.card
    }

    /// Answers vpcd on `stream` until it closes the connection or something fails.
    pub fn serve_connection(
        &mut self,
        stream: &mut (impl Read + Write),
        on_event: &dyn Fn(&BridgeEvent),
    ) -> Result<ConnectionEnd, VpcdError> {
        loop {
            let mut len = [0u8; 2];
            match stream.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if is_closed(&e) => return Ok(ConnectionEnd::Closed),
                Err(e) => return Err(e.into()),
            }
            let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if let Err(e) = stream.read_exact(&mut message) {
                message.zeroize();
                return if is_closed(&e) {
                    Ok(ConnectionEnd::Closed)
                } else {
                    Err(e.into())
                };
            }
            let outcome = self.handle(&message, stream, on_event);
            // A command can carry a PIN.
            message.zeroize();
            outcome?;
        }
    }

    fn handle(
        &mut self,
        message: &[u8],
        stream: &mut impl Write,
        on_event: &dyn Fn(&BridgeEvent),
    ) -> Result<(), VpcdError> {
        match message {
            // vsmartcard's vicc ignores empty messages too.
            [] => Ok(()),
            [ctrl::POWER_OFF] => {
                self.card.reset();
                on_event(&BridgeEvent::PowerOff);
                Ok(())
            }
            [ctrl::POWER_ON] => {
                self.card.reset();
                on_event(&BridgeEvent::PowerOn);
                Ok(())
            }
            [ctrl::RESET] => {
                self.card.reset();
                on_event(&BridgeEvent::Reset);
                Ok(())
            }
            [ctrl::GET_ATR] => send_framed(stream, &self.atr),
            [other] => {
                on_event(&BridgeEvent::UnknownControl(*other));
                Ok(())
            }
            command => {
                let mut response = self.card.transmit(command).map_err(VpcdError::Card)?;
                let sent = if response.len() > usize::from(u16::MAX) {
                    Err(VpcdError::ResponseTooLong(response.len()))
                } else {
                    send_framed(stream, &response)
                };
                let status = match response.as_slice() {
                    [.., sw1, sw2] => u16::from_be_bytes([*sw1, *sw2]),
                    _ => 0,
                };
                // vpcd sends at least the 4 header bytes; a broken peer may not.
                let mut header = [0u8; 4];
                header.iter_mut().zip(command).for_each(|(h, b)| *h = *b);
                on_event(&BridgeEvent::Exchange {
                    header,
                    command_len: command.len(),
                    response_len: response.len(),
                    status,
                });
                response.zeroize();
                sent
            }
        }
    }
}

/// Writes one vpcd message: 2-byte big-endian length, then the payload.
fn send_framed(stream: &mut impl Write, payload: &[u8]) -> Result<(), VpcdError> {
    let len =
        u16::try_from(payload.len()).map_err(|_| VpcdError::ResponseTooLong(payload.len()))?;
    let mut frame = Vec::with_capacity(payload.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    let result = stream.write_all(&frame).and_then(|()| stream.flush());
    frame.zeroize();
    result.map_err(VpcdError::from)
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// State shared between a [`VpcdHandle`] and its thread.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Set while the card is held out of the reader by [`VpcdHandle::remove_card`].
    held_out: AtomicBool,
    /// The live connection, so that `stop` and `remove_card` can cut it.
    stream: Mutex<Option<TcpStream>>,
    insertions: AtomicU64,
    connected: AtomicBool,
}

impl Shared {
    fn cut_connection(&self) {
        let guard = self.stream.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(stream) = guard.as_ref() {
            // Unblocks the bridge thread's read; errors mean it is already closed.
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A running bridge. Dropping it without [`VpcdHandle::stop`] leaves the thread running until the
/// process ends (what the `honnin-vicc` binary wants).
pub struct VpcdHandle<C> {
    shared: Arc<Shared>,
    thread: JoinHandle<C>,
}

impl<C> std::fmt::Debug for VpcdHandle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpcdHandle")
            .field("connected", &self.is_connected())
            .field("insertions", &self.insertions())
            .finish_non_exhaustive()
    }
}

impl<C> VpcdHandle<C> {
    /// Whether the card is currently connected to vpcd (in the reader).
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::SeqCst)
    }

    /// How many times the card was inserted (connections made) so far.
    pub fn insertions(&self) -> u64 {
        self.shared.insertions.load(Ordering::SeqCst)
    }

    /// Waits until the card is in the reader, up to `timeout`.
    pub fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_connected() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Takes the card out of the reader (closes the connection) until [`Self::insert_card`].
    pub fn remove_card(&self) {
        self.shared.held_out.store(true, Ordering::SeqCst);
        self.shared.cut_connection();
    }

    /// Puts the card back after [`Self::remove_card`].
    pub fn insert_card(&self) {
        self.shared.held_out.store(false, Ordering::SeqCst);
    }

    /// Stops the bridge (the card leaves the reader) and hands the card back.
    pub fn stop(self) -> Result<C, VpcdError> {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.cut_connection();
        self.thread.join().map_err(|_| VpcdError::Panicked)
    }

    /// Blocks until the bridge thread ends (only [`Self::stop`] from elsewhere, or a panic, ends
    /// it).
    pub fn join(self) -> Result<C, VpcdError> {
        self.thread.join().map_err(|_| VpcdError::Panicked)
    }
}

/// Starts a thread that keeps `card` inserted in the vpcd reader at `config`'s address:
/// connects, answers vpcd, and after any disconnection (pcscd restarted, card removed by a fault)
/// resets the card and connects again.
pub fn serve<C>(card: C, config: VpcdConfig) -> Result<VpcdHandle<C>, VpcdError>
where
    C: VirtualCard + Send + 'static,
{
    let addr = resolve(&config.addr)?;
    let bridge = Bridge::new(card, config.atr)?;
    let shared = Arc::new(Shared::default());
    let thread_shared = Arc::clone(&shared);
    let pauses = Pauses {
        retry: config.retry_interval,
        removal: config.removal_time.max(config.retry_interval),
    };
    let on_event: EventSink = config.on_event.unwrap_or_else(|| Box::new(|_| {}));
    let thread = std::thread::Builder::new()
        .name("honnin-vicc".to_owned())
        .spawn(move || run(bridge, addr, pauses, &thread_shared, &*on_event))?;
    Ok(VpcdHandle { shared, thread })
}

fn resolve(addr: &str) -> Result<SocketAddr, VpcdError> {
    let bad = |reason: String| VpcdError::BadAddress {
        addr: addr.to_owned(),
        reason,
    };
    addr.to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("no address".to_owned()))
}

#[derive(Clone, Copy)]
struct Pauses {
    retry: Duration,
    removal: Duration,
}

/// The reconnect loop of [`serve`].
fn run<C: VirtualCard>(
    mut bridge: Bridge<C>,
    addr: SocketAddr,
    pauses: Pauses,
    shared: &Shared,
    on_event: &dyn Fn(&BridgeEvent),
) -> C {
    let mut failing = false;
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.held_out.load(Ordering::SeqCst) {
            pause(pauses.retry, shared);
            continue;
        }
        let stream = match connect(addr) {
            Ok(s) => s,
            Err(e) => {
                if !failing {
                    on_event(&BridgeEvent::CannotConnect {
                        reason: format!("{addr}: {e}"),
                    });
                    failing = true;
                }
                pause(pauses.retry, shared);
                continue;
            }
        };
        failing = false;
        {
            let mut slot = shared.stream.lock().unwrap_or_else(PoisonError::into_inner);
            *slot = stream.try_clone().ok();
        }
        // `stop` or `remove_card` may have come between the check above and storing the stream.
        if shared.stop.load(Ordering::SeqCst) || shared.held_out.load(Ordering::SeqCst) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        shared.insertions.fetch_add(1, Ordering::SeqCst);
        shared.connected.store(true, Ordering::SeqCst);
        on_event(&BridgeEvent::Inserted);

        let end = bridge.serve_connection(&mut QuickAck(&stream), on_event);
        let _ = stream.shutdown(std::net::Shutdown::Both);
        shared
            .stream
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        shared.connected.store(false, Ordering::SeqCst);
        // Out of the reader, the card has no power.
        bridge.card_mut().reset();
        let (reason, out_for) = match end {
            Ok(ConnectionEnd::Closed) => ("connection closed".to_owned(), pauses.retry),
            Err(e) => (e.to_string(), pauses.removal),
        };
        on_event(&BridgeEvent::Removed { reason });
        pause(out_for, shared);
    }
    bridge.into_card()
}

/// The bridge's TCP stream, acknowledging what it reads at once. vpcd (as Debian ships it) writes
/// a message's 2-byte length and its payload in two sends; with Nagle's algorithm on its side, the
/// payload waits for the length's ACK, which Linux delays up to 40 ms: 44 ms per APDU measured,
/// most of a check's time through pcscd. Quick-ACK mode is not sticky, so it is set again after
/// every read.
struct QuickAck<'a>(&'a TcpStream);

impl Read for QuickAck<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = (&mut &*self.0).read(buf)?;
        #[cfg(target_os = "linux")]
        {
            // Only a delay is lost if the socket refuses it.
            let _ = socket2::SockRef::from(self.0).set_tcp_quickack(true);
        }
        Ok(read)
    }
}

impl Write for QuickAck<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&mut &*self.0).flush()
    }
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_nodelay(true)?;
    #[cfg(target_os = "linux")]
    {
        let _ = socket2::SockRef::from(&stream).set_tcp_quickack(true);
    }
    Ok(stream)
}

/// Sleeps `total`, waking early when the bridge is stopped.
fn pause(total: Duration, shared: &Shared) {
    let deadline = Instant::now() + total;
    while !shared.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
}
