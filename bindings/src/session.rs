//! One card session over a platform transport: the adapter from the foreign [`CardTransport`] to
//! the core's, progress to the listener, and cancellation.
//!
//! The core has no notion of cancelling or of a callback failing. Both are handled here by one
//! mechanism: a [`StopSignal`] that the adapter consults before every exchange. Once it is set
//! (the caller cancelled, or a callback threw), the next exchange fails as a reader error, which
//! ends the core's flow at once (reader errors are never retried), and [`run`] then reports the
//! bridge error instead of whatever the core made of the refused exchange. A cancellation that
//! comes after the last exchange changes nothing: the result is complete and is returned.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use honnin_core::reader::{CardSession, Counters, ReadEvent, ReadObserver};
use honnin_core::transport::{
    CardTransport as CoreTransport, TransportCapabilities as CoreCapabilities,
    TransportError as CoreTransportError,
};

use crate::error::{BridgeError, HonninError};
use crate::platform::{CardTransport, ProgressListener};
use crate::report::CardCounters;

/// Cancels a long operation from any thread: the card exchange in progress completes, and the
/// operation then throws `HonninException.Cancelled`. One token per operation.
#[derive(Debug, Default, uniffi::Object)]
pub struct CancellationToken {
    cancelled: AtomicBool,
}

#[uniffi::export]
impl CancellationToken {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Why an operation must not go on (talk to the card, send the next sync request), once
/// something decided so. Shared with the sync bridge, which stops the same way.
pub(crate) struct StopSignal {
    token: Option<Arc<CancellationToken>>,
    reason: Mutex<Option<BridgeError>>,
}

impl StopSignal {
    pub(crate) fn new(token: Option<Arc<CancellationToken>>) -> Self {
        Self {
            token,
            reason: Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<BridgeError>> {
        // A poisoned lock only means a panic elsewhere; the value is still meaningful.
        self.reason.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the first reason to stop; later ones are consequences of it.
    pub(crate) fn stop(&self, reason: BridgeError) {
        self.slot().get_or_insert(reason);
    }

    /// Whether the next exchange may go ahead; a cancellation is recorded the moment it is seen.
    pub(crate) fn may_continue(&self) -> bool {
        if self.token.as_ref().is_some_and(|t| t.is_cancelled()) {
            self.stop(BridgeError::Cancelled);
        }
        self.slot().is_none()
    }

    pub(crate) fn take(&self) -> Option<BridgeError> {
        self.slot().take()
    }
}

/// The core's transport, over the foreign one.
pub(crate) struct Link {
    transport: Arc<dyn CardTransport>,
    capabilities: CoreCapabilities,
    stop: Arc<StopSignal>,
}

/// The error the core sees for an exchange the bridge refused; it never reaches the caller.
fn stopped() -> CoreTransportError {
    CoreTransportError::Reader("stopped by the bridge".into())
}

impl Link {
    fn call(
        &self,
        method: &'static str,
        result: Result<Vec<u8>, crate::platform::TransportError>,
    ) -> Result<Vec<u8>, CoreTransportError> {
        result.map_err(|error| match error.into_core() {
            Ok(link_failure) => link_failure,
            Err(detail) => {
                self.stop.stop(BridgeError::Callback { method, detail });
                stopped()
            }
        })
    }
}

impl CoreTransport for Link {
    fn capabilities(&self) -> CoreCapabilities {
        self.capabilities
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CoreTransportError> {
        if !self.stop.may_continue() {
            return Err(stopped());
        }
        let result = self.transport.transmit(command.to_vec());
        self.call("CardTransport.transmit", result)
    }

    fn reconnect(&mut self) -> Result<(), CoreTransportError> {
        if !self.stop.may_continue() {
            return Err(stopped());
        }
        let result = self.transport.reconnect().map(|()| Vec::new());
        self.call("CardTransport.reconnect", result).map(drop)
    }
}

/// Forwards the reading engine's events to the listener.
struct Observer {
    listener: Arc<dyn ProgressListener>,
    stop: Arc<StopSignal>,
}

impl ReadObserver for Observer {
    fn on_event(&mut self, event: &ReadEvent) {
        if let Err(error) = self.listener.on_event(event.into()) {
            self.stop.stop(BridgeError::Callback {
                method: "ProgressListener.onEvent",
                detail: error.to_string(),
            });
        }
    }
}

/// What a session cost on the air, with the work's own result.
pub(crate) struct Finished<R> {
    pub output: R,
    pub counters: CardCounters,
}

/// Runs `work` on a fresh session over `transport`; a cancellation or a failed callback wins over
/// whatever the work made of the refused exchange.
pub(crate) fn run<R>(
    transport: Arc<dyn CardTransport>,
    listener: Option<Arc<dyn ProgressListener>>,
    cancellation: Option<Arc<CancellationToken>>,
    work: impl FnOnce(&mut CardSession<Link>) -> R,
) -> Result<Finished<R>, HonninError> {
    let stop = Arc::new(StopSignal::new(cancellation));
    if !stop.may_continue() {
        return Err(BridgeError::Cancelled.into());
    }
    let capabilities = transport
        .capabilities()
        .map_err(|error| match error.into_core() {
            Ok(link_failure) => HonninError::from(link_failure),
            Err(detail) => BridgeError::Callback {
                method: "CardTransport.capabilities",
                detail,
            }
            .into(),
        })?
        .into();
    let link = Link {
        transport,
        capabilities,
        stop: Arc::clone(&stop),
    };
    let mut session = CardSession::new(link);
    if let Some(listener) = listener {
        session = session.with_observer(Observer {
            listener,
            stop: Arc::clone(&stop),
        });
    }
    let output = work(&mut session);
    if let Some(reason) = stop.take() {
        return Err(reason.into());
    }
    Ok(Finished {
        output,
        counters: session.counters().into(),
    })
}

impl From<Counters> for CardCounters {
    fn from(c: Counters) -> Self {
        CardCounters {
            apdus: c.apdus,
            bytes_sent: c.bytes_sent,
            bytes_received: c.bytes_received,
            tag_losses: c.tag_losses,
        }
    }
}
