//! The card's applications and elementary files.

use std::collections::BTreeMap;

use rsa::PrivateKey;

use crate::pin::Pin;

/// Who may read a binary EF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Anyone, once the application is selected.
    Free,
    /// After any one of these PIN EFs (of the same application) was verified.
    AfterPin(Vec<u16>),
}

/// What an EF is.
pub enum Ef {
    /// Data read with READ BINARY.
    Binary { content: Vec<u8>, read: Access },
    /// A PIN, used with VERIFY; not readable.
    Pin(Pin),
    /// A private key, used with COMPUTE DIGITAL SIGNATURE after `pin` was verified; not readable.
    Key { key: Box<PrivateKey>, pin: u16 },
}

impl std::fmt::Debug for Ef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ef::Binary { content, read } => write!(f, "Binary({} bytes, {read:?})", content.len()),
            Ef::Pin(pin) => write!(f, "{pin:?}"),
            Ef::Key { pin, .. } => write!(f, "Key(PIN {pin:04X})"),
        }
    }
}

/// INTERNAL AUTHENTICATE support of an application (model v1: the card-face AP only).
pub struct InternalAuth {
    pub key: PrivateKey,
    /// Any of these PIN EFs unlocks it.
    pub after_pins: Vec<u16>,
}

/// An application: its AID, its EFs by FID, and optionally INTERNAL AUTHENTICATE.
pub struct Application {
    pub aid: [u8; 10],
    pub efs: BTreeMap<u16, Ef>,
    pub internal_auth: Option<InternalAuth>,
}

impl Application {
    pub fn new(aid: [u8; 10]) -> Self {
        Self {
            aid,
            efs: BTreeMap::new(),
            internal_auth: None,
        }
    }

    pub fn binary(mut self, fid: u16, content: Vec<u8>, read: Access) -> Self {
        self.efs.insert(fid, Ef::Binary { content, read });
        self
    }

    pub fn pin(mut self, fid: u16, pin: Pin) -> Self {
        self.efs.insert(fid, Ef::Pin(pin));
        self
    }

    pub fn key(mut self, fid: u16, key: PrivateKey, pin: u16) -> Self {
        self.efs.insert(
            fid,
            Ef::Key {
                key: Box::new(key),
                pin,
            },
        );
        self
    }

    pub fn with_internal_auth(mut self, key: PrivateKey, after_pins: Vec<u16>) -> Self {
        self.internal_auth = Some(InternalAuth { key, after_pins });
        self
    }

    /// The content of a binary EF.
    pub fn content(&self, fid: u16) -> Option<&[u8]> {
        match self.efs.get(&fid) {
            Some(Ef::Binary { content, .. }) => Some(content),
            _ => None,
        }
    }

    /// The content of a binary EF, for profiles that alter data after it was signed.
    pub fn content_mut(&mut self, fid: u16) -> Option<&mut Vec<u8>> {
        match self.efs.get_mut(&fid) {
            Some(Ef::Binary { content, .. }) => Some(content),
            _ => None,
        }
    }

    pub fn pin_ref(&self, fid: u16) -> Option<&Pin> {
        match self.efs.get(&fid) {
            Some(Ef::Pin(pin)) => Some(pin),
            _ => None,
        }
    }

    pub fn pin_mut(&mut self, fid: u16) -> Option<&mut Pin> {
        match self.efs.get_mut(&fid) {
            Some(Ef::Pin(pin)) => Some(pin),
            _ => None,
        }
    }
}
