//! Verification: certificate chains, issuer signatures, challenge signatures, and the verdict.

pub mod addressee;
pub mod challenge;
pub mod check;
pub mod crypto;
pub mod record;
#[cfg(not(any(target_os = "android", fuzzing)))]
mod rsa_native;
pub mod time;
pub mod x509;

pub use check::{CheckId, CheckResult, CheckState, Reason};
pub use time::{Clock, FixedClock, RandomSource, SystemClock, SystemRandom, UnixTime};
