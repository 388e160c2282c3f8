//! The time model of `card-model.md` ("Time model for benchmarks"): no public measurement of My
//! Number Card timings exists, so a card's time is modelled from counts.
//!
//! `t = APDUs × 15 ms + bytes on the air × 8 / bitrate + on-card RSA-2048 operations × 300 ms`,
//! at 106 kbit/s (ISO 14443 Type B base rate, the worst case) and 424 kbit/s. The parameters
//! change only together with card-model.md.

use std::ops::Add;

use honnin_core::reader::Counters;
use honnin_simcard::CardStats;

/// What a piece of card work cost: the counts the time model takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub apdus: u64,
    /// Command bytes, header to Le.
    pub bytes_sent: u64,
    /// Response bytes, data and status word.
    pub bytes_received: u64,
    /// Signatures the card made (COMPUTE DIGITAL SIGNATURE, INTERNAL AUTHENTICATE).
    pub rsa_operations: u64,
}

impl Cost {
    /// The host's counters of a session or operation, and the card's RSA operations over the same
    /// span (the host cannot see those).
    pub fn new(counters: Counters, rsa_operations: u64) -> Self {
        Self {
            apdus: u64::from(counters.apdus),
            bytes_sent: counters.bytes_sent,
            bytes_received: counters.bytes_received,
            rsa_operations,
        }
    }

    /// The card's own view of a span: its statistics after minus before.
    pub fn between(before: CardStats, after: CardStats) -> Self {
        let diff = |a: usize, b: usize| a.saturating_sub(b) as u64;
        Self {
            apdus: diff(after.exchanges, before.exchanges),
            bytes_sent: diff(after.command_bytes, before.command_bytes),
            bytes_received: diff(after.response_bytes, before.response_bytes),
            rsa_operations: diff(after.rsa_operations, before.rsa_operations),
        }
    }

    pub fn bytes_on_air(&self) -> u64 {
        self.bytes_sent + self.bytes_received
    }
}

impl Add for Cost {
    type Output = Cost;

    fn add(self, other: Cost) -> Cost {
        Cost {
            apdus: self.apdus + other.apdus,
            bytes_sent: self.bytes_sent + other.bytes_sent,
            bytes_received: self.bytes_received + other.bytes_received,
            rsa_operations: self.rsa_operations + other.rsa_operations,
        }
    }
}

/// The model's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeModel {
    pub per_apdu_ms: f64,
    pub per_rsa_operation_ms: f64,
}

impl TimeModel {
    /// The parameters of card-model.md.
    pub const CARD_MODEL: Self = Self {
        per_apdu_ms: 15.0,
        per_rsa_operation_ms: 300.0,
    };

    /// The two bitrates card-model.md asks for, in bit/s.
    pub const BITRATES: [u32; 2] = [106_000, 424_000];

    /// Modelled time of `cost` at `bitrate` bit/s, in milliseconds.
    pub fn millis(&self, cost: &Cost, bitrate: u32) -> f64 {
        cost.apdus as f64 * self.per_apdu_ms
            + cost.bytes_on_air() as f64 * 8.0 * 1000.0 / f64::from(bitrate)
            + cost.rsa_operations as f64 * self.per_rsa_operation_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_adds_apdus_air_time_and_rsa() {
        let cost = Cost {
            apdus: 2,
            bytes_sent: 10,
            bytes_received: 255,
            rsa_operations: 1,
        };
        // 2 × 15 + 265 × 8 / 106 + 300 = 30 + 20 + 300
        assert!((TimeModel::CARD_MODEL.millis(&cost, 106_000) - 350.0).abs() < 1e-9);
        assert!((TimeModel::CARD_MODEL.millis(&cost, 424_000) - 335.0).abs() < 1e-9);
    }
}
