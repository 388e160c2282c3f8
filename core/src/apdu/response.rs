use thiserror::Error;
use zeroize::Zeroize;

use super::StatusWord;

/// A response APDU: data followed by the two status bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    data: Vec<u8>,
    status: StatusWord,
}

impl Drop for Response {
    // Responses can carry personal attributes; don't leave them in freed memory.
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Response({} data bytes, {})",
            self.data.len(),
            self.status
        )
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ResponseParseError {
    #[error("response APDU is {0} bytes; every response ends with 2 status bytes")]
    TooShort(usize),
}

impl Response {
    pub fn new(data: impl Into<Vec<u8>>, status: StatusWord) -> Self {
        Self {
            data: data.into(),
            status,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, ResponseParseError> {
        let split = bytes
            .len()
            .checked_sub(2)
            .ok_or(ResponseParseError::TooShort(bytes.len()))?;
        let (data, sw) = bytes.split_at(split);
        Ok(Self {
            data: data.to_vec(),
            status: StatusWord::from_bytes(sw[0], sw[1]),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.status.to_bytes());
        out
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Takes the data out (the caller becomes responsible for wiping it if it is sensitive).
    pub fn into_data(mut self) -> Vec<u8> {
        std::mem::take(&mut self.data)
    }

    pub fn status(&self) -> StatusWord {
        self.status
    }

    pub fn encoded_len(&self) -> usize {
        self.data.len() + 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_data_and_status() {
        let r = Response::parse(&[1, 2, 3, 0x90, 0x00]).expect("parses");
        assert_eq!(r.data(), &[1, 2, 3]);
        assert!(r.status().is_success());
        assert_eq!(r.to_bytes(), vec![1, 2, 3, 0x90, 0x00]);
    }

    #[test]
    fn one_byte_is_a_typed_error() {
        assert_eq!(
            Response::parse(&[0x90]),
            Err(ResponseParseError::TooShort(1))
        );
    }
}
