//! Card profile v1: every fact about the My Number Card that the reader relies on, in one place.
//!
//! Items marked *public* are what open-source readers of real cards agree on; items marked *model*
//! are honnin's documented choice where no public source shows the real card (see
//! `shared/card-model.md`). When the J-LIS specification is at hand, this file is what changes.

/// Application identifiers (public).
pub mod aid {
    pub const JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
    /// 券面事項入力補助AP.
    pub const INPUT_SUPPORT: [u8; 10] =
        [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
    /// 券面AP.
    pub const CARD_FACE: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];
}

/// Elementary files of the JPKI application (public).
pub mod jpki {
    pub const TOKEN: u16 = 0x0006;
    pub const AUTH_CERT: u16 = 0x000A;
    pub const AUTH_CA_CERT: u16 = 0x000B;
    pub const SIGN_CERT: u16 = 0x0001;
    pub const SIGN_CA_CERT: u16 = 0x0002;
    pub const AUTH_KEY: u16 = 0x0017;
    pub const AUTH_PIN: u16 = 0x0018;
    pub const SIGN_KEY: u16 = 0x001A;
    pub const SIGN_PIN: u16 = 0x001B;
    /// EF 0006 holds this, padded to 32 bytes with spaces or NULs.
    pub const TOKEN_VALUE: &[u8] = b"JPKIAPICCTOKEN";
    pub const TOKEN_LEN: usize = 32;
    pub const AUTH_PIN_TRIES: u8 = 3;
    pub const SIGN_PIN_TRIES: u8 = 5;
    pub const AUTH_PIN_LEN: usize = 4;
    pub const SIGN_PIN_LEN: std::ops::RangeInclusive<usize> = 6..=16;
    /// subjectAltName otherName type-id arc under which the signing certificate carries the
    /// holder's attributes: `.1` name, `.2` name substitute, `.3` sex, `.4` birth date, `.5`
    /// address, `.6` address substitute.
    pub const ATTRIBUTE_OID_ARC: &str = "1.2.392.200149.8.5.5";
    pub const POLICY_SIGNING: &str = "1.2.392.200149.8.5.1.1";
    pub const POLICY_AUTHENTICATION: &str = "1.2.392.200149.8.5.1.3";
}

/// Elementary files of the input-support application (public; tags model where noted).
pub mod input_support {
    /// Holds the Individual Number. honnin never selects or reads it; the constant exists only
    /// so that the software card can hold it and tests can assert that nobody asks for it.
    pub const INDIVIDUAL_NUMBER_NEVER_READ: u16 = 0x0001;
    pub const BASIC_ATTRIBUTES: u16 = 0x0002;
    pub const SIGNATURE: u16 = 0x0003;
    pub const CV_CERT: u16 = 0x0004;
    pub const AP_INFO: u16 = 0x0005;
    pub const PIN: u16 = 0x0011;
    /// Model: 3 tries.
    pub const PIN_TRIES: u8 = 3;
    pub const PIN_LEN: usize = 4;
}

/// Elementary files of the card-face application (public; formats model where noted).
pub mod card_face {
    pub const FACE_DATA: u16 = 0x0002;
    pub const CV_CERT: u16 = 0x0004;
    /// 照合番号B: birth date YYMMDD + expiry year YYYY + 4-digit security code.
    pub const MATCHING_NUMBER_B: u16 = 0x0012;
    /// 照合番号A is the Individual Number: honnin never uses it.
    pub const MATCHING_NUMBER_A_NEVER_USED: u16 = 0x0013;
    pub const MATCHING_NUMBER_B_LEN: usize = 14;
    /// Model: 3 tries.
    pub const MATCHING_NUMBER_B_TRIES: u8 = 3;
}

/// Tags of the data objects (public unless marked model).
pub mod tag {
    /// Model: the container of EF 0002 in both the input-support and card-face applications.
    pub const CONTAINER: u16 = 0xFF20;
    pub const OFFSETS: u16 = 0xDF21;

    // Input-support EF 0002.
    pub const IS_NAME: u16 = 0xDF22;
    pub const IS_ADDRESS: u16 = 0xDF23;
    pub const IS_BIRTH_DATE: u16 = 0xDF24;
    pub const IS_SEX: u16 = 0xDF25;

    // Input-support EF 0003.
    pub const IS_SIGNATURE_CONTAINER: u16 = 0xFF30;
    pub const IS_NUMBER_HASH: u16 = 0xDF31;
    pub const IS_ATTRIBUTES_HASH: u16 = 0xDF32;
    pub const IS_SIGNATURE: u16 = 0xDF33;

    // Card-face EF 0002.
    pub const CF_BIRTH_DATE: u16 = 0xDF22;
    pub const CF_SEX: u16 = 0xDF23;
    pub const CF_PUBLIC_KEY: u16 = 0xDF24;
    pub const CF_NAME_IMAGE: u16 = 0xDF25;
    pub const CF_ADDRESS_IMAGE: u16 = 0xDF26;
    pub const CF_FACE_IMAGE: u16 = 0xDF27;
    /// Model (changed by issue 17, see docs/card-model-changes.md): signature over the encoded
    /// `DF21`…`DF27` ‖ `DF29` TLVs in card order. v1 left `DF29` (expiry) unsigned, relying on
    /// 照合番号B for its year; but the expiry check relies on the whole date, so it is signed.
    /// `DF2A` (the security-code image) stays unsigned: no check relies on it.
    pub const CF_SIGNATURE: u16 = 0xDF28;
    pub const CF_EXPIRY: u16 = 0xDF29;
    pub const CF_SECURITY_CODE_IMAGE: u16 = 0xDF2A;

    // CV certificate.
    pub const CV_CERTIFICATE: u16 = 0x7F21;
    pub const CV_BODY: u16 = 0x5F4E;
    pub const CV_SIGNATURE: u16 = 0x5F37;

    // Model: RSA public key data objects (ISO 7816-8).
    pub const RSA_MODULUS: u8 = 0x81;
    pub const RSA_EXPONENT: u8 = 0x82;
}

/// Instruction bytes and fixed parameters (public; INTERNAL AUTHENTICATE is model).
pub mod ins {
    pub const SELECT: u8 = 0xA4;
    pub const READ_BINARY: u8 = 0xB0;
    pub const VERIFY: u8 = 0x20;
    pub const COMPUTE_DIGITAL_SIGNATURE: u8 = 0x2A;
    /// Model (changed by issue 17, see docs/card-model-changes.md): every card answers it on the
    /// card-face AP after 照合番号B with a signature by the `DF24` key. A card that answers with
    /// any status word instead fails the live-chip check: it carries a signed chip key it cannot
    /// use, which is what a clone looks like.
    pub const INTERNAL_AUTHENTICATE: u8 = 0x88;
    /// ISO 7816-4 GET RESPONSE: fetches the bytes a `61 xx` announced.
    pub const GET_RESPONSE: u8 = 0xC0;
    pub const P1_SELECT_AID: u8 = 0x04;
    pub const P1_SELECT_EF: u8 = 0x02;
    pub const P2_NO_FCI: u8 = 0x0C;
    pub const CLA_PROPRIETARY: u8 = 0x80;
    /// Model: challenge length for INTERNAL AUTHENTICATE on the card-face AP.
    pub const INTERNAL_AUTH_CHALLENGE_LEN: usize = 32;
}

/// Length of the key identifier: first 16 bytes of SHA-256 over the SubjectPublicKeyInfo (model).
pub const KEY_ID_LEN: usize = 16;
/// RSA-2048 signatures are 256 bytes.
pub const RSA_2048_SIGNATURE_LEN: usize = 256;
