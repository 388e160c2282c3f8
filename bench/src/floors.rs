//! Door checks against their APDU floor (issue 13): the fewest APDUs the card allows for what a
//! level needs, next to what honnin spends, per link, for a device's first check and for later
//! ones, and with the test PKI or with anchors that issue the card's certificates directly.
//!
//! The floor of a level (no FCI, no SFI on this card, so nothing cheaper exists): one SELECT per
//! application; per EF the level needs, one SELECT and as many READ BINARY as the link needs for
//! its size; per secret, SELECT of its EF, the tries-left read and VERIFY; per card signature,
//! SELECT of the key EF and the signing command (INTERNAL AUTHENTICATE at level A needs no
//! SELECT). What a level needs: A the card-face CV certificate and data; B the authentication
//! certificate and the input-support CV certificate, attributes and signature; C the signing
//! certificate. CA certificates are not counted: chains end at configured anchors, and the real
//! J-LIS roots issue the card's certificates directly.

use honnin_core::card::profile::{aid, card_face, input_support, jpki};
use honnin_core::check::{Level, Verdict, Verifier};
use honnin_core::verify::x509::TrustAnchors;
use honnin_simcard::SoftwareCard;
use honnin_simcard::fixtures::Fixtures;
use honnin_simcard::names;

use crate::fixtures::{self, genuine_card};
use crate::levels::{Cache, LEVELS, measure_with};
use crate::links::Link;
use crate::table::Table;

/// The goal with short (≤ 256-byte) responses: at most this many times the floor.
pub const SHORT_GOAL_RATIO: f64 = 1.1;

/// What a level must do on the card, in the units of the floor.
struct Needs {
    applications: u64,
    files: &'static [([u8; 10], u16)],
    secrets: u64,
    /// SELECT of the key EF + COMPUTE DIGITAL SIGNATURE.
    key_signatures: u64,
    /// INTERNAL AUTHENTICATE on the selected application.
    internal_authentications: u64,
}

fn needs(level: Level) -> Needs {
    match level {
        Level::A => Needs {
            applications: 1,
            files: &[
                (aid::CARD_FACE, card_face::CV_CERT),
                (aid::CARD_FACE, card_face::FACE_DATA),
            ],
            secrets: 1,
            key_signatures: 0,
            internal_authentications: 1,
        },
        Level::B => Needs {
            applications: 2,
            files: &[
                (aid::JPKI, jpki::AUTH_CERT),
                (aid::INPUT_SUPPORT, input_support::CV_CERT),
                (aid::INPUT_SUPPORT, input_support::BASIC_ATTRIBUTES),
                (aid::INPUT_SUPPORT, input_support::SIGNATURE),
            ],
            secrets: 2,
            key_signatures: 1,
            internal_authentications: 0,
        },
        Level::C => Needs {
            applications: 1,
            files: &[(aid::JPKI, jpki::SIGN_CERT)],
            secrets: 1,
            key_signatures: 1,
            internal_authentications: 0,
        },
        // LEVELS holds the card levels only; a phone's costs are the phone-costs bench's.
        Level::M => unreachable!("level M is a phone check, not a card level"),
    }
}

/// The floor of `level` on `card` when one response carries at most `max_data` bytes.
pub fn floor(level: Level, card: &SoftwareCard, max_data: usize) -> u64 {
    let needs = needs(level);
    let reads: u64 = needs
        .files
        .iter()
        .map(|(aid, fid)| {
            let size = card.ef(aid, *fid).map_or(1, <[u8]>::len).max(1);
            1 + size.div_ceil(max_data.max(1)) as u64
        })
        .sum();
    needs.applications
        + reads
        + 3 * needs.secrets
        + 2 * needs.key_signatures
        + needs.internal_authentications
}

/// Which anchors the verifier is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorSet {
    /// The test PKI's anchor directory: a root above two issuing CAs, whose certificates the
    /// card holds in EF 000B and EF 0002.
    TestRoot,
    /// The issuing CAs themselves as anchors: the shape of the real J-LIS JPKI, whose roots
    /// issue the card's certificates directly.
    IssuingCas,
}

impl AnchorSet {
    pub fn label(self) -> &'static str {
        match self {
            AnchorSet::TestRoot => "test root (CA on card)",
            AnchorSet::IssuingCas => "issuers as anchors",
        }
    }

    pub fn verifier(self) -> Verifier {
        match self {
            AnchorSet::TestRoot => fixtures::verifier(),
            AnchorSet::IssuingCas => {
                let fixtures = Fixtures::embedded();
                let der = |name: &str| {
                    fixtures
                        .cert(name)
                        .expect("the test PKI certificate is embedded")
                        .to_vec()
                };
                let anchors = TrustAnchors::from_der(vec![
                    der(names::JPKI_AUTH_CA),
                    der(names::JPKI_SIGN_CA),
                    der(names::DATA_ISSUER),
                ])
                .expect("the issuing CAs load as anchors");
                Verifier::new(anchors)
            }
        }
    }
}

/// One level on one link under one configuration, against its floor.
#[derive(Debug, Clone)]
pub struct FloorRow {
    pub level: Level,
    pub link: Link,
    pub anchors: AnchorSet,
    pub cache: Cache,
    pub verdict: Verdict,
    pub consistent: bool,
    pub apdus: u64,
    pub floor: u64,
}

impl FloorRow {
    /// Extended length: at the floor; short responses: within 1.1× of it.
    pub fn goal(&self) -> f64 {
        if self.link.config.extended_length {
            self.floor as f64
        } else {
            self.floor as f64 * SHORT_GOAL_RATIO
        }
    }

    pub fn meets_goal(&self) -> bool {
        self.apdus as f64 <= self.goal() && self.verdict == Verdict::Genuine
    }
}

/// Every level on the extended and the short link, first and later checks, both anchor sets.
///
/// The short link is Le 256 (`00`), the largest short response: a reader limited to 255 data
/// bytes cannot carry the card's 256-byte RSA-2048 signature at all (COMPUTE DIGITAL SIGNATURE
/// and INTERNAL AUTHENTICATE are refused there, section 1), so no level completes on it.
pub fn measure(runs: usize) -> Vec<FloorRow> {
    let mut rows = Vec::new();
    for link in [Link::EXTENDED_65536, Link::SHORT_256] {
        for anchors in [AnchorSet::TestRoot, AnchorSet::IssuingCas] {
            let verifier = anchors.verifier();
            let mut card = genuine_card(&link);
            for level in LEVELS {
                for cache in [Cache::Cold, Cache::Warm] {
                    let summary = measure_with(level, &mut card, &verifier, runs, cache);
                    rows.push(FloorRow {
                        level,
                        link,
                        anchors,
                        cache,
                        verdict: summary.verdict,
                        consistent: summary.consistent,
                        apdus: summary.cost.apdus,
                        floor: floor(level, card.card(), link.max_data()),
                    });
                }
            }
        }
    }
    rows
}

pub fn print(rows: &[FloorRow]) {
    println!("## 3a. APDUs per level against the floor (issue 13)\n");
    println!(
        "Floor: SELECT per application, SELECT + READ BINARY per EF the level needs, SELECT + \
         tries + VERIFY per secret, SELECT + sign per card signature (see bench/src/floors.rs). \
         Goal: the floor with extended length, at most {SHORT_GOAL_RATIO}× the floor with \
         short responses (Le 256: a reader limited to 255 data bytes cannot carry the card's \
         256-byte RSA signature, see section 1, so no level completes there). \"Later checks\": the same device after one check, when the CA \
         certificates it verified are known (level A reads no CA certificate).\n"
    );
    let mut table = Table::new([
        "level".to_string(),
        "link".into(),
        "anchors".into(),
        "check".into(),
        "APDUs".into(),
        "floor".into(),
        "× floor".into(),
        "goal".into(),
        "meets goal".into(),
    ]);
    for row in rows {
        let mut verdict = String::new();
        if row.verdict != Verdict::Genuine {
            verdict = format!(" (verdict {:?})", row.verdict);
        }
        if !row.consistent {
            verdict.push_str(" [runs or counters disagree]");
        }
        table.row([
            format!("{:?}", row.level),
            row.link.label.to_string(),
            row.anchors.label().to_string(),
            row.cache.label().to_string(),
            format!("{}{verdict}", row.apdus),
            row.floor.to_string(),
            format!("{:.2}", row.apdus as f64 / row.floor as f64),
            format!("≤ {:.1}", row.goal()),
            if row.meets_goal() { "yes" } else { "no" }.to_string(),
        ]);
    }
    println!("{}", table.render());
    println!(
        "Above the floor, and why (from the traces, `cargo run -p honnin-cli -- read` or \
         TracingTransport):\n\
         - B and C, first check, test root: + SELECT + READ of the card's CA certificate (EF 000B; \
         at C also EF 0002). The test PKI puts an issuing CA between its root and the card; the \
         device reads it once, validates the path and keeps the CA certificate; later checks and \
         anchors that issue the card's certificates directly (the real J-LIS roots) do not read it.\n\
         - C, every check: + SELECT + READ of the authentication certificate (EF 000A). The signing \
         certificate can only be read after the signing password, so the free authentication \
         certificate's chain and revocation are checked first, and a forged, expired or revoked \
         card is refused before a password try is spent (BRIEF: read and check everything that \
         needs no PIN first). Dropping it would reach the floor of 8 by weakening that rule, so it \
         stays.\n\
         - Below the floor: not done. A CV-certificate cache would skip reading the card-face \
         or input-support CV certificate (EF 0004, 2 APDUs at A and B), but the card's own CV \
         certificate would then go unchecked: a card whose CV certificate was issued by the wrong \
         authority (profile cv-by-jpki-root) would pass on a device that had seen a genuine card, \
         and at level A the check would move after 照合番号B. Levels A and B read and check their \
         own.\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_match_the_issue_on_extended_length() {
        let card = genuine_card(&Link::EXTENDED_65536);
        let max = Link::EXTENDED_65536.max_data();
        assert_eq!(floor(Level::A, card.card(), max), 9);
        assert_eq!(floor(Level::B, card.card(), max), 18);
        assert_eq!(floor(Level::C, card.card(), max), 8);
    }

    #[test]
    fn levels_a_and_b_meet_their_goals_on_later_checks_and_every_verdict_is_genuine() {
        for row in measure(1) {
            assert_eq!(row.verdict, Verdict::Genuine, "{row:?}");
            assert!(row.consistent, "{row:?}");
            if row.level != Level::C && row.cache == Cache::Warm {
                assert!(row.meets_goal(), "{row:?}");
            }
        }
    }
}
