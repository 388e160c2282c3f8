//! The platform's device signer, store key and clock as the core's traits.
//!
//! The core's traits return the core's typed errors; a Kotlin exception that is not one of the
//! method's own (`DeviceSignerException`, `KeyProviderException`) is a bug on the platform side.
//! The adapters record it on the operation's [`StopSignal`] so that the call ends with
//! `CallbackFailed` naming the method, whatever the core made of the failure it was shown.

use std::sync::{Arc, Mutex, PoisonError};

use honnin_core::record::{DeviceSigner as CoreSigner, SignerError};
use honnin_core::store::{KeyError, KeyProvider as CoreKeyProvider, StoreKey};
use honnin_core::verify::{Clock as CoreClock, UnixTime};
use zeroize::Zeroizing;

use crate::error::{BridgeError, HonninError};
use crate::platform::{Clock, DeviceSigner, DeviceSignerError, KeyProvider, KeyProviderError};
use crate::session::StopSignal;

/// The foreign [`DeviceSigner`] as the core's.
pub(crate) struct Signer {
    foreign: Arc<dyn DeviceSigner>,
    stop: Arc<StopSignal>,
}

impl Signer {
    pub(crate) fn new(foreign: Arc<dyn DeviceSigner>, stop: Arc<StopSignal>) -> Self {
        Self { foreign, stop }
    }

    fn map(&self, method: &'static str, error: DeviceSignerError) -> SignerError {
        match error {
            DeviceSignerError::KeyUnavailable { detail } => SignerError::KeyUnavailable { detail },
            DeviceSignerError::SigningFailed { detail } => SignerError::SigningFailed { detail },
            DeviceSignerError::Unexpected { detail } => {
                self.stop.stop(BridgeError::Callback { method, detail });
                SignerError::SigningFailed {
                    detail: format!("{method} threw"),
                }
            }
        }
    }
}

impl CoreSigner for Signer {
    fn public_key_der(&self) -> Result<Vec<u8>, SignerError> {
        self.foreign
            .public_key_der()
            .map_err(|e| self.map("DeviceSigner.publicKeyDer", e))
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.foreign
            .sign(message.to_vec())
            .map_err(|e| self.map("DeviceSigner.sign", e))
    }
}

/// The foreign [`KeyProvider`] as the core's. The key bytes from Kotlin are wiped here as soon
/// as the core's [`StoreKey`] (itself wiped on drop) holds them.
pub(crate) struct Keys {
    foreign: Arc<dyn KeyProvider>,
    stop: Arc<StopSignal>,
}

impl Keys {
    pub(crate) fn new(foreign: Arc<dyn KeyProvider>, stop: Arc<StopSignal>) -> Self {
        Self { foreign, stop }
    }
}

impl CoreKeyProvider for Keys {
    fn store_key(&self) -> Result<StoreKey, KeyError> {
        match self.foreign.store_key() {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                StoreKey::from_slice(&bytes).ok_or_else(|| KeyError::Malformed {
                    detail: format!(
                        "KeyProvider.storeKey returned {} bytes; the store key is 32 bytes",
                        bytes.len()
                    ),
                })
            }
            Err(KeyProviderError::Missing { detail }) => Err(KeyError::Missing { detail }),
            Err(KeyProviderError::Unavailable { detail }) => Err(KeyError::Unavailable { detail }),
            Err(KeyProviderError::Unexpected { detail }) => {
                self.stop.stop(BridgeError::Callback {
                    method: "KeyProvider.storeKey",
                    detail,
                });
                Err(KeyError::Unavailable {
                    detail: "KeyProvider.storeKey threw".into(),
                })
            }
        }
    }
}

/// Reads the platform clock once, for a call that needs one instant.
pub(crate) fn now(clock: &dyn Clock) -> Result<UnixTime, HonninError> {
    clock.now_unix_seconds().map(UnixTime).map_err(|error| {
        BridgeError::Callback {
            method: "Clock.nowUnixSeconds",
            detail: error.to_string(),
        }
        .into()
    })
}

/// The foreign [`Clock`] as the core's, for long operations that read it many times. The core's
/// clock cannot fail, so a failed read answers the last good time and stops the operation.
pub(crate) struct LiveClock {
    foreign: Arc<dyn Clock>,
    stop: Arc<StopSignal>,
    last: Mutex<UnixTime>,
}

impl LiveClock {
    /// `start` is a reading the caller already made (and which succeeded).
    pub(crate) fn new(foreign: Arc<dyn Clock>, stop: Arc<StopSignal>, start: UnixTime) -> Self {
        Self {
            foreign,
            stop,
            last: Mutex::new(start),
        }
    }
}

impl CoreClock for LiveClock {
    fn now(&self) -> UnixTime {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match self.foreign.now_unix_seconds() {
            Ok(seconds) => *last = UnixTime(seconds),
            Err(error) => self.stop.stop(BridgeError::Callback {
                method: "Clock.nowUnixSeconds",
                detail: error.to_string(),
            }),
        }
        *last
    }
}

/// The result of a core call, unless the bridge stopped it: a cancellation or a failed callback
/// wins over whatever the core made of the refused step.
pub(crate) fn bridged<R, E: Into<HonninError>>(
    stop: &StopSignal,
    result: Result<R, E>,
) -> Result<R, HonninError> {
    if let Some(reason) = stop.take() {
        return Err(reason.into());
    }
    result.map_err(Into::into)
}
