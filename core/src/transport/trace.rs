//! Recording APDU exchanges and replaying them.
//!
//! Traces are text, one exchange per line, so they can be committed under `fixtures/traces/` and
//! read in review:
//!
//! ```text
//! > 00A4040C0AD392F000260100000001
//! < 9000
//! > 00200080 04 ********
//! < 63C2
//! > 00B00000 00
//! ! tag-lost
//! ```
//!
//! The data of VERIFY commands (PINs, 照合番号B) is never written: the recorder replaces it with
//! `*` per byte, and replay accepts any data of the same length there.
//!
//! Response data is personal too: card-face data (birth date, name, address and face images),
//! the basic four attributes, the signing certificate's holder attributes, and the input-support
//! `DF31` hash of the Individual Number, which can be reversed by trying every number. So a
//! [`TracingTransport::new`] records of each response only its length and status word,
//! `< redacted 3412 9000`, which is enough to see what a reader did. A trace that can be replayed
//! needs the data: [`TracingTransport::with_full_responses`] is the explicit door for the software
//! card's fixture traces and tests, never for a real card.

use std::fmt::Write as _;

use thiserror::Error;

use super::{CardTransport, TransportCapabilities, TransportError};
use crate::apdu::Command;
use crate::card::profile::ins;

/// One exchange: the command as sent (secrets masked) and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// Header and length bytes in hex, then the data in hex or `*` per masked byte.
    pub command: String,
    pub outcome: TraceOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceOutcome {
    Response(Vec<u8>),
    /// A response whose data was not recorded: its length and the status word.
    Redacted {
        data_len: usize,
        status: [u8; 2],
    },
    TagLost,
    Failed(String),
}

impl TraceOutcome {
    /// What the recorder keeps of a response: everything, or only its length and status word.
    fn of_response(bytes: &[u8], full: bool) -> Self {
        match bytes {
            // A bare status word carries nothing personal and stays readable.
            [data @ .., sw1, sw2] if !full && !data.is_empty() => TraceOutcome::Redacted {
                data_len: data.len(),
                status: [*sw1, *sw2],
            },
            _ => TraceOutcome::Response(bytes.to_vec()),
        }
    }
}

const REDACTED: &str = "redacted";

/// A sequence of exchanges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub entries: Vec<TraceEntry>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TraceError {
    #[error("trace line {line}: {reason}")]
    Syntax { line: usize, reason: String },
}

/// Masks the data of commands that carry secrets. Only the shape of the APDU is kept.
fn describe_command(bytes: &[u8]) -> String {
    let mut text = String::new();
    let Ok(cmd) = Command::parse(bytes) else {
        return hex_upper(bytes);
    };
    let header = &bytes[..4];
    let body = &bytes[4..];
    let data_len = cmd.data().len();
    let data_start = if data_len == 0 {
        body.len()
    } else if cmd.is_extended() {
        3
    } else {
        1
    };
    text.push_str(&hex_upper(header));
    if data_len == 0 {
        if !body.is_empty() {
            text.push(' ');
            text.push_str(&hex_upper(body));
        }
        return text;
    }
    text.push(' ');
    text.push_str(&hex_upper(&body[..data_start]));
    text.push(' ');
    if cmd.ins == ins::VERIFY {
        text.push_str(&"**".repeat(data_len));
    } else {
        text.push_str(&hex_upper(cmd.data()));
    }
    let le = &body[data_start + data_len..];
    if !le.is_empty() {
        text.push(' ');
        text.push_str(&hex_upper(le));
    }
    text
}

fn hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// Whether a sent command matches a recorded one, `**` matching any byte.
fn command_matches(recorded: &str, sent: &[u8]) -> bool {
    let pattern: Vec<u8> = recorded
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if pattern.len() != sent.len() * 2 {
        return false;
    }
    pattern.chunks(2).zip(sent).all(|(pair, byte)| {
        pair == b"**"
            || std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                == Some(*byte)
    })
}

impl Trace {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            let _ = writeln!(out, "> {}", entry.command);
            match &entry.outcome {
                TraceOutcome::Response(bytes) => {
                    let _ = writeln!(out, "< {}", hex_upper(bytes));
                }
                TraceOutcome::Redacted { data_len, status } => {
                    let _ = writeln!(out, "< {REDACTED} {data_len} {}", hex_upper(status));
                }
                TraceOutcome::TagLost => out.push_str("! tag-lost\n"),
                TraceOutcome::Failed(msg) => {
                    let _ = writeln!(out, "! failed {}", msg.replace('\n', " "));
                }
            }
        }
        out
    }

    pub fn parse(text: &str) -> Result<Self, TraceError> {
        let mut entries = Vec::new();
        let mut pending: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let syntax = |reason: &str| TraceError::Syntax {
                line,
                reason: reason.to_string(),
            };
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let mut chars = raw.chars();
            let marker = chars.next().map(String::from).unwrap_or_default();
            let rest = chars.as_str().trim();
            match marker.as_str() {
                ">" => {
                    if pending.is_some() {
                        return Err(syntax("a command follows a command without an answer"));
                    }
                    pending = Some(rest.to_string());
                }
                "<" | "!" => {
                    let command = pending
                        .take()
                        .ok_or_else(|| syntax("an answer with no command before it"))?;
                    let outcome = match (marker.as_str(), rest) {
                        ("<", redacted) if redacted.starts_with(REDACTED) => {
                            parse_redacted(&redacted[REDACTED.len()..])
                                .ok_or_else(|| syntax("redacted response is not <length> <SW>"))?
                        }
                        ("<", hex) => TraceOutcome::Response(
                            parse_hex(hex).ok_or_else(|| syntax("response is not hex"))?,
                        ),
                        ("!", "tag-lost") => TraceOutcome::TagLost,
                        ("!", other) => TraceOutcome::Failed(
                            other
                                .strip_prefix("failed")
                                .unwrap_or(other)
                                .trim()
                                .to_string(),
                        ),
                        _ => return Err(syntax("unknown marker")),
                    };
                    entries.push(TraceEntry { command, outcome });
                }
                _ => return Err(syntax("a line starts with '>', '<', '!' or '#'")),
            }
        }
        if pending.is_some() {
            return Err(TraceError::Syntax {
                line: text.lines().count(),
                reason: "the last command has no answer".into(),
            });
        }
        Ok(Self { entries })
    }
}

/// `<length> <SW1SW2>` after the `redacted` marker.
fn parse_redacted(text: &str) -> Option<TraceOutcome> {
    let mut parts = text.split_whitespace();
    let data_len = parts.next()?.parse().ok()?;
    let status = parse_hex(parts.next()?)?;
    match (status.as_slice(), parts.next()) {
        ([sw1, sw2], None) => Some(TraceOutcome::Redacted {
            data_len,
            status: [*sw1, *sw2],
        }),
        _ => None,
    }
}

/// Wraps a transport and records every exchange, secrets masked and response data redacted
/// (see the module docs).
pub struct TracingTransport<T> {
    inner: T,
    trace: Trace,
    /// Whether response data is recorded; only [`TracingTransport::with_full_responses`] sets it.
    full_responses: bool,
}

impl<T: CardTransport> TracingTransport<T> {
    /// Records commands (VERIFY data masked) and, of each response, its length and status word.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            trace: Trace::default(),
            full_responses: false,
        }
    }

    /// Records responses in full, personal data and the `DF31` hash included, so that the trace
    /// can be replayed. For the software card's fixture traces and tests only: never point it at
    /// a real person's card, and never use it where traces are logged or kept.
    pub fn with_full_responses(inner: T) -> Self {
        Self {
            full_responses: true,
            ..Self::new(inner)
        }
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    pub fn into_parts(self) -> (T, Trace) {
        (self.inner, self.trace)
    }
}

impl<T: CardTransport> CardTransport for TracingTransport<T> {
    fn capabilities(&self) -> TransportCapabilities {
        self.inner.capabilities()
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let result = self.inner.transmit(command);
        let outcome = match &result {
            Ok(bytes) => TraceOutcome::of_response(bytes, self.full_responses),
            Err(TransportError::TagLost) => TraceOutcome::TagLost,
            Err(other) => TraceOutcome::Failed(other.to_string()),
        };
        self.trace.entries.push(TraceEntry {
            command: describe_command(command),
            outcome,
        });
        result
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.inner.reconnect()
    }
}

/// Plays a recorded trace back, failing loudly when the reader deviates from it.
pub struct ReplayTransport {
    trace: Trace,
    position: usize,
    capabilities: TransportCapabilities,
}

impl ReplayTransport {
    pub fn new(trace: Trace, capabilities: TransportCapabilities) -> Self {
        Self {
            trace,
            position: 0,
            capabilities,
        }
    }

    /// True when every recorded exchange was replayed.
    pub fn finished(&self) -> bool {
        self.position == self.trace.entries.len()
    }
}

impl CardTransport for ReplayTransport {
    fn capabilities(&self) -> TransportCapabilities {
        self.capabilities
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let Some(entry) = self.trace.entries.get(self.position) else {
            return Err(TransportError::Reader(format!(
                "replay: command {} sent after the trace ended",
                self.position + 1
            )));
        };
        if !command_matches(&entry.command, command) {
            return Err(TransportError::Reader(format!(
                "replay: command {} differs from the trace (expected {}, sent {})",
                self.position + 1,
                entry.command,
                describe_command(command)
            )));
        }
        self.position += 1;
        match &entry.outcome {
            TraceOutcome::Response(bytes) => Ok(bytes.clone()),
            TraceOutcome::Redacted { .. } => Err(TransportError::Reader(format!(
                "replay: response {} was redacted when recorded; a trace to replay is recorded \
                 with TracingTransport::with_full_responses",
                self.position
            ))),
            TraceOutcome::TagLost => Err(TransportError::TagLost),
            TraceOutcome::Failed(msg) => Err(TransportError::Reader(msg.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl CardTransport for Echo {
        fn capabilities(&self) -> TransportCapabilities {
            TransportCapabilities::SHORT_ONLY
        }
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            if command[1] == 0xB0 {
                return Err(TransportError::TagLost);
            }
            Ok(vec![0x63, 0xC2])
        }
    }

    /// Answers every READ BINARY with personal-looking data.
    struct Reader;
    const SECRET: &[u8] = b"19900401 DF31-hash";
    impl CardTransport for Reader {
        fn capabilities(&self) -> TransportCapabilities {
            TransportCapabilities::SHORT_ONLY
        }
        fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok([SECRET, &[0x90, 0x00]].concat())
        }
    }

    #[test]
    fn response_data_is_redacted_by_default() {
        let mut rec = TracingTransport::new(Reader);
        assert_eq!(
            rec.transmit(&[0, 0xB0, 0, 0, 0]).expect("answers"),
            [SECRET, &[0x90, 0x00]].concat(),
            "the reader still gets the data"
        );
        let text = rec.trace().to_text();
        assert!(!text.contains(&hex_upper(SECRET)), "{text}");
        assert!(!text.contains(&hex_upper(&SECRET[..4])), "{text}");
        assert!(text.contains("< redacted 18 9000"), "{text}");
        // The redacted trace parses back to the same entries, and replay says why it cannot go on.
        let parsed = Trace::parse(&text).expect("parses");
        assert_eq!(&parsed, rec.trace());
        let mut replay = ReplayTransport::new(parsed, TransportCapabilities::SHORT_ONLY);
        let err = replay.transmit(&[0, 0xB0, 0, 0, 0]).expect_err("redacted");
        assert!(matches!(err, TransportError::Reader(m) if m.contains("with_full_responses")));

        let mut full = TracingTransport::with_full_responses(Reader);
        full.transmit(&[0, 0xB0, 0, 0, 0]).expect("answers");
        assert!(full.trace().to_text().contains(&hex_upper(SECRET)));
    }

    #[test]
    fn verify_data_is_masked_and_replays() {
        let mut rec = TracingTransport::with_full_responses(Echo);
        rec.transmit(&[0, 0x20, 0, 0x80, 4, b'1', b'2', b'3', b'4'])
            .expect("answers");
        assert_eq!(
            rec.transmit(&[0, 0xB0, 0, 0, 0]),
            Err(TransportError::TagLost)
        );
        let text = rec.trace().to_text();
        assert!(!text.contains("31323334"), "{text}");
        assert!(text.contains("> 00200080 04 ********"), "{text}");
        assert!(text.contains("! tag-lost"), "{text}");

        let trace = Trace::parse(&text).expect("parses");
        let mut replay = ReplayTransport::new(trace, TransportCapabilities::SHORT_ONLY);
        assert_eq!(
            replay.transmit(&[0, 0x20, 0, 0x80, 4, b'9', b'9', b'9', b'9']),
            Ok(vec![0x63, 0xC2])
        );
        assert_eq!(
            replay.transmit(&[0, 0xB0, 0, 0, 0]),
            Err(TransportError::TagLost)
        );
        assert!(replay.finished());
    }

    #[test]
    fn replay_rejects_a_different_command() {
        let trace = Trace::parse("> 00A4040C02 0001\n< 9000\n").expect("parses");
        let mut replay = ReplayTransport::new(trace, TransportCapabilities::SHORT_ONLY);
        let err = replay
            .transmit(&[0, 0xA4, 4, 0x0C, 2, 0, 2])
            .expect_err("differs");
        assert!(matches!(err, TransportError::Reader(m) if m.contains("differs")));
    }

    #[test]
    fn malformed_trace_is_a_typed_error() {
        assert!(matches!(
            Trace::parse("< 9000"),
            Err(TraceError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            Trace::parse("> 00\n< XYZ"),
            Err(TraceError::Syntax { line: 2, .. })
        ));
        for bad in [
            "redacted",
            "redacted x 9000",
            "redacted 3 90",
            "redacted 3 9000 1",
        ] {
            assert!(
                matches!(
                    Trace::parse(&format!("> 00\n< {bad}")),
                    Err(TraceError::Syntax { line: 2, .. })
                ),
                "{bad}"
            );
        }
        // Found by the trace fuzz target: a line starting with a multi-byte character.
        assert!(matches!(
            Trace::parse("Շ"),
            Err(TraceError::Syntax { line: 1, .. })
        ));
    }
}
