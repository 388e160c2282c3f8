//! The door check: levels A, B and C end to end, from a card session to a report whose verdict
//! follows from its checks.
//!
//! Every level reads and verifies what needs no secret first, so a forged, expired or revoked
//! card is rejected before a PIN try is spent; reads the PIN counter before sending a secret and
//! refuses at one try left; and reports every check it requires, "not checked" where it stopped.
//! No level falls back to another: a refused level B says so, and the caller may start level A.

mod jpki_steps;
mod known;
mod level_a;
mod level_b;
mod level_c;
mod report;
mod request;
mod steps;
mod texts;
mod verdict;

pub use level_a::{AwaitingFaceConfirmation, FaceDecision, FaceImages};
pub use report::{DoorCheckReport, Evidence, VerifiedAttributes};
pub use request::{CheckRequest, Verifier};
pub use verdict::{Level, Verdict};
