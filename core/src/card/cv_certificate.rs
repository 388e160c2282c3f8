//! Card-verifiable certificates `7F21` of the card-face and input-support applications (model v1).

use super::profile::{KEY_ID_LEN, tag};
use super::types::RsaPublicKeyObject;
use crate::tlv::{self, Children, TlvError};

/// `7F21 { 5F4E body, 5F37 signature }`, body = issuer id ‖ subject id ‖ public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvCertificate {
    /// The whole encoded `5F4E` TLV: what the issuer signed.
    pub signed_body: Vec<u8>,
    pub issuer_key_id: [u8; KEY_ID_LEN],
    pub subject_key_id: [u8; KEY_ID_LEN],
    pub public_key: RsaPublicKeyObject,
    pub signature: Vec<u8>,
}

impl CvCertificate {
    pub fn parse(bytes: &[u8]) -> Result<Self, TlvError> {
        let outer = tlv::unwrap_single(bytes, u32::from(tag::CV_CERTIFICATE))?;
        let children = Children::parse(outer)?;
        let body = children.require(u32::from(tag::CV_BODY))?;
        let signature = children.require(u32::from(tag::CV_SIGNATURE))?;
        let value = body.value;
        if value.len() < 2 * KEY_ID_LEN {
            return Err(TlvError::Malformed(format!(
                "CV certificate body is {} bytes, shorter than two key ids",
                value.len()
            )));
        }
        let (issuer, rest) = value.split_at(KEY_ID_LEN);
        let (subject, key) = rest.split_at(KEY_ID_LEN);
        let mut issuer_key_id = [0; KEY_ID_LEN];
        issuer_key_id.copy_from_slice(issuer);
        let mut subject_key_id = [0; KEY_ID_LEN];
        subject_key_id.copy_from_slice(subject);
        Ok(Self {
            signed_body: body.encoded.to_vec(),
            issuer_key_id,
            subject_key_id,
            public_key: RsaPublicKeyObject::parse(key)?,
            signature: signature.value.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cv_bytes(body_value: &[u8]) -> Vec<u8> {
        let mut inner = tlv::encode(0x5F4E, body_value);
        inner.extend(tlv::encode(0x5F37, &[0xAB; 4]));
        tlv::encode(0x7F21, &inner)
    }

    #[test]
    fn parses_ids_key_and_signature() {
        let mut body = vec![1u8; 16];
        body.extend([2u8; 16]);
        body.extend([0x82, 0x03, 1, 0, 1, 0x81, 0x02, 0xC0, 0x01]);
        let cert = CvCertificate::parse(&cv_bytes(&body)).expect("parses");
        assert_eq!(cert.issuer_key_id, [1; 16]);
        assert_eq!(cert.subject_key_id, [2; 16]);
        assert_eq!(cert.public_key.exponent, vec![1, 0, 1]);
        assert_eq!(cert.signature, vec![0xAB; 4]);
        assert_eq!(&cert.signed_body[..2], &[0x5F, 0x4E]);
    }

    #[test]
    fn short_body_is_an_error() {
        assert!(matches!(
            CvCertificate::parse(&cv_bytes(&[0u8; 20])),
            Err(TlvError::Malformed(_))
        ));
    }

    #[test]
    fn wrong_outer_tag_is_an_error() {
        assert!(matches!(
            CvCertificate::parse(&[0x30, 0x00]),
            Err(TlvError::UnexpectedTag { .. })
        ));
    }
}
