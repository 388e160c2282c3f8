//! A software My Number Card that answers APDUs as `shared/card-model.md` describes.

pub mod vpcd;
