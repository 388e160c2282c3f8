//! What a record must carry, per level, to be `verified`, and the window its claimed time must
//! lie in.
//!
//! "No check failed" is not enough: a record that simply leaves its certificates or its card
//! signature out has nothing to fail. So each level has a fixed list of checks that must be
//! there in a given state ([`required`]); any check of the list in another state makes the
//! record `unverified` and is named in [`RecordVerification::missing`](super::RecordVerification).
//!
//! | level | must be `passed` | must be there (the device's word, not checkable here) |
//! |---|---|---|
//! | A | `device_signature`, `challenge_digest` | `card_face_signature`, `challenge_signature` |
//! | B, C | `device_signature`, `challenge_digest`, `certificate_chain`, `certificate_validity`, `key_usage`, `basic_constraints`, `certificate_policy`, `challenge_signature` | |
//!
//! Not on the list, but failing the record when they fail: `chain_link` (not checked when the
//! verifier does not know the previous record), `check_time` (the receiver always knows its
//! window), `item_binding`, `revocation` (not checked without a CRL, as BRIEF.md allows),
//! `attributes` (level C: none kept is allowed; kept ones must be the certificate's), and the
//! receiver's `item_policy`.

use super::RecordCheck;
use crate::check::Level;
use crate::record::RecordBody;
use crate::verify::CheckState;

/// In what state a required check must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Verified here.
    Passed,
    /// Recorded (the device's word): anything but `not_present`.
    Present,
}

const LEVEL_A: &[(&str, Need)] = &[
    ("device_signature", Need::Passed),
    ("challenge_digest", Need::Passed),
    ("card_face_signature", Need::Present),
    ("challenge_signature", Need::Present),
];

const JPKI: &[(&str, Need)] = &[
    ("device_signature", Need::Passed),
    ("challenge_digest", Need::Passed),
    ("certificate_chain", Need::Passed),
    ("certificate_validity", Need::Passed),
    ("key_usage", Need::Passed),
    ("basic_constraints", Need::Passed),
    ("certificate_policy", Need::Passed),
    ("challenge_signature", Need::Passed),
];

/// The checks a record of `level` must carry, and in what state, to be `verified`.
pub fn required(level: Level) -> &'static [(&'static str, Need)] {
    match level {
        Level::A => LEVEL_A,
        Level::M => super::phone::REQUIRED,
        Level::B | Level::C => JPKI,
    }
}

/// The outcome of `checks` for a record of `level`; `missing` is refilled with the required
/// checks not in their state.
pub(super) fn outcome(
    level: Level,
    checks: &[RecordCheck],
    missing: &mut Vec<String>,
) -> super::RecordOutcome {
    missing.clear();
    for (id, need) in required(level) {
        let state = checks.iter().find(|c| c.check == *id).map(|c| c.state);
        let met = match (need, state) {
            (Need::Passed, Some(CheckState::Passed)) => true,
            (Need::Present, Some(state)) => state != CheckState::NotPresent,
            _ => false,
        };
        if !met {
            let wanted = match need {
                Need::Passed => "passed",
                Need::Present => "present",
            };
            let found = state.map_or("absent", state_code);
            missing.push(format!("{id} (must be {wanted}, is {found})"));
        }
    }
    if checks.iter().any(|c| c.state == CheckState::Failed) {
        super::RecordOutcome::Failed
    } else if missing.is_empty() {
        super::RecordOutcome::Verified
    } else {
        super::RecordOutcome::Unverified
    }
}

fn state_code(state: CheckState) -> &'static str {
    match state {
        CheckState::Passed => "passed",
        CheckState::Failed => "failed",
        CheckState::NotChecked => "not_checked",
        CheckState::NotPresent => "not_present",
    }
}

/// The times a record's own (`time`, and the challenge's) may lie between, as the verifier
/// knows them independently of the record: not before the device's previous record, not after
/// the moment the record reached the receiver plus the clock skew it allows. Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeWindow {
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
}

impl TimeWindow {
    /// Nothing known: `check_time` is not checked.
    pub const UNKNOWN: TimeWindow = TimeWindow {
        not_before: None,
        not_after: None,
    };

    /// The window of a record received at `received_at` by a verifier that allows `skew`
    /// seconds of clock difference, whose device's previous record claimed `previous_time`.
    pub fn at_receipt(previous_time: Option<i64>, received_at: i64, skew: i64) -> Self {
        Self {
            not_before: previous_time,
            not_after: Some(received_at.saturating_add(skew)),
        }
    }
}

/// The latest time a record claims (its own or its challenge's): what the next record of the
/// device must not precede.
pub fn claimed_time(body: &RecordBody) -> i64 {
    body.challenge()
        .map_or(body.time().0, |c| c.time.max(body.time().0))
}

/// `check_time`: every time the record claims lies in `window`.
pub(super) fn check_time(body: &RecordBody, window: TimeWindow) -> RecordCheck {
    let id = "check_time";
    if window == TimeWindow::UNKNOWN {
        return RecordCheck::new(
            id,
            CheckState::NotChecked,
            "no_window",
            "neither the previous record's time nor the time of receipt was given",
        );
    }
    let times = [Some(body.time().0), body.challenge().map(|c| c.time)];
    for time in times.into_iter().flatten() {
        if let Some(not_before) = window.not_before
            && time < not_before
        {
            return RecordCheck::new(
                id,
                CheckState::Failed,
                "before_previous_record",
                format!(
                    "the record claims a time {} s before the device's previous record: a device cannot check a card before its earlier checks",
                    not_before.saturating_sub(time)
                ),
            );
        }
        if let Some(not_after) = window.not_after
            && time > not_after
        {
            return RecordCheck::new(
                id,
                CheckState::Failed,
                "after_receipt",
                format!(
                    "the record claims a time {} s after it was received (clock skew allowed)",
                    time.saturating_sub(not_after)
                ),
            );
        }
    }
    let detail = match (window.not_before, window.not_after) {
        (Some(_), Some(_)) => "between the device's previous record and the receipt",
        (None, Some(_)) => "not after the receipt; no previous record to bound it from below",
        (Some(_), None) => "not before the device's previous record; no time of receipt",
        (None, None) => "",
    };
    RecordCheck::new(id, CheckState::Passed, "verified", detail)
}
