//! Turning what the card did into check results: card errors become a failed check with a
//! reason, never a lost step.

use crate::reader::{CardError, PinState};
use crate::verify::{CheckId, CheckResult, Reason};

/// The PinState check for a counter read before any secret is sent.
pub(crate) fn pin_state_result(state: PinState) -> CheckResult {
    match state {
        PinState::TriesLeft(n) if n < crate::card::MIN_TRIES_TO_SEND_PIN => CheckResult::failed(
            CheckId::PinState,
            Reason::PinGuardRefused,
            format!("{n} try left"),
        ),
        PinState::TriesLeft(n) => CheckResult::passed(CheckId::PinState, Reason::TriesAvailable)
            .with_detail(format!("{n} tries left")),
        PinState::AlreadyVerified => CheckResult::passed(CheckId::PinState, Reason::TriesAvailable),
        PinState::Locked => CheckResult::failed(CheckId::PinState, Reason::PinLocked, ""),
    }
}

/// A card error that stopped the flow, as the check result that explains it.
pub(crate) fn card_error_result(error: &CardError) -> CheckResult {
    match error {
        CardError::PinGuard { tries_left } => CheckResult::failed(
            CheckId::PinState,
            Reason::PinGuardRefused,
            format!("{tries_left} try left"),
        ),
        CardError::PinLocked => CheckResult::failed(CheckId::PinState, Reason::PinLocked, ""),
        CardError::WrongPin { tries_left } => CheckResult::failed(
            CheckId::PinState,
            Reason::WrongPin,
            format!("{tries_left} tries left"),
        ),
        CardError::ApplicationNotFound(_) => CheckResult::failed(
            CheckId::CardCommunication,
            Reason::NotAMyNumberCard,
            error.to_string(),
        ),
        e if e.is_tag_lost() => CheckResult::failed(
            CheckId::CardCommunication,
            Reason::CardRemoved,
            e.to_string(),
        ),
        CardError::Transport(_) => CheckResult::failed(
            CheckId::CardCommunication,
            Reason::CardRemoved,
            error.to_string(),
        ),
        CardError::MalformedTlv { .. }
        | CardError::Malformed { .. }
        | CardError::Truncated { .. }
        | CardError::ResponseTooShort(_) => CheckResult::failed(
            CheckId::CardCommunication,
            Reason::CardDataMalformed,
            error.to_string(),
        ),
        _ => CheckResult::failed(
            CheckId::CardCommunication,
            Reason::CardRefusedCommand,
            error.to_string(),
        ),
    }
}

/// Collects check results as a flow goes; the first card error ends the flow.
#[derive(Default)]
pub(crate) struct Steps {
    pub results: Vec<CheckResult>,
}

impl Steps {
    pub fn push(&mut self, result: CheckResult) {
        self.results.push(result);
    }

    pub fn extend(&mut self, results: impl IntoIterator<Item = CheckResult>) {
        self.results.extend(results);
    }

    /// Records a card error; the caller then stops. A failure replaces an earlier pass of the same
    /// check (a PIN counter that allowed a try, then the PIN was wrong), so each check has one
    /// result.
    pub fn card_failed(&mut self, error: &CardError) {
        let result = card_error_result(error);
        match self.results.iter_mut().find(|r| r.check == result.check) {
            Some(earlier) => *earlier = result,
            None => self.results.push(result),
        }
    }

    /// Marks the card exchange as complete (no error stopped the flow).
    pub fn card_completed(&mut self) {
        self.results.push(CheckResult::passed(
            CheckId::CardCommunication,
            Reason::Verified,
        ));
    }
}
