//! ISO 7816-4 command and response APDUs, and the status words the My Number Card answers.
//!
//! Commands are built in the short form whenever they fit and in the extended form otherwise
//! (or when asked to), so that callers reason about `Le` as a byte count, not as an encoding.

mod command;
mod response;
mod status;

pub use command::{Command, CommandParseError, Le, MAX_EXTENDED_LE, MAX_SHORT_LE};
pub use response::{Response, ResponseParseError};
pub use status::{CardStatus, StatusWord};
