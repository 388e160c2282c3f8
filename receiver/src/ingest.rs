//! Ingest of a batch: parse each record, check it comes from the authenticated device,
//! re-verify it, sign a receipt, and store the whole batch in one transaction — or return the
//! receipt already given for a record held before.
//!
//! A record whose device signature does not verify, or that another device sent, is refused and
//! not stored. Every other finding (a gap or fork in the device's chain, a certificate that does
//! not verify, a revoked card) is stored with the record and shown in its verification: flagged,
//! never hidden, and never a reason to lose evidence. A record for an item its sender registered
//! is also checked against the item's policy (`item_policy`, see [`crate::items`]).
//!
//! Parsing, verification (signatures and certificate paths, the costly part) and receipt
//! signing run on every core (rayon) with no lock or transaction open; receipts are signed on
//! *ring* ([`crate::receipt_signer`]). It is checked against a snapshot of the device's
//! chain head; [`Storage::insert_batch`](crate::storage::Storage::insert_batch) stores the
//! batch only if that head still holds, and otherwise ingest verifies again against the new
//! head (only the records whose predecessor changed). A receipt leaves the receiver only after
//! the transaction that stored its record committed.

use std::collections::{HashMap, HashSet};

use honnin_core::check::Verifier;
use honnin_core::record::{DeviceKey, SignedRecord};
use honnin_core::sync::protocol::{RECEIPT_FORMAT, ReceiptBody, SignedReceipt};
use honnin_core::verify::CheckState;
use honnin_core::verify::record::evidence::claimed_time;
use honnin_core::verify::record::{
    RecordExpectation, RecordVerification, TimeWindow, verify_record,
};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::receipt_signer::ReceiptSigner;
use crate::storage::{
    BatchCommit, BatchState, BatchWrite, ChainHead, ItemRow, NewRecord, StorageError, next_head,
};
use crate::{Receiver, now};

/// Snapshots a batch is verified against before ingest gives up (each retry means another
/// batch of the same device committed in between, which a device does not normally do).
pub const MAX_ATTEMPTS: u32 = 8;

/// The receiver's answer for one record of a batch.
#[derive(Debug, Clone, Serialize)]
pub struct RecordResult {
    pub record_id: String,
    /// `accepted`, `duplicate` or `rejected`.
    pub status: &'static str,
    /// The stored receipt's JSON as it is (checked as JSON, not rebuilt as a tree).
    pub receipt: Option<Box<RawValue>>,
    pub error: Option<String>,
}

impl RecordResult {
    fn rejected(record_id: String, error: impl Into<String>) -> Self {
        Self {
            record_id,
            status: "rejected",
            receipt: None,
            error: Some(error.into()),
        }
    }

    fn with_receipt(record_id: String, status: &'static str, receipt: &str) -> Self {
        Self {
            record_id,
            status,
            receipt: RawValue::from_string(receipt.to_owned()).ok(),
            error: None,
        }
    }
}

const BAD_SIGNATURE: &str =
    "the record's device signature does not verify with the device's enrolled key";
const ID_TAKEN: &str = "another record with this id is held: record ids must be unique";

/// A record of the batch that parsed and names the sending device.
struct Parsed {
    record: SignedRecord,
    id: String,
    hash: [u8; 32],
}

/// What becomes of one entry of the batch, given a snapshot.
enum Role {
    /// Did not parse or names another device: its result is already made.
    Invalid,
    /// Its device signature does not verify: not stored.
    BadSignature,
    /// Held before this batch: its stored hash (hex) and receipt.
    Held(String, String),
    /// The same id as the earlier new entry at this index.
    Repeat(usize),
    /// New, to be verified with this predecessor, and the latest time the predecessor claims.
    New(Option<ChainHead>, Option<i64>),
}

/// Ingests the envelopes of one batch sent by `device_id`; a result per envelope, in order.
/// Each envelope is JSON the request's parser already checked, parsed into a record here, on
/// every core.
pub fn ingest_batch(
    receiver: &Receiver,
    device_id: &str,
    key: &DeviceKey,
    envelopes: &[Box<RawValue>],
) -> Result<Vec<RecordResult>, StorageError> {
    let entries: Vec<Result<Parsed, RecordResult>> = envelopes
        .par_iter()
        .map(|envelope| parse(device_id, envelope))
        .collect();
    // The current receipt key, once for the batch (a rotation takes effect from the next one).
    let receipt_key = receiver.key.signer();
    let signer = ReceiptSigner::new(&receipt_key).map_err(|e| StorageError::Database {
        context: "signing a receipt",
        detail: e.to_string(),
    })?;
    let receipt_signer = (&signer, receipt_key.device_key());
    let mut ids: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.as_ref().ok().map(|p| p.id.as_str()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    // The registered items the batch's records are for, read once: their policy is checked
    // with each record's verification.
    let device_senders = receiver.storage.device_senders(device_id)?;
    let mut item_ids: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.as_ref().ok().map(|p| p.record.body().item_id()))
        .collect();
    item_ids.sort_unstable();
    item_ids.dedup();
    let mut items: HashMap<String, Option<ItemRow>> =
        item_ids.iter().map(|id| ((*id).to_owned(), None)).collect();
    for item in receiver.storage.items(&item_ids)? {
        if let Some(slot) = items.get_mut(&item.item_id) {
            *slot = Some(item);
        }
    }
    // The trust of the newest load, once for the batch (a load takes effect from the next one).
    let verifier = receiver.verifier.for_batch(receiver.storage.as_ref());
    // Verifications by entry, with the predecessor each was checked against; a retry reuses
    // those whose predecessor did not change.
    let mut verified: HashMap<usize, (Option<ChainHead>, RecordVerification)> = HashMap::new();
    // The device signature does not depend on the chain, so a record refused for it stays
    // refused across retries.
    let mut bad_signature: HashSet<usize> = HashSet::new();
    for _ in 0..MAX_ATTEMPTS {
        let state = receiver.storage.batch_state(device_id, &ids)?;
        let roles = loop {
            let roles = plan(&entries, &state, &bad_signature);
            let pending: Vec<(usize, Option<ChainHead>, Option<i64>)> = roles
                .iter()
                .enumerate()
                .filter_map(|(i, role)| match role {
                    Role::New(previous, previous_time)
                        if verified.get(&i).map(|v| v.0) != Some(*previous) =>
                    {
                        Some((i, *previous, *previous_time))
                    }
                    _ => None,
                })
                .collect();
            if pending.is_empty() {
                break roles;
            }
            let context = Context {
                key,
                verifier: &verifier,
                items: &items,
                device_senders: &device_senders,
                now: now(),
            };
            let results: Vec<(usize, Option<ChainHead>, RecordVerification)> = pending
                .into_par_iter()
                .filter_map(|(i, previous, previous_time)| {
                    let parsed = entries[i].as_ref().ok()?;
                    let verification = verify(receiver, &context, parsed, previous, previous_time);
                    Some((i, previous, verification))
                })
                .collect();
            for (i, previous, verification) in results {
                if verification
                    .check("device_signature")
                    .is_some_and(|c| c.state != CheckState::Passed)
                {
                    // Not stored, so it moves no head: the plan changes for those after it.
                    bad_signature.insert(i);
                }
                verified.insert(i, (previous, verification));
            }
        };
        let received_at = now();
        let new: Vec<usize> = roles
            .iter()
            .enumerate()
            .filter_map(|(i, role)| matches!(role, Role::New(..)).then_some(i))
            .collect();
        let records: Vec<NewRecord> = new
            .par_iter()
            .filter_map(|&i| {
                let parsed = entries[i].as_ref().ok()?;
                let (_, verification) = verified.get(&i)?;
                let item = items
                    .get(parsed.record.body().item_id())
                    .and_then(Option::as_ref);
                let sender = crate::items::feed_sender(item, &device_senders, parsed.record.body());
                Some(new_record(
                    receipt_signer,
                    device_id,
                    parsed,
                    verification,
                    sender,
                    received_at,
                ))
            })
            .collect::<Result<_, _>>()?;
        if !records.is_empty() {
            let batch = BatchWrite {
                device_id,
                expected_head: state.head,
                records: &records,
            };
            if receiver.storage.insert_batch(&batch)? == BatchCommit::Stale {
                continue;
            }
        }
        let receipts: HashMap<usize, &str> = new
            .iter()
            .zip(&records)
            .map(|(&i, record)| (i, record.receipt.as_str()))
            .collect();
        let (results, parsed) = answer(entries, roles, &receipts);
        // Freeing megabytes of verifications, records and stored text is left to the pool,
        // off the batch's one thread (it showed as a tenth of the serial time in
        // `receiver-costs`).
        drop(receipts);
        rayon::spawn(move || drop((records, verified, parsed)));
        return Ok(results);
    }
    Err(StorageError::Contended {
        attempts: MAX_ATTEMPTS,
    })
}

fn parse(device_id: &str, raw: &RawValue) -> Result<Parsed, RecordResult> {
    // A device sends its records as the core writes them, which `parse_envelope` reads in
    // about half the time of a tree (the strict parse's outcome, record or error, either way);
    // anything refused is parsed again the slow way only to say which record it claimed to be.
    let record = SignedRecord::parse_envelope(raw.get().as_bytes()).or_else(|_| refused(raw))?;
    let id = record.body().record_id().to_owned();
    if record.body().device_id() != device_id {
        return Err(RecordResult::rejected(
            id,
            "the record was made by another device than the one sending it",
        ));
    }
    Ok(Parsed {
        hash: record.hash(),
        record,
        id,
    })
}

/// The refusal of an envelope that does not parse into a record: the strict parse's error,
/// under the record id it claims (valid JSON already: the whole request parsed).
fn refused(raw: &RawValue) -> Result<SignedRecord, RecordResult> {
    let envelope: serde_json::Value = serde_json::from_str(raw.get())
        .map_err(|_| RecordResult::rejected(String::new(), "the record is not valid JSON"))?;
    let claimed_id = envelope["body"]["record_id"]
        .as_str()
        .map(|s| s.chars().take(64).collect())
        .unwrap_or_default();
    SignedRecord::from_value(envelope)
        .map_err(|e| RecordResult::rejected(claimed_id, e.to_string()))
}

/// Each entry's role against `state`, walking the device's chain in the order sent: a new
/// record's predecessor is the head after the new records before it.
fn plan(
    entries: &[Result<Parsed, RecordResult>],
    state: &BatchState,
    bad_signature: &HashSet<usize>,
) -> Vec<Role> {
    let mut head = state.head;
    let mut head_time = state.head_time;
    let mut first: HashMap<&str, usize> = HashMap::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let Ok(parsed) = entry else {
                return Role::Invalid;
            };
            if let Some(held) = state.held.get(&parsed.id) {
                return Role::Held(held.record_hash.clone(), held.receipt.clone());
            }
            if let Some(&earlier) = first.get(parsed.id.as_str()) {
                return Role::Repeat(earlier);
            }
            if bad_signature.contains(&i) {
                return Role::BadSignature;
            }
            first.insert(&parsed.id, i);
            let (previous, previous_time) = (head, head_time);
            let moved = next_head(head, parsed.record.body().seq(), parsed.hash);
            if moved != head {
                head_time = Some(claimed_time(parsed.record.body()));
            }
            head = moved;
            Role::New(previous, previous_time)
        })
        .collect()
}

/// What every record of a batch is verified with.
struct Context<'a> {
    key: &'a DeviceKey,
    verifier: &'a Verifier,
    items: &'a HashMap<String, Option<ItemRow>>,
    device_senders: &'a [String],
    /// When the batch is verified: a record cannot claim a later time than this plus the clock
    /// skew allowed.
    now: i64,
}

fn verify(
    receiver: &Receiver,
    context: &Context<'_>,
    parsed: &Parsed,
    previous: Option<ChainHead>,
    previous_time: Option<i64>,
) -> RecordVerification {
    let mut verification = verify_record(
        &parsed.record,
        context.verifier,
        &RecordExpectation {
            device_key: context.key,
            item_id: None,
            sender_id: None,
            previous,
            time_window: TimeWindow::at_receipt(
                previous_time,
                context.now,
                receiver.limits.max_clock_skew,
            ),
        },
    );
    let item = context
        .items
        .get(parsed.record.body().item_id())
        .and_then(Option::as_ref);
    crate::items::apply_policy(
        item,
        context.device_senders,
        parsed.record.body().attributes_requested(),
        &mut verification,
    );
    verification
}

fn new_record(
    (signer, signer_key): (&ReceiptSigner, &DeviceKey),
    device_id: &str,
    parsed: &Parsed,
    verification: &RecordVerification,
    feed_sender: Option<String>,
    received_at: i64,
) -> Result<NewRecord, StorageError> {
    let body = parsed.record.body();
    let receipt = SignedReceipt::sign(
        ReceiptBody {
            format: RECEIPT_FORMAT.to_owned(),
            record_id: parsed.id.clone(),
            record_hash: hex::encode(parsed.hash),
            device_id: device_id.to_owned(),
            seq: body.seq(),
            received_at,
            outcome: verification.outcome.code().into(),
        },
        signer,
        signer_key,
    )
    .map_err(|e| StorageError::Database {
        context: "signing a receipt",
        detail: e.to_string(),
    })?;
    let encode = |context: &'static str, value: Result<String, serde_json::Error>| {
        value.map_err(|e| StorageError::Database {
            context,
            detail: e.to_string(),
        })
    };
    Ok(NewRecord {
        record_id: parsed.id.clone(),
        record_hash: parsed.hash,
        device_id: device_id.to_owned(),
        seq: body.seq(),
        // No sender's feed has the empty id (ids are never empty).
        sender_id: feed_sender.unwrap_or_default(),
        item_id: body.item_id().to_owned(),
        envelope: String::from_utf8_lossy(&parsed.record.to_envelope_bytes()).into_owned(),
        verification: encode(
            "encoding a verification",
            serde_json::to_string(verification),
        )?,
        receipt: encode("encoding a receipt", serde_json::to_string(&receipt))?,
        received_at,
        delivered_at: crate::items::proves_delivery(body, verification).then(|| body.time().0),
    })
}

/// The results, once the batch's new records are stored (`receipts` by entry index), and the
/// parsed records, for the caller to free off its thread.
fn answer(
    entries: Vec<Result<Parsed, RecordResult>>,
    roles: Vec<Role>,
    receipts: &HashMap<usize, &str>,
) -> (Vec<RecordResult>, Vec<SignedRecord>) {
    let hashes: Vec<Option<[u8; 32]>> = entries
        .iter()
        .map(|e| e.as_ref().ok().map(|p| p.hash))
        .collect();
    let mut records = Vec::with_capacity(entries.len());
    let results = entries
        .into_iter()
        .zip(roles)
        .enumerate()
        .map(|(i, (entry, role))| {
            let parsed = match entry {
                Ok(Parsed { record, id, hash }) => {
                    records.push(record);
                    Answered { id, hash }
                }
                Err(refused) => return refused,
            };
            // A second copy of a record gets the first one's receipt; another record under the
            // same id gets nothing.
            let copy_of = |hash: Option<[u8; 32]>, receipt: Option<&str>| match receipt {
                Some(receipt) if hash == Some(parsed.hash) => {
                    RecordResult::with_receipt(parsed.id.clone(), "duplicate", receipt)
                }
                _ => RecordResult::rejected(parsed.id.clone(), ID_TAKEN),
            };
            match role {
                Role::Invalid => RecordResult::rejected(parsed.id, "the record is not valid"),
                Role::BadSignature => RecordResult::rejected(parsed.id, BAD_SIGNATURE),
                Role::Held(hash_hex, receipt) => {
                    let mut held = [0u8; 32];
                    let held = hex::decode_to_slice(&hash_hex, &mut held)
                        .ok()
                        .map(|()| held);
                    copy_of(held, Some(&receipt))
                }
                Role::Repeat(earlier) => copy_of(hashes[earlier], receipts.get(&earlier).copied()),
                Role::New(..) => match receipts.get(&i) {
                    Some(receipt) => RecordResult::with_receipt(parsed.id, "accepted", receipt),
                    None => RecordResult::rejected(parsed.id, "the record could not be stored"),
                },
            }
        })
        .collect();
    (results, records)
}

/// What [`answer`] keeps of a parsed record.
struct Answered {
    id: String,
    hash: [u8; 32],
}
