//! The signer a sync's core client is given, as a gate: progress and cancellation without a
//! hook in the core (see `sync`'s module documentation). Before each batch request it tells the
//! [`SyncListener`] which batch and try is next and asks the [`StopSignal`] whether to go on;
//! when not, it refuses to sign, so the core stops before sending.

use std::sync::{Arc, Mutex, PoisonError};

use honnin_core::record::{DeviceSigner as CoreSigner, SignerError};
use honnin_core::sync::protocol::BATCH_DOMAIN;

use crate::error::BridgeError;
use crate::keys::Signer;
use crate::platform::{SyncListener, SyncProgress};
use crate::session::StopSignal;

/// Where the gate is in the sync, to tell a retry from the next batch.
#[derive(Default)]
pub(crate) struct GateState {
    batch: u32,
    attempt: u32,
    body_digest: Option<String>,
    synced_before: u64,
    in_batch: u64,
}

/// The signer the core's sync is given: announces each request and stops the sync when asked.
pub(crate) struct SyncGate {
    pub(crate) signer: Signer,
    pub(crate) stop: Arc<StopSignal>,
    pub(crate) listener: Option<Arc<dyn SyncListener>>,
    pub(crate) pending: u64,
    pub(crate) batch_size: u64,
    pub(crate) state: Mutex<GateState>,
}

impl SyncGate {
    /// The body digest of a batch request message (its last line), `None` for anything else.
    fn batch_digest(message: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(message).ok()?;
        let rest = text.strip_prefix(BATCH_DOMAIN)?.strip_prefix('\n')?;
        rest.rsplit('\n').next().map(str::to_owned)
    }

    fn announce(&self, digest: String) -> SyncProgress {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.body_digest.as_deref() == Some(digest.as_str()) {
            state.attempt += 1;
        } else {
            // The previous batch was applied in full before the core made this one.
            state.synced_before += state.in_batch;
            state.batch += 1;
            state.attempt = 1;
            state.body_digest = Some(digest);
            let left = self.pending.saturating_sub(state.synced_before);
            state.in_batch = left.clamp(1, self.batch_size);
        }
        SyncProgress {
            batch: state.batch,
            attempt: state.attempt,
            records_in_batch: state.in_batch,
            synced: state.synced_before,
            pending: self.pending,
        }
    }
}

impl CoreSigner for SyncGate {
    fn public_key_der(&self) -> Result<Vec<u8>, SignerError> {
        self.signer.public_key_der()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        if let Some(digest) = Self::batch_digest(message) {
            let progress = self.announce(digest);
            if let Some(listener) = &self.listener
                && let Err(error) = listener.on_progress(progress)
            {
                self.stop.stop(BridgeError::Callback {
                    method: "SyncListener.onProgress",
                    detail: error.to_string(),
                });
            }
            if !self.stop.may_continue() {
                return Err(SignerError::SigningFailed {
                    detail: "the sync was stopped before this request".into(),
                });
            }
        }
        self.signer.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{DeviceSigner, DeviceSignerError};
    use crate::session::CancellationToken;
    use honnin_core::sync::protocol::batch_message;

    /// Never asked to sign in these tests: the gate decides first.
    struct NoSigner;

    impl DeviceSigner for NoSigner {
        fn public_key_der(&self) -> Result<Vec<u8>, DeviceSignerError> {
            Ok(Vec::new())
        }

        fn sign(&self, _message: Vec<u8>) -> Result<Vec<u8>, DeviceSignerError> {
            Ok(vec![0; 64])
        }
    }

    fn gate(pending: u64, batch_size: u64, token: Arc<CancellationToken>) -> SyncGate {
        let stop = Arc::new(StopSignal::new(Some(token)));
        SyncGate {
            signer: Signer::new(Arc::new(NoSigner), Arc::clone(&stop)),
            stop,
            listener: None,
            pending,
            batch_size,
            state: Mutex::new(GateState::default()),
        }
    }

    #[test]
    fn progress_counts_batches_and_retries() {
        let gate = gate(5, 2, CancellationToken::new());
        let first = batch_message("d", 1, "00", b"first");
        let second = batch_message("d", 2, "01", b"second");
        let third = batch_message("d", 3, "02", b"third");
        let seen: Vec<(u32, u32, u64, u64)> = [&first, &first, &second, &third]
            .into_iter()
            .map(|message| {
                gate.sign(message).expect("not stopped");
                let s = gate.state.lock().expect("not poisoned");
                (s.batch, s.attempt, s.in_batch, s.synced_before)
            })
            .collect();
        assert_eq!(
            seen,
            [(1, 1, 2, 0), (1, 2, 2, 0), (2, 1, 2, 2), (3, 1, 1, 4)]
        );
    }

    #[test]
    fn a_cancelled_gate_refuses_the_next_request_but_signs_records() {
        let token = CancellationToken::new();
        let gate = gate(1, 100, Arc::clone(&token));
        token.cancel();
        assert!(gate.sign(b"a record body").is_ok());
        assert!(gate.sign(&batch_message("d", 1, "00", b"batch")).is_err());
        assert_eq!(gate.stop.take(), Some(BridgeError::Cancelled));
    }

    #[test]
    fn a_batch_message_is_told_from_a_record_and_retries_from_new_batches() {
        let message = batch_message("handheld-01", 1_795_564_800, "00ff", b"{\"records\":[]}");
        let digest = SyncGate::batch_digest(&message).expect("a batch message");
        assert_eq!(digest.len(), 64);
        assert_eq!(
            SyncGate::batch_digest(b"{\"format\":\"honnin.record.v1\"}"),
            None
        );
        let other = batch_message("handheld-01", 1_795_564_801, "0100", b"{\"records\":[1]}");
        assert_ne!(SyncGate::batch_digest(&other), Some(digest));
    }
}
