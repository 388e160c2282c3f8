//! The challenge the card signs: bound to one parcel, one sender, one device and one moment, so a
//! signature cannot be replayed for another parcel.
//!
//! `challenge = SHA-256("honnin/challenge/v1" ‖ 0x00 ‖ for each field: u32 length ‖ bytes)`, the
//! fields being item id, sender id, device id (UTF-8), the check time (i64 seconds, big-endian)
//! and a 32-byte random nonce. Length prefixes keep `("ab","c")` and `("a","bc")` apart; the
//! version in the domain tag lets the format change without ambiguity. docs/record-format.md
//! repeats this so that senders can recompute it.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::time::{RandomSource, UnixTime};

const DOMAIN: &[u8] = b"honnin/challenge/v1";
pub const NONCE_LEN: usize = 32;

/// What a challenge binds. Kept in the record so the sender can recompute the challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChallengeInputs {
    pub item_id: String,
    pub sender_id: String,
    pub device_id: String,
    pub time: UnixTime,
    #[serde(with = "hex_bytes")]
    pub nonce: [u8; NONCE_LEN],
}

impl ChallengeInputs {
    /// Binds a fresh nonce from `random` to the parcel and the moment.
    pub fn fresh(
        item_id: &str,
        sender_id: &str,
        device_id: &str,
        time: UnixTime,
        random: &mut dyn RandomSource,
    ) -> Self {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        Self {
            item_id: item_id.to_owned(),
            sender_id: sender_id.to_owned(),
            device_id: device_id.to_owned(),
            time,
            nonce,
        }
    }

    /// The 32 bytes the card signs (as the SHA-256 digest in a DigestInfo).
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.preimage()).into()
    }

    /// The bytes whose SHA-256 is [`digest`](Self::digest): the card's PKCS#1 v1.5 SHA-256
    /// signature over the digest is one over these bytes, as a verifier that hashes for itself
    /// takes it.
    pub fn preimage(&self) -> Vec<u8> {
        let fields = [
            self.item_id.as_bytes(),
            self.sender_id.as_bytes(),
            self.device_id.as_bytes(),
            &self.time.0.to_be_bytes(),
            &self.nonce,
        ];
        let mut bytes = Vec::with_capacity(
            DOMAIN.len() + 1 + fields.iter().map(|f| 4 + f.len()).sum::<usize>(),
        );
        bytes.extend_from_slice(DOMAIN);
        bytes.push(0);
        for field in fields {
            bytes.extend_from_slice(&(field.len() as u32).to_be_bytes());
            bytes.extend_from_slice(field);
        }
        bytes
    }
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl RandomSource for Counter {
        fn fill(&mut self, out: &mut [u8]) {
            for b in out {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    fn inputs(item: &str, sender: &str) -> ChallengeInputs {
        ChallengeInputs::fresh(
            item,
            sender,
            "dev-1",
            UnixTime(1_795_564_800),
            &mut Counter(0),
        )
    }

    #[test]
    fn every_field_changes_the_challenge() {
        let base = inputs("item-1", "bank");
        let mut other = base.clone();
        other.item_id = "item-2".into();
        assert_ne!(base.digest(), other.digest());
        let mut other = base.clone();
        other.device_id = "dev-2".into();
        assert_ne!(base.digest(), other.digest());
        let mut other = base.clone();
        other.time = UnixTime(base.time.0 + 1);
        assert_ne!(base.digest(), other.digest());
        let mut other = base.clone();
        other.nonce[31] ^= 1;
        assert_ne!(base.digest(), other.digest());
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        assert_ne!(inputs("ab", "c").digest(), inputs("a", "bc").digest());
    }

    #[test]
    fn nonces_are_fresh() {
        let mut random = Counter(0);
        let a = ChallengeInputs::fresh("i", "s", "d", UnixTime(0), &mut random);
        let b = ChallengeInputs::fresh("i", "s", "d", UnixTime(0), &mut random);
        assert_ne!(a.nonce, b.nonce);
    }
}
