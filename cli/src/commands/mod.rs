pub mod check;
pub mod check_phone;
pub mod counter;
pub mod read;
pub mod records;
pub mod sync;
pub mod verify_record;
