pub mod check;
pub mod read;
