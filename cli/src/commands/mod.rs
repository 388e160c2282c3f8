pub mod check;
pub mod counter;
pub mod read;
