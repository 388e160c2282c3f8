//! Chain verification: every record signed by the device's key, each naming the hash of the one
//! before it, positions without gaps, and the chain ending where the store last acknowledged.
//!
//! The verifier is fed records in position order (the store's `seq`) and reports each problem at
//! the position where it shows, with the likely cause: an edited record no longer decrypts or
//! verifies; a deleted one leaves a gap; a reordered or re-inserted one sits at a position that
//! is not its own; one deleted from the end leaves the chain short of its acknowledged head.

use std::collections::HashMap;

use super::body::ChainLink;
use super::error::RecordError;
use super::signed::SignedRecord;
use super::signer::{DeviceKey, hex_lower};

/// What a chain must look like.
#[derive(Debug, Clone)]
pub struct ChainExpectation {
    pub device_id: String,
    pub device_key: DeviceKey,
    /// Where the first record must sit: the genesis link, or where a purge left the chain.
    pub start: ChainLink,
    /// The last record the store acknowledged, `(seq, hash)`; `None` when nothing is known.
    pub head: Option<(u64, [u8; 32])>,
}

/// One thing wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The stored bytes do not open or parse.
    Unreadable { why: String },
    /// A readable record that fails its signature, or comes from another device or key.
    Rejected(RecordError),
    /// The position holds a record made for another position.
    Moved { holds_seq: u64 },
    /// No record at positions `from..=to`.
    Missing { from: u64, to: u64 },
    /// `prev_hash` is not the hash of the record before.
    BrokenLink,
    /// The same record appears at an earlier position too.
    Duplicate { first_position: u64 },
    /// A column the store keeps beside the sealed record disagrees with it.
    IndexMismatch { column: &'static str },
    /// A record sits before where the chain starts (after a purge).
    BeforeStart { start: u64 },
    /// Records after the last one the store acknowledged.
    BeyondHead { head: u64 },
    /// The last record is not the one the store acknowledged.
    HeadMismatch,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unreadable { why } => {
                write!(f, "cannot be read ({why}): edited or damaged")
            }
            Problem::Rejected(error) => write!(f, "rejected: {error}"),
            Problem::Moved { holds_seq } => write!(
                f,
                "holds record #{holds_seq}: records were reordered or re-inserted"
            ),
            Problem::Missing { from, to } if from == to => {
                write!(f, "record #{from} is missing: deleted")
            }
            Problem::Missing { from, to } => {
                write!(f, "records #{from}–#{to} are missing: deleted")
            }
            Problem::BrokenLink => write!(
                f,
                "does not follow the record before it (prev_hash differs): a record was replaced or re-inserted"
            ),
            Problem::Duplicate { first_position } => write!(
                f,
                "is a copy of the record at position {first_position}: re-inserted"
            ),
            Problem::IndexMismatch { column } => write!(
                f,
                "the store's {column} column disagrees with the signed record: edited"
            ),
            Problem::BeforeStart { start } => write!(
                f,
                "lies before the chain's start at #{start} (records before it were purged): re-inserted"
            ),
            Problem::BeyondHead { head } => write!(
                f,
                "comes after the last acknowledged record #{head}: inserted outside honnin"
            ),
            Problem::HeadMismatch => {
                write!(f, "is not the last record the store acknowledged: replaced")
            }
        }
    }
}

/// A problem and the position (the store's sequence number) where it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProblem {
    pub position: u64,
    pub problem: Problem,
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "position {}: {}", self.position, self.problem)
    }
}

/// The outcome of a chain verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records looked at.
    pub checked: u64,
    /// Records whose signature, device and place all verified.
    pub verified: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// The first [`MAX_LISTED_PROBLEMS`] problems, in position order.
    pub problems: Vec<ChainProblem>,
    /// Problems found beyond those listed.
    pub more_problems: u64,
}

/// A chain wrecked end to end would otherwise list every record.
pub const MAX_LISTED_PROBLEMS: usize = 1000;

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies a chain fed in position order.
pub struct ChainVerifier {
    expect: ChainExpectation,
    next: u64,
    prev_hash: Option<[u8; 32]>,
    seen: HashMap<String, u64>,
    report: ChainReport,
}

impl ChainVerifier {
    pub fn new(expect: ChainExpectation) -> Self {
        let next = expect.start.seq;
        let prev_hash = Some(expect.start.prev_hash);
        Self {
            expect,
            next,
            prev_hash,
            seen: HashMap::new(),
            report: ChainReport {
                checked: 0,
                verified: 0,
                first: None,
                last: None,
                problems: Vec::new(),
                more_problems: 0,
            },
        }
    }

    /// The key records must verify with.
    pub fn device_key(&self) -> &DeviceKey {
        &self.expect.device_key
    }

    /// Records a problem found outside the record itself (e.g. by the store).
    pub fn problem(&mut self, position: u64, problem: Problem) {
        if self.report.problems.len() < MAX_LISTED_PROBLEMS {
            self.report
                .problems
                .push(ChainProblem { position, problem });
        } else {
            self.report.more_problems += 1;
        }
    }

    /// The record at `position` (or why it could not be read). Positions must increase.
    pub fn push<E: std::fmt::Display>(&mut self, position: u64, record: Result<SignedRecord, E>) {
        let signature = record
            .as_ref()
            .ok()
            .map(|r| r.verify(&self.expect.device_key));
        self.push_checked(position, record, signature);
    }

    /// [`ChainVerifier::push`] with the outcome of `record.verify(device_key)` computed by the
    /// caller (e.g. on other threads); `None` lets the verifier compute it.
    pub fn push_checked<E: std::fmt::Display>(
        &mut self,
        position: u64,
        record: Result<SignedRecord, E>,
        signature: Option<Result<(), RecordError>>,
    ) {
        self.report.checked += 1;
        self.report.first.get_or_insert(position);
        self.report.last = Some(position);
        if position < self.expect.start.seq {
            self.problem(
                position,
                Problem::BeforeStart {
                    start: self.expect.start.seq,
                },
            );
            return;
        }
        if position > self.next {
            self.problem(
                self.next,
                Problem::Missing {
                    from: self.next,
                    to: position - 1,
                },
            );
            self.prev_hash = None;
        }
        self.next = position.saturating_add(1);
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                self.problem(
                    position,
                    Problem::Unreadable {
                        why: error.to_string(),
                    },
                );
                self.prev_hash = None;
                return;
            }
        };
        let prev_hash = self.prev_hash.take();
        let body = record.body();
        if body.device_id() != self.expect.device_id {
            self.problem(
                position,
                Problem::Rejected(RecordError::ForeignDevice {
                    expected: self.expect.device_id.clone(),
                    found: body.device_id().to_owned(),
                }),
            );
            return;
        }
        let signature = signature.unwrap_or_else(|| record.verify(&self.expect.device_key));
        if let Err(error) = signature {
            self.problem(position, Problem::Rejected(error));
            return;
        }
        if let Some(first_position) = self.seen.get(body.record_id()).copied() {
            self.problem(position, Problem::Duplicate { first_position });
            return;
        }
        self.seen.insert(body.record_id().to_owned(), position);
        if body.seq() != position {
            self.problem(
                position,
                Problem::Moved {
                    holds_seq: body.seq(),
                },
            );
            return;
        }
        if let Some(expected) = prev_hash
            && record.link().prev_hash != expected
        {
            self.problem(position, Problem::BrokenLink);
            return;
        }
        self.prev_hash = Some(record.hash());
        self.report.verified += 1;
    }

    pub fn finish(mut self) -> ChainReport {
        if let Some((head_seq, head_hash)) = self.expect.head {
            let last = self.next.saturating_sub(1);
            if last < head_seq {
                self.problem(
                    last + 1,
                    Problem::Missing {
                        from: last + 1,
                        to: head_seq,
                    },
                );
            } else if last > head_seq {
                self.problem(head_seq + 1, Problem::BeyondHead { head: head_seq });
            } else if let Some(hash) = self.prev_hash
                && hash != head_hash
                && head_seq >= self.expect.start.seq
            {
                self.problem(head_seq, Problem::HeadMismatch);
            }
        }
        self.report.problems.sort_by_key(|p| p.position);
        self.report
    }
}

/// Short form of a hash for people: the first 16 hex digits.
pub fn short_hash(hash: &[u8; 32]) -> String {
    hex_lower(&hash[..8])
}
