use thiserror::Error;
use zeroize::Zeroize;

/// Largest `Le` a short APDU can ask for (encoded as `00`).
pub const MAX_SHORT_LE: usize = 256;
/// Largest `Le` an extended APDU can ask for (encoded as `00 00`).
pub const MAX_EXTENDED_LE: usize = 65_536;

/// How many response bytes a command asks for.
///
/// Invariant: `1 ..= MAX_EXTENDED_LE`; `Le` of zero is not a request, it is the absence of `Le`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Le(u32);

impl Le {
    /// `None` when `bytes` is 0 or above [`MAX_EXTENDED_LE`].
    pub fn new(bytes: usize) -> Option<Self> {
        (1..=MAX_EXTENDED_LE)
            .contains(&bytes)
            .then_some(Self(bytes as u32))
    }

    pub const fn short_max() -> Self {
        Self(MAX_SHORT_LE as u32)
    }

    pub fn bytes(self) -> usize {
        self.0 as usize
    }

    fn needs_extended(self) -> bool {
        self.bytes() > MAX_SHORT_LE
    }
}

/// A command APDU.
///
/// The data field may carry a PIN (VERIFY), so it is wiped when the command is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    data: Vec<u8>,
    le: Option<Le>,
    force_extended: bool,
}

impl Drop for Command {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

impl std::fmt::Debug for Command {
    // Data is never printed: it can be a PIN or 照合番号B.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le.map(Le::bytes)
        )
    }
}

/// The command could not be decoded from bytes (used by the software card and trace replay).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CommandParseError {
    #[error("command APDU is {0} bytes; a command needs at least the 4 header bytes")]
    TooShort(usize),
    #[error("command APDU length {actual} does not match its Lc/Le encoding")]
    BadLength { actual: usize },
    #[error("command data is longer than 65,535 bytes")]
    DataTooLong,
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
            force_extended: false,
        }
    }

    /// Sets the data field. Data above 65,535 bytes cannot be encoded; callers in this crate never
    /// build such commands, and [`Command::to_bytes`] would report it through `Err`.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data.zeroize();
        self.data = data.into();
        self
    }

    pub fn with_le(mut self, le: Le) -> Self {
        self.le = Some(le);
        self
    }

    /// Encode in the extended form even when the short form would do.
    pub fn extended(mut self) -> Self {
        self.force_extended = true;
        self
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn le(&self) -> Option<Le> {
        self.le
    }

    pub fn is_extended(&self) -> bool {
        self.force_extended || self.data.len() > 255 || self.le.is_some_and(Le::needs_extended)
    }

    /// Encoded length without building the bytes (for counters and buffer sizing).
    pub fn encoded_len(&self) -> usize {
        let ext = self.is_extended();
        let lc = match (self.data.is_empty(), ext) {
            (true, _) => 0,
            (false, false) => 1 + self.data.len(),
            (false, true) => 3 + self.data.len(),
        };
        let le = match (self.le.is_some(), ext, self.data.is_empty()) {
            (false, _, _) => 0,
            (true, false, _) => 1,
            // Extended Le is two bytes after an extended Lc, three (00 + 2) without one.
            (true, true, false) => 2,
            (true, true, true) => 3,
        };
        4 + lc + le
    }

    /// Encodes the APDU per ISO 7816-4 §5.1 (cases 1–4, short or extended).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CommandParseError> {
        if self.data.len() > 65_535 {
            return Err(CommandParseError::DataTooLong);
        }
        let ext = self.is_extended();
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            if ext {
                out.push(0);
                out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
            } else {
                out.push(self.data.len() as u8);
            }
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            // 256 (short) and 65,536 (extended) are encoded as zero, by the standard.
            if ext {
                if self.data.is_empty() {
                    out.push(0);
                }
                out.extend_from_slice(&((le.bytes() % MAX_EXTENDED_LE) as u16).to_be_bytes());
            } else {
                out.push((le.bytes() % MAX_SHORT_LE) as u8);
            }
        }
        Ok(out)
    }

    /// Decodes an encoded APDU (the inverse of [`Command::to_bytes`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, CommandParseError> {
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(CommandParseError::TooShort(bytes.len()));
        };
        let mut cmd = Command::new(*cla, *ins, *p1, *p2);
        let bad = || CommandParseError::BadLength {
            actual: bytes.len(),
        };
        let short_le = |b: u8| if b == 0 { MAX_SHORT_LE } else { b as usize };
        let ext_len = |hi: u8, lo: u8| u16::from_be_bytes([hi, lo]) as usize;
        let ext_le = |n: usize| if n == 0 { MAX_EXTENDED_LE } else { n };
        match body {
            [] => {}
            // Case 2 short.
            [le] => cmd.le = Le::new(short_le(*le)),
            // Case 2 extended.
            [0, hi, lo] => {
                cmd.le = Le::new(ext_le(ext_len(*hi, *lo)));
                cmd.force_extended = true;
            }
            // Cases 3 and 4 extended.
            [0, hi, lo, rest @ ..] => {
                let lc = ext_len(*hi, *lo);
                if lc == 0 {
                    return Err(bad());
                }
                match rest.len().checked_sub(lc) {
                    Some(0) => {}
                    Some(2) => {
                        cmd.le = Le::new(ext_le(ext_len(rest[lc], rest[lc + 1])));
                    }
                    _ => return Err(bad()),
                }
                cmd.data = rest[..lc].to_vec();
                cmd.force_extended = true;
            }
            // Cases 3 and 4 short.
            [lc, rest @ ..] => {
                // A leading zero announces the extended form, which needs at least 3 bytes.
                if *lc == 0 {
                    return Err(bad());
                }
                let lc = *lc as usize;
                match rest.len().checked_sub(lc) {
                    Some(0) => {}
                    Some(1) => cmd.le = Le::new(short_le(rest[lc])),
                    _ => return Err(bad()),
                }
                cmd.data = rest[..lc].to_vec();
            }
        }
        Ok(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(cmd: &Command) -> Command {
        Command::parse(&cmd.to_bytes().expect("encodes")).expect("parses")
    }

    #[test]
    fn select_by_aid_has_no_le() {
        let aid = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
        let cmd = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(aid);
        let bytes = cmd.to_bytes().expect("encodes");
        assert_eq!(&bytes[..5], &[0x00, 0xA4, 0x04, 0x0C, 0x0A]);
        assert_eq!(bytes.len(), 15);
        assert_eq!(cmd.encoded_len(), 15);
    }

    #[test]
    fn short_le_256_encodes_as_zero() {
        let cmd = Command::new(0, 0xB0, 0, 0).with_le(Le::short_max());
        assert_eq!(cmd.to_bytes().expect("encodes"), vec![0, 0xB0, 0, 0, 0]);
        assert_eq!(roundtrip(&cmd).le().map(Le::bytes), Some(256));
    }

    #[test]
    fn extended_le_without_data_has_three_bytes() {
        let le = Le::new(4096).expect("valid");
        let cmd = Command::new(0, 0xB0, 0, 0).with_le(le);
        assert_eq!(
            cmd.to_bytes().expect("encodes"),
            vec![0, 0xB0, 0, 0, 0x00, 0x10, 0x00]
        );
        assert_eq!(cmd.encoded_len(), 7);
        assert_eq!(roundtrip(&cmd).le(), Some(le));
    }

    #[test]
    fn extended_65536_encodes_as_zero_zero() {
        let cmd = Command::new(0, 0xB0, 0, 0).with_le(Le::new(65_536).expect("valid"));
        assert_eq!(
            cmd.to_bytes().expect("encodes"),
            vec![0, 0xB0, 0, 0, 0, 0, 0]
        );
        assert_eq!(roundtrip(&cmd).le().map(Le::bytes), Some(65_536));
    }

    #[test]
    fn case4_extended_roundtrips() {
        let cmd = Command::new(0x80, 0x2A, 0, 0x80)
            .with_data(vec![7u8; 51])
            .with_le(Le::new(256).expect("valid"))
            .extended();
        let bytes = cmd.to_bytes().expect("encodes");
        assert_eq!(bytes.len(), 4 + 3 + 51 + 2);
        assert_eq!(roundtrip(&cmd), cmd);
    }

    #[test]
    fn case4_short_roundtrips() {
        let cmd = Command::new(0x80, 0x2A, 0, 0x80)
            .with_data(vec![7u8; 51])
            .with_le(Le::short_max());
        assert_eq!(cmd.to_bytes().expect("encodes").len(), 4 + 1 + 51 + 1);
        assert_eq!(roundtrip(&cmd), cmd);
    }

    #[test]
    fn le_zero_is_not_a_request() {
        assert_eq!(Le::new(0), None);
        assert_eq!(Le::new(65_537), None);
    }

    #[test]
    fn bad_lengths_are_typed_errors() {
        assert_eq!(
            Command::parse(&[0, 0xA4]),
            Err(CommandParseError::TooShort(2))
        );
        assert_eq!(
            Command::parse(&[0, 0xA4, 4, 0x0C, 5, 1, 2]),
            Err(CommandParseError::BadLength { actual: 7 })
        );
        assert_eq!(
            Command::parse(&[0, 0xA4, 4, 0x0C, 0, 0, 0, 1]),
            Err(CommandParseError::BadLength { actual: 8 })
        );
    }

    #[test]
    fn debug_never_shows_data() {
        let cmd = Command::new(0, 0x20, 0, 0x80).with_data(*b"1234");
        let shown = format!("{cmd:?}");
        assert!(!shown.contains("1234"), "{shown}");
        assert!(!shown.contains("31 32"), "{shown}");
    }
}
