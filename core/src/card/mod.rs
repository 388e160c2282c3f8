//! The My Number Card's applications, read through typed sessions.

pub mod profile;
