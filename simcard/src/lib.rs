//! A software My Number Card that answers APDUs as `shared/card-model.md` describes, built from
//! the committed test PKI (fixtures/), with forgery and link-fault profiles.
//!
//! ```no_run
//! use honnin_core::transport::CardTransport;
//! use honnin_simcard::Profile;
//!
//! let mut card = Profile::Genuine.build().expect("fixtures are committed");
//! let answer = card.transmit(&[0x00, 0xA4, 0x04, 0x0C, 0x0A,
//!     0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]);
//! assert_eq!(answer, Ok(vec![0x90, 0x00]));
//! ```
//!
//! Model choices (card-model.md "Model v1" leaves them open) are documented where they are made:
//! EF layout in `layout`, status words in `exec`, profiles in [`Profile`], the fixture PKI in
//! fixtures/README.md.

mod assemble;
mod card;
mod crypto;
mod error;
mod exec;
mod filesystem;
pub mod fixtures;
pub mod generate;
pub mod holder;
mod layout;
mod link;
pub mod mdoc;
pub mod names;
mod pin;
mod profile;
mod tlv;
mod variations;
pub mod vpcd;

pub use card::{CardFacts, CardStats, LogEntry, SoftwareCard};
pub use crypto::key_id;
pub use error::SimError;
pub use fixtures::Fixtures;
pub use link::{Fault, LinkConfig, Oversize, When};
pub use pin::PinId;
pub use profile::{
    DEFAULT_TAG_LOSS_AT, EXPIRED_CARD_EXPIRY, Profile, TAMPERED_ADDRESS, TAMPERED_BIRTH_DATE,
};
pub use variations::Variation;
