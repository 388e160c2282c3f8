//! The bytes of the card's EFs, built exactly as `card-model.md` "Model v1" describes.
//!
//! Model choices made here (and only here):
//! - An EF holds exactly its encoded data object: no padding after it, so "the whole EF content"
//!   that `DF31`/`DF32` hash is the encoded TLV.
//! - `DF21` holds one 2-byte offset per following item, pointing at the item's tag, counted from
//!   the first byte of the container's value (where `DF21` itself starts).
//! - Input-support EF 0001 holds the test Individual Number as plain ASCII; AP info (EF 0005)
//!   holds one `DF10` object naming the model.

use honnin_core::card::profile::{KEY_ID_LEN, RSA_2048_SIGNATURE_LEN, jpki, tag};
use rsa::{PrivateKey, PublicKey};

use crate::crypto::{key_id, public_key_objects, sha256, sign_sha256};
use crate::error::SimError;
use crate::tlv::{offset_container, tlv};

/// EF 0006 of the JPKI AP: the token, space padded to 32 bytes.
pub fn jpki_token() -> Vec<u8> {
    let mut token = jpki::TOKEN_VALUE.to_vec();
    token.resize(jpki::TOKEN_LEN, b' ');
    token
}

/// EF 0005 of the input-support AP (model: no public source shows its content).
pub fn ap_info() -> Vec<u8> {
    tlv(0xDF10, b"honnin-simcard model v1")
}

/// `7F21 { 5F4E issuer id ‖ subject id ‖ public key, 5F37 signature over the encoded 5F4E }`.
///
/// `issuer_id` is taken as given rather than computed from `issuer_key`, so that a forger can
/// claim the genuine issuer's id while signing with his own key.
pub fn cv_certificate(
    issuer_id: [u8; KEY_ID_LEN],
    subject: &PublicKey,
    issuer_key: &PrivateKey,
) -> Result<Vec<u8>, SimError> {
    let mut body = issuer_id.to_vec();
    body.extend_from_slice(&key_id(subject)?);
    body.extend(public_key_objects(subject));
    let body = tlv(tag::CV_BODY, &body);
    let signature = tlv(tag::CV_SIGNATURE, &sign_sha256(issuer_key, &body)?);
    Ok(tlv(tag::CV_CERTIFICATE, &[body, signature].concat()))
}

/// How the card-face signature `DF28` is made.
pub enum Signature<'a> {
    /// Signed now over the encoded `DF21`..`DF27` ‖ `DF29`.
    By(&'a PrivateKey),
    /// Copied from another card: the data was altered after it was signed.
    Copied(Vec<u8>),
}

/// What card-face EF 0002 says.
pub struct CardFace<'a> {
    pub birth_date: &'a str,
    pub sex: &'a str,
    /// `DF24`: the chip's card-face key, as the issuer certified it.
    pub public_key: &'a PublicKey,
    pub name_image: &'a [u8],
    pub address_image: &'a [u8],
    pub face_image: &'a [u8],
    pub expiry: &'a str,
    pub security_code_image: &'a [u8],
}

/// An EF built from an offset container.
pub struct Built {
    pub content: Vec<u8>,
    /// The signature that was placed in the EF, if it holds one.
    pub signature: Option<Vec<u8>>,
}

/// Card-face EF 0002: `FF20 { DF21 offsets, DF22 … DF2A }`, `DF28` over `DF21`..`DF27` ‖ `DF29`
/// (honnin's model since issue 17; v1 left `DF29` unsigned).
pub fn card_face(data: &CardFace<'_>, signature: Signature<'_>) -> Result<Built, SimError> {
    let public_key = public_key_objects(data.public_key);
    let build = |sig: &[u8]| {
        offset_container(
            tag::CONTAINER,
            tag::OFFSETS,
            &[
                (tag::CF_BIRTH_DATE, data.birth_date.as_bytes()),
                (tag::CF_SEX, data.sex.as_bytes()),
                (tag::CF_PUBLIC_KEY, &public_key),
                (tag::CF_NAME_IMAGE, data.name_image),
                (tag::CF_ADDRESS_IMAGE, data.address_image),
                (tag::CF_FACE_IMAGE, data.face_image),
                (tag::CF_SIGNATURE, sig),
                (tag::CF_EXPIRY, data.expiry.as_bytes()),
                (tag::CF_SECURITY_CODE_IMAGE, data.security_code_image),
            ],
        )
    };
    // The offsets depend on the signature's length only, which is fixed: lay out once with a
    // placeholder, sign DF21..DF27 ‖ DF29 as laid out, then put the signature in its place.
    let placeholder = build(&[0u8; RSA_2048_SIGNATURE_LEN]);
    let signature = match signature {
        Signature::By(key) => {
            let mut signed = placeholder.children[..7].concat();
            signed.extend_from_slice(&placeholder.children[8]);
            sign_sha256(key, &signed)?
        }
        Signature::Copied(sig) => sig,
    };
    let container = build(&signature);
    Ok(Built {
        content: container.encoded,
        signature: Some(signature),
    })
}

/// What input-support EF 0002 says: the basic four attributes.
pub struct BasicAttributes<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub birth_date: &'a str,
    pub sex: &'a str,
}

/// Input-support EF 0002: `FF20 { DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex }`.
pub fn basic_attributes(data: &BasicAttributes<'_>) -> Built {
    let container = offset_container(
        tag::CONTAINER,
        tag::OFFSETS,
        &[
            (tag::IS_NAME, data.name.as_bytes()),
            (tag::IS_ADDRESS, data.address.as_bytes()),
            (tag::IS_BIRTH_DATE, data.birth_date.as_bytes()),
            (tag::IS_SEX, data.sex.as_bytes()),
        ],
    );
    Built {
        content: container.encoded,
        signature: None,
    }
}

/// Input-support EF 0003: `FF30 { DF31 SHA-256(EF 0001), DF32 SHA-256(EF 0002), DF33 signature
/// over the encoded DF31 ‖ DF32 }`.
pub fn input_support_signature(
    number_ef: &[u8],
    attributes_ef: &[u8],
    signer: &PrivateKey,
) -> Result<Vec<u8>, SimError> {
    let hashes = [
        tlv(tag::IS_NUMBER_HASH, &sha256(number_ef)),
        tlv(tag::IS_ATTRIBUTES_HASH, &sha256(attributes_ef)),
    ]
    .concat();
    let signature = tlv(tag::IS_SIGNATURE, &sign_sha256(signer, &hashes)?);
    Ok(tlv(
        tag::IS_SIGNATURE_CONTAINER,
        &[hashes, signature].concat(),
    ))
}

/// Makes the TLV starting at `at` claim as many bytes as its length field can express, so that
/// it runs past the end of its container and of the EF (the malformed-TLV profile).
pub fn overflow_length(content: &mut [u8], at: usize) -> bool {
    let Some((len_at, len_len)) = crate::tlv::length_field(content, at) else {
        return false;
    };
    match len_len {
        1 => content[len_at] = 0x7F,
        _ => content[len_at + 1..len_at + len_len].fill(0xFF),
    }
    true
}
