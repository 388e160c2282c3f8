//! Session establishment and encryption (ISO/IEC 18013-5 §9.1.1).
//!
//! - The reader makes a fresh P-256 key (EReaderKey) for every session.
//! - SessionTranscript = `[DeviceEngagementBytes, EReaderKeyBytes, Handover]`; its tagged
//!   encoding (`#6.24(bstr)`) is hashed with SHA-256 into the HKDF salt.
//! - SKReader and SKDevice = HKDF-SHA-256(ECDH x-coordinate, salt, "SKReader"/"SKDevice"), 32
//!   bytes each, wiped on drop.
//! - Every message is AES-256-GCM with IV = identifier (8 bytes: reader 0, device 1) ‖ message
//!   counter (4 bytes, big-endian, from 1): a message can only be opened once, in order, in this
//!   session. A device message that opens under a counter already used is a replay
//!   ([`MdocError::SessionReplayed`]); one that opens under no counter is from another session or
//!   altered ([`MdocError::SessionMessageRejected`]).
//!
//! The same [`SessionCipher`] serves the simulated phone (role [`Role::Device`]).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ciborium::Value;
use hkdf::Hkdf;
use p256::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::cbor;
use super::engagement::{DeviceEngagement, Handover, public_to_cose_key};
use super::error::MdocError;
use crate::verify::RandomSource;

/// SessionData status "session termination" (§9.1.1.4).
pub const STATUS_SESSION_TERMINATION: u64 = 20;

/// The SessionTranscript of one session, as encoded CBOR (the array, untagged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTranscript(Vec<u8>);

impl SessionTranscript {
    /// Builds the transcript from the exact engagement bytes and the reader's key.
    pub fn new(
        engagement: &[u8],
        e_reader_key_bytes: &[u8],
        handover: &Handover,
    ) -> Result<Self, MdocError> {
        cbor::encode(&Value::Array(vec![
            cbor::tagged(engagement.to_vec()),
            cbor::tagged(e_reader_key_bytes.to_vec()),
            handover.to_cbor(),
        ]))
        .map(Self)
    }

    /// A transcript kept in a record, taken as it is.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The decoded array, for embedding in DeviceAuthentication.
    pub fn value(&self) -> Result<Value, MdocError> {
        cbor::decode(&self.0, "SessionTranscript")
    }

    /// SHA-256 of `#6.24(bstr .cbor SessionTranscript)`: the HKDF salt.
    pub fn salt(&self) -> Result<[u8; 32], MdocError> {
        let tagged = cbor::encode(&cbor::tagged(self.0.clone()))?;
        Ok(Sha256::digest(&tagged).into())
    }
}

/// Which end of the session a cipher is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Reader,
    Device,
}

const READER_ID: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 0];
const DEVICE_ID: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];
/// How far back a device message is tried before it is called "from another session": enough
/// to recognise a repeated message of this session, small enough to stay cheap.
const REPLAY_WINDOW: u32 = 4;

/// Both session keys and the message counters of one end.
pub struct SessionCipher {
    sk_reader: Zeroizing<[u8; 32]>,
    sk_device: Zeroizing<[u8; 32]>,
    role: Role,
    sent: u32,
    received: u32,
}

impl std::fmt::Debug for SessionCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SessionCipher({:?}, sent {}, received {})",
            self.role, self.sent, self.received
        )
    }
}

/// ECDH of `own` with `peer`, then HKDF into both session keys.
pub fn derive(
    own: &SecretKey,
    peer: &PublicKey,
    transcript: &SessionTranscript,
    role: Role,
) -> Result<SessionCipher, MdocError> {
    let shared = p256::ecdh::diffie_hellman(own.to_nonzero_scalar(), peer.as_affine());
    let salt = transcript.salt()?;
    let hkdf = Hkdf::<Sha256>::new(Some(&salt), shared.raw_secret_bytes().as_slice());
    let mut sk_reader = Zeroizing::new([0u8; 32]);
    let mut sk_device = Zeroizing::new([0u8; 32]);
    hkdf.expand(b"SKReader", sk_reader.as_mut())
        .and_then(|()| hkdf.expand(b"SKDevice", sk_device.as_mut()))
        .map_err(|_| MdocError::Unsupported("an HKDF output length".into()))?;
    Ok(SessionCipher {
        sk_reader,
        sk_device,
        role,
        sent: 0,
        received: 0,
    })
}

fn nonce(id: [u8; 8], counter: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&id);
    iv[8..].copy_from_slice(&counter.to_be_bytes());
    iv
}

impl SessionCipher {
    fn keys(&self) -> (&[u8; 32], [u8; 8], &[u8; 32], [u8; 8]) {
        match self.role {
            Role::Reader => (&self.sk_reader, READER_ID, &self.sk_device, DEVICE_ID),
            Role::Device => (&self.sk_device, DEVICE_ID, &self.sk_reader, READER_ID),
        }
    }

    /// Encrypts the next outgoing message.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, MdocError> {
        self.sent = self
            .sent
            .checked_add(1)
            .ok_or(MdocError::Unsupported("more than 2^32 messages".into()))?;
        let (key, id, _, _) = self.keys();
        let cipher = Aes256Gcm::new(key.into());
        cipher
            .encrypt(&Nonce::from(nonce(id, self.sent)), plaintext)
            .map_err(|_| MdocError::Unsupported("a message too large for AES-GCM".into()))
    }

    /// Decrypts the next incoming message, which must carry the next counter.
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, MdocError> {
        let (_, _, key, id) = self.keys();
        let cipher = Aes256Gcm::new(key.into());
        let expected = self.received.saturating_add(1);
        if let Ok(plain) = cipher.decrypt(&Nonce::from(nonce(id, expected)), ciphertext) {
            self.received = expected;
            return Ok(Zeroizing::new(plain));
        }
        // Not the next message: was it one this session already saw (counter reused)?
        let earliest = self.received.saturating_sub(REPLAY_WINDOW).max(1);
        for old in (earliest..=self.received).rev() {
            if cipher
                .decrypt(&Nonce::from(nonce(id, old)), ciphertext)
                .is_ok()
            {
                return Err(MdocError::SessionReplayed(old));
            }
        }
        Err(MdocError::SessionMessageRejected)
    }
}

/// A fresh ephemeral P-256 key from `random`.
pub fn ephemeral_key(random: &mut dyn RandomSource) -> Result<SecretKey, MdocError> {
    // A random 32-byte string is a valid scalar except with probability ~2^-32; a few tries
    // make a failure a broken random source, not bad luck.
    for _ in 0..8 {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random.fill(bytes.as_mut());
        if let Ok(key) = SecretKey::from_slice(bytes.as_ref()) {
            return Ok(key);
        }
    }
    Err(MdocError::Unsupported(
        "a random source that yields no P-256 key".into(),
    ))
}

/// The reader's half of session establishment: its key, the transcript and the cipher.
pub struct ReaderSession {
    pub(crate) transcript: SessionTranscript,
    pub(crate) cipher: SessionCipher,
    e_reader_key_bytes: Vec<u8>,
}

impl ReaderSession {
    /// Makes the reader key and derives the session keys for `engagement`.
    pub fn establish(
        engagement: &DeviceEngagement,
        random: &mut dyn RandomSource,
    ) -> Result<Self, MdocError> {
        let key = ephemeral_key(random)?;
        let e_reader_key_bytes = cbor::encode(&public_to_cose_key(&key.public_key()))?;
        let transcript =
            SessionTranscript::new(engagement.raw(), &e_reader_key_bytes, engagement.handover())?;
        let cipher = derive(&key, engagement.e_device_key(), &transcript, Role::Reader)?;
        Ok(Self {
            transcript,
            cipher,
            e_reader_key_bytes,
        })
    }

    pub fn transcript(&self) -> &SessionTranscript {
        &self.transcript
    }

    /// SessionEstablishment `{"eReaderKey": #6.24(COSE_Key), "data": encrypted request}`.
    pub fn establishment(&mut self, request: &[u8]) -> Result<Vec<u8>, MdocError> {
        let data = self.cipher.seal(request)?;
        cbor::encode(&cbor::text_map(vec![
            ("eReaderKey", cbor::tagged(self.e_reader_key_bytes.clone())),
            ("data", Value::Bytes(data)),
        ]))
    }

    /// Opens a SessionData from the phone: its decrypted data.
    pub fn open_session_data(&mut self, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, MdocError> {
        let (data, status) = parse_session_data(message)?;
        match data {
            Some(data) => self.cipher.open(&data),
            None => Err(MdocError::SessionEnded(status.unwrap_or(0))),
        }
    }

    /// SessionData `{"status": 20}`: the reader ends the session.
    pub fn termination() -> Result<Vec<u8>, MdocError> {
        cbor::encode(&cbor::text_map(vec![(
            "status",
            Value::Integer(STATUS_SESSION_TERMINATION.into()),
        )]))
    }
}

/// SessionData `{? "data": bstr, ? "status": uint}`.
pub fn parse_session_data(message: &[u8]) -> Result<(Option<Vec<u8>>, Option<u64>), MdocError> {
    const WHAT: &str = "SessionData";
    let value = cbor::decode(message, WHAT)?;
    let entries = cbor::map(&value, WHAT)?;
    let data = cbor::get(entries, "data")
        .map(|v| cbor::bytes(v, WHAT).map(<[u8]>::to_vec))
        .transpose()?;
    let status = cbor::get(entries, "status")
        .map(|v| cbor::uint(v, WHAT))
        .transpose()?;
    if data.is_none() && status.is_none() {
        return Err(MdocError::malformed(WHAT, "neither data nor status"));
    }
    Ok((data, status))
}

/// SessionData with encrypted data (the phone's answer).
pub fn session_data(data: Vec<u8>) -> Result<Vec<u8>, MdocError> {
    cbor::encode(&cbor::text_map(vec![("data", Value::Bytes(data))]))
}

/// SessionEstablishment as the phone reads it: the reader key and the encrypted request.
pub fn parse_establishment(message: &[u8]) -> Result<(PublicKey, Vec<u8>, Vec<u8>), MdocError> {
    const WHAT: &str = "SessionEstablishment";
    let value = cbor::decode(message, WHAT)?;
    let entries = cbor::map(&value, WHAT)?;
    let key_bytes = cbor::embedded(cbor::field(entries, "eReaderKey", WHAT)?, WHAT)?.to_vec();
    let key = super::engagement::cose_key_to_public(&cbor::decode(&key_bytes, "EReaderKey")?)?;
    let data = cbor::bytes(cbor::field(entries, "data", WHAT)?, WHAT)?.to_vec();
    Ok((key, key_bytes, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SecretKey {
        let mut bytes = [seed; 32];
        bytes[0] = 1;
        SecretKey::from_slice(&bytes).expect("valid scalar")
    }

    fn pair() -> (SessionCipher, SessionCipher) {
        let transcript = SessionTranscript(vec![0x80]);
        let (reader, device) = (key(2), key(3));
        let r = derive(&reader, &device.public_key(), &transcript, Role::Reader).expect("reader");
        let d = derive(&device, &reader.public_key(), &transcript, Role::Device).expect("device");
        (r, d)
    }

    #[test]
    fn both_ends_agree_and_counters_advance() {
        let (mut reader, mut device) = pair();
        let first = reader.seal(b"request").expect("seal");
        assert_eq!(device.open(&first).expect("open").as_slice(), b"request");
        let answer = device.seal(b"response").expect("seal");
        assert_eq!(reader.open(&answer).expect("open").as_slice(), b"response");
        // The same message again: recognised as a replay, not as garbage.
        assert_eq!(reader.open(&answer), Err(MdocError::SessionReplayed(1)));
        // A message of the reader's own direction does not open as the device's.
        let own = reader.seal(b"x").expect("seal");
        assert_eq!(reader.open(&own), Err(MdocError::SessionMessageRejected));
    }

    #[test]
    fn another_sessions_message_is_rejected() {
        let (_, mut device_a) = pair();
        let transcript = SessionTranscript(vec![0x81, 0x00]);
        let mut reader_b =
            derive(&key(2), &key(3).public_key(), &transcript, Role::Reader).expect("reader");
        let message = device_a.seal(b"old answer").expect("seal");
        assert_eq!(
            reader_b.open(&message),
            Err(MdocError::SessionMessageRejected)
        );
    }
}
