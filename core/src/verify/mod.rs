//! Verification: certificate chains, issuer signatures, challenge signatures, and the verdict.

pub mod addressee;
pub mod challenge;
pub mod check;
pub mod time;

pub use check::{CheckId, CheckResult, CheckState, Reason};
pub use time::{Clock, FixedClock, RandomSource, SystemClock, UnixTime};
