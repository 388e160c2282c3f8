//! Card variations: genuine cards that do something the card model or ISO/IEC 7816-4 allows but
//! the default software card does not (docs/card-variations.md has one row per variation).
//!
//! Each is a genuine card — every signature and certificate verifies — so the only correct
//! verdict for each is the genuine card's. They exist because an independent virtual card, built
//! from the public facts, showed honnin refusing genuine cards that differ from ours in such
//! ways (issue 16).

use der::asn1::{ObjectIdentifier, PrintableStringRef, Utf8StringRef};
use der::{Any, Encode};
use honnin_core::apdu::{Command, Response, StatusWord};
use honnin_core::card::profile::{
    RSA_2048_SIGNATURE_LEN, aid, card_face, input_support, ins, jpki, tag,
};
use rsa::traits::PublicKeyParts;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{KeyUsages, SubjectAltName};

use crate::assemble::CardSpec;
use crate::card::SoftwareCard;
use crate::crypto::{key_id, sha256, sign_sha256};
use crate::error::SimError;
use crate::fixtures::Fixtures;
use crate::generate::pki::{dn, period};
use crate::generate::x509::{CertSpec, extension, issue, key_usage, name, policy};
use crate::holder::{Holder, TEST_HOLDER, TEST_INDIVIDUAL_NUMBER};
use crate::names;
use crate::tlv::tlv;

/// Serial of the re-issued signing certificates (outside the ranges of the committed test PKI).
const REISSUED_SERIAL: u32 = 0x2101;
/// The most [`Variation::SmallLe`] answers in one READ BINARY.
const SMALL_LE_MAX: usize = 128;

/// A genuine card that differs from the default one in one allowed way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variation {
    /// The signing certificate carries only `.5.1`, `.5.3`, `.5.4`, `.5.5`: no substitute-character
    /// attributes (`.5.2`, `.5.6`), as a card whose name and address need none may do.
    NoSubstituteFlags,
    /// Every answer with data comes as `61 xx` first; the data follows with GET RESPONSE (ISO
    /// 7816-4 §5.3.4 allows this on any protocol).
    MoreData,
    /// READ BINARY with an `Le` beyond the end of the EF answers `6C xx` (xx = bytes left, `00`
    /// for 256 or more) instead of the shorter data with `62 82`.
    WrongLe,
    /// SELECT answers FCI data (`6F …`) although P2 `0C` asked for none.
    SelectFci,
    /// The link carries extended APDUs but the card answers `67 00` to an extended `Le` (it
    /// announced extended length in its ATR and then refuses it).
    RefusesExtended,
    /// Certificate, CV-certificate, card-face and signature EFs are fixed-size files: the data
    /// object is followed by `FF` padding up to the next 512 bytes, as on cards whose EFs are
    /// created with a fixed size. (Input-support EF 0002 is left unpadded: DF32 hashes the whole
    /// EF, and whether a real card's hash covers padding is an open question; see
    /// docs/card-variations.md.)
    PaddedFiles,
    /// READ BINARY that reaches the end of the EF answers the shorter data with `90 00` instead
    /// of `62 82` (ISO 7816-4 allows either).
    EndOfFileSuccess,
    /// Input-support EF 0002 and EF 0003 in another valid BER encoding: every length in the long
    /// form (`81 xx` even below 128), EF 0002's items in reverse order and without the `DF21`
    /// offsets; the issuer's hash and signature made over exactly these bytes.
    LongFormInputSupport,
    /// The signing certificate writes the ASCII-only attributes (sex `.5.3`, birth date `.5.4`)
    /// as PrintableString instead of UTF8String.
    PrintableStringAttributes,
    /// The card answers `67 00` to any READ BINARY asking for more than 128 bytes.
    SmallLe,
    /// Both CV certificates write the public key's modulus (`81`) before its exponent (`82`),
    /// the other order model v1 allows nothing against; the issuer signs them as they stand.
    ModulusFirst,
}

const ALL: [Variation; 11] = [
    Variation::NoSubstituteFlags,
    Variation::MoreData,
    Variation::WrongLe,
    Variation::SelectFci,
    Variation::RefusesExtended,
    Variation::PaddedFiles,
    Variation::EndOfFileSuccess,
    Variation::LongFormInputSupport,
    Variation::PrintableStringAttributes,
    Variation::SmallLe,
    Variation::ModulusFirst,
];

impl Variation {
    pub fn all() -> &'static [Variation] {
        &ALL
    }

    pub fn name(self) -> &'static str {
        match self {
            Variation::NoSubstituteFlags => "no-substitute-flags",
            Variation::MoreData => "more-data",
            Variation::WrongLe => "wrong-le",
            Variation::SelectFci => "select-fci",
            Variation::RefusesExtended => "refuses-extended",
            Variation::PaddedFiles => "padded-files",
            Variation::EndOfFileSuccess => "end-of-file-success",
            Variation::LongFormInputSupport => "long-form-input-support",
            Variation::PrintableStringAttributes => "printable-string-attributes",
            Variation::SmallLe => "small-le",
            Variation::ModulusFirst => "modulus-first",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Variation::NoSubstituteFlags => {
                "genuine; signing certificate without the substitute-character attributes"
            }
            Variation::MoreData => "genuine; answers 61xx, data by GET RESPONSE",
            Variation::WrongLe => "genuine; answers 6Cxx to a READ BINARY past the end",
            Variation::SelectFci => "genuine; SELECT returns FCI although none was asked",
            Variation::RefusesExtended => "genuine; answers 6700 to extended Le",
            Variation::PaddedFiles => "genuine; fixed-size EFs padded with FF after the data",
            Variation::EndOfFileSuccess => "genuine; a short read at the end of an EF ends 9000",
            Variation::LongFormInputSupport => {
                "genuine; input-support data with long-form lengths, other order, no DF21"
            }
            Variation::PrintableStringAttributes => {
                "genuine; sex and birth date in the certificate as PrintableString"
            }
            Variation::SmallLe => "genuine; READ BINARY of at most 128 bytes (6700 above)",
            Variation::ModulusFirst => {
                "genuine; CV certificates with the modulus before the exponent"
            }
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Builds the card from the genuine card's spec.
    pub(crate) fn build(self, mut spec: CardSpec, fx: &Fixtures) -> Result<SoftwareCard, SimError> {
        match self {
            Variation::NoSubstituteFlags => {
                spec.sign_cert = signing_certificate(fx, Attributes::WithoutSubstitutes)?;
            }
            Variation::PrintableStringAttributes => {
                spec.sign_cert = signing_certificate(fx, Attributes::PrintableDigits)?;
            }
            _ => {}
        }
        let modulus_first = match self {
            Variation::ModulusFirst => {
                let signing = &spec.data_signing;
                let cv = |signer: &rsa::PrivateKey| {
                    cv_certificate_modulus_first(
                        signing.cv_issuer_id,
                        signer.as_public_key(),
                        &signing.cv_issuer_key,
                    )
                };
                Some([
                    (aid::CARD_FACE, cv(&signing.card_face_signer)?),
                    (aid::INPUT_SUPPORT, cv(&signing.input_support_signer)?),
                ])
            }
            _ => None,
        };
        let mut card = spec.assemble()?;
        for (app_aid, content) in modulus_first.into_iter().flatten() {
            let slot = card
                .apps
                .iter_mut()
                .find(|a| a.aid == app_aid)
                .and_then(|a| a.content_mut(card_face::CV_CERT))
                .ok_or_else(|| SimError::fixture("EF 0004", "missing on the card"))?;
            *slot = content;
        }
        if self == Variation::PaddedFiles {
            pad_files(&mut card)?;
        }
        if self == Variation::LongFormInputSupport {
            let signer = fx.key(names::INPUT_SUPPORT_SIGNER)?;
            long_form_input_support(&mut card, &signer)?;
        }
        card.variation = Some(self);
        Ok(card)
    }
}

/// Which attributes the re-issued signing certificate carries, and how.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attributes {
    /// `.5.1`, `.5.4`, `.5.3`, `.5.5` as UTF8String; no `.5.2`, `.5.6`.
    WithoutSubstitutes,
    /// All six; `.5.3` and `.5.4` as PrintableString.
    PrintableDigits,
}

/// The genuine signing certificate, issued afresh by the test signing CA with other attributes.
/// Deterministic: PKCS#1 v1.5 signatures over the same input are the same, no key is generated.
fn signing_certificate(fx: &Fixtures, which: Attributes) -> Result<Vec<u8>, SimError> {
    let arc = jpki::ATTRIBUTE_OID_ARC;
    let holder = TEST_HOLDER;
    let printable = which == Attributes::PrintableDigits;
    let mut values = vec![
        (format!("{arc}.1"), holder.name.to_owned(), false),
        (format!("{arc}.4"), holder.jpki_birth_date(), printable),
        (format!("{arc}.3"), holder.sex.code().to_owned(), printable),
        (format!("{arc}.5"), holder.address.to_owned(), false),
    ];
    if which == Attributes::PrintableDigits {
        values.push((
            format!("{arc}.2"),
            Holder::no_substitutes(holder.name),
            false,
        ));
        values.push((
            format!("{arc}.6"),
            Holder::no_substitutes(holder.address),
            false,
        ));
    }
    let mut names = Vec::with_capacity(values.len());
    for (oid, value, printable) in &values {
        let type_id = ObjectIdentifier::new(oid)
            .map_err(|e| SimError::Encoding(format!("otherName OID {oid}: {e}")))?;
        let value = if *printable {
            Any::encode_from(&PrintableStringRef::new(value)?)?
        } else {
            Any::encode_from(&Utf8StringRef::new(value)?)?
        };
        names.push(GeneralName::OtherName(OtherName { type_id, value }));
    }
    let spec = CertSpec {
        subject: name(dn::CARD_SIGN)?,
        issuer: name(dn::SIGN_CA)?,
        serial: REISSUED_SERIAL,
        validity: period::end_entity(),
        extensions: vec![
            key_usage(KeyUsages::NonRepudiation | KeyUsages::DigitalSignature)?,
            policy(jpki::POLICY_SIGNING)?,
            extension(&SubjectAltName(names), false)?,
        ],
    };
    let subject = fx.key(names::CARD_SIGN)?.to_public_key();
    let issuer = fx.key(names::JPKI_SIGN_CA)?;
    Ok(issue(spec, &subject, &issuer)?.to_der()?)
}

/// The EFs [`Variation::PaddedFiles`] pads, by application.
const PADDED: [(&[u8; 10], &[u16]); 3] = [
    (
        &aid::JPKI,
        &[
            jpki::AUTH_CERT,
            jpki::AUTH_CA_CERT,
            jpki::SIGN_CERT,
            jpki::SIGN_CA_CERT,
        ],
    ),
    (
        &aid::INPUT_SUPPORT,
        &[input_support::SIGNATURE, input_support::CV_CERT],
    ),
    (&aid::CARD_FACE, &[card_face::FACE_DATA, card_face::CV_CERT]),
];
const PADDED_FILE_SIZE: usize = 512;

fn pad_files(card: &mut SoftwareCard) -> Result<(), SimError> {
    for (app_aid, fids) in PADDED {
        let app = card
            .apps
            .iter_mut()
            .find(|a| &a.aid == app_aid)
            .ok_or_else(|| SimError::fixture("application", "missing on the card"))?;
        for fid in fids {
            let content = app
                .content_mut(*fid)
                .ok_or_else(|| SimError::fixture(&format!("EF {fid:04X}"), "missing"))?;
            let size = content.len().div_ceil(PADDED_FILE_SIZE) * PADDED_FILE_SIZE;
            // Always some padding, also when the data fills a whole number of blocks.
            content.resize(size + PADDED_FILE_SIZE, 0xFF);
        }
    }
    Ok(())
}

/// A CV certificate as `layout::cv_certificate` makes it, with the key objects the other way
/// round: `81` modulus, then `82` exponent.
fn cv_certificate_modulus_first(
    issuer_id: [u8; honnin_core::card::profile::KEY_ID_LEN],
    subject: &rsa::PublicKey,
    issuer_key: &rsa::PrivateKey,
) -> Result<Vec<u8>, SimError> {
    let mut body = issuer_id.to_vec();
    body.extend_from_slice(&key_id(subject)?);
    body.extend(tlv(u16::from(tag::RSA_MODULUS), &subject.n_bytes()));
    body.extend(tlv(u16::from(tag::RSA_EXPONENT), &subject.e_bytes()));
    let body = tlv(tag::CV_BODY, &body);
    let signature = tlv(tag::CV_SIGNATURE, &sign_sha256(issuer_key, &body)?);
    Ok(tlv(tag::CV_CERTIFICATE, &[body, signature].concat()))
}

/// A TLV with a two-byte tag and its length in the long form, also where the short one would do
/// (BER allows it; DER would not).
fn long_tlv(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut out = tag.to_be_bytes().to_vec();
    match u8::try_from(value.len()) {
        Ok(len) => out.extend([0x81, len]),
        Err(_) => {
            let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
            out.push(0x82);
            out.extend(len.to_be_bytes());
        }
    }
    out.extend_from_slice(value);
    out
}

/// Re-encodes input-support EF 0002 and EF 0003 (see [`Variation::LongFormInputSupport`]).
fn long_form_input_support(
    card: &mut SoftwareCard,
    signer: &rsa::PrivateKey,
) -> Result<(), SimError> {
    let holder = &card.facts.holder;
    let items = [
        long_tlv(tag::IS_SEX, holder.sex.code().as_bytes()),
        long_tlv(tag::IS_BIRTH_DATE, holder.birth_date.as_bytes()),
        long_tlv(tag::IS_ADDRESS, holder.address.as_bytes()),
        long_tlv(tag::IS_NAME, holder.name.as_bytes()),
    ]
    .concat();
    let attributes = long_tlv(tag::CONTAINER, &items);
    let number = TEST_INDIVIDUAL_NUMBER.as_bytes();
    let hashes = [
        long_tlv(tag::IS_NUMBER_HASH, &sha256(number)),
        long_tlv(tag::IS_ATTRIBUTES_HASH, &sha256(&attributes)),
    ]
    .concat();
    let signature = long_tlv(tag::IS_SIGNATURE, &sign_sha256(signer, &hashes)?);
    let signature_ef = long_tlv(tag::IS_SIGNATURE_CONTAINER, &[hashes, signature].concat());
    let app = card
        .apps
        .iter_mut()
        .find(|a| a.aid == aid::INPUT_SUPPORT)
        .ok_or_else(|| SimError::fixture("input-support application", "missing on the card"))?;
    for (fid, content) in [
        (input_support::BASIC_ATTRIBUTES, attributes),
        (input_support::SIGNATURE, signature_ef),
    ] {
        let slot = app
            .content_mut(fid)
            .ok_or_else(|| SimError::fixture(&format!("EF {fid:04X}"), "missing"))?;
        *slot = content;
    }
    Ok(())
}

/// What the card keeps between a `61 xx` and the GET RESPONSE that fetches it.
#[derive(Debug, Default)]
pub(crate) struct PendingResponse {
    data: Vec<u8>,
    status: Option<StatusWord>,
}

const GET_RESPONSE: u8 = 0xC0;
/// A minimal FCI: `6F { 83 FID }`, what ISO 7816-4 cards commonly return to SELECT.
const FCI: [u8; 6] = [0x6F, 0x04, 0x83, 0x02, 0x00, 0x00];

impl SoftwareCard {
    /// Runs `c` as the card of this variation would.
    pub(crate) fn execute_varied(&mut self, c: &Command) -> Response {
        let Some(variation) = self.variation else {
            return self.execute(c);
        };
        match variation {
            Variation::MoreData => self.more_data(c),
            Variation::WrongLe => self.wrong_le(c),
            Variation::SelectFci => {
                let response = self.execute(c);
                if c.ins == ins::SELECT && response.status().is_success() {
                    Response::new(FCI.to_vec(), StatusWord::SUCCESS)
                } else {
                    response
                }
            }
            Variation::RefusesExtended => {
                if c.ins == ins::READ_BINARY && c.is_extended() {
                    Response::new(Vec::new(), StatusWord::WRONG_LENGTH)
                } else {
                    self.execute(c)
                }
            }
            Variation::EndOfFileSuccess => {
                let response = self.execute(c);
                if response.status() == StatusWord::END_OF_FILE {
                    Response::new(response.data().to_vec(), StatusWord::SUCCESS)
                } else {
                    response
                }
            }
            Variation::SmallLe => {
                if c.ins == ins::READ_BINARY && c.le().is_some_and(|le| le.bytes() > SMALL_LE_MAX) {
                    Response::new(Vec::new(), StatusWord::WRONG_LENGTH)
                } else {
                    self.execute(c)
                }
            }
            Variation::NoSubstituteFlags
            | Variation::PaddedFiles
            | Variation::LongFormInputSupport
            | Variation::PrintableStringAttributes
            | Variation::ModulusFirst => self.execute(c),
        }
    }

    fn more_data(&mut self, c: &Command) -> Response {
        if c.ins == GET_RESPONSE && c.cla == 0x00 {
            let Some(status) = self.pending.status else {
                // Nothing waiting (ISO 7816-4: conditions of use not satisfied).
                return Response::new(Vec::new(), StatusWord::CONDITIONS_NOT_SATISFIED);
            };
            let want = c.le().map_or(RSA_2048_SIGNATURE_LEN, |le| le.bytes());
            let take = want.min(self.pending.data.len());
            let chunk: Vec<u8> = self.pending.data.drain(..take).collect();
            return if self.pending.data.is_empty() {
                self.pending.status = None;
                Response::new(chunk, status)
            } else {
                Response::new(chunk, announce(self.pending.data.len()))
            };
        }
        self.pending = PendingResponse::default();
        let response = self.execute(c);
        if response.data().is_empty() {
            return response;
        }
        let announced = announce(response.data().len());
        self.pending = PendingResponse {
            data: response.data().to_vec(),
            status: Some(response.status()),
        };
        Response::new(Vec::new(), announced)
    }

    fn wrong_le(&mut self, c: &Command) -> Response {
        let response = self.execute(c);
        if c.ins == ins::READ_BINARY && response.status() == StatusWord::END_OF_FILE {
            // Nothing is returned: the reader must ask again with the Le the card names (at
            // most 256, what a short 6Cxx can name).
            return Response::new(Vec::new(), announce_wrong_le(response.data().len()));
        }
        response
    }
}

/// `61 xx`: xx bytes wait (00 = 256 or more).
fn announce(waiting: usize) -> StatusWord {
    StatusWord::from_bytes(0x61, u8::try_from(waiting).unwrap_or(0))
}

/// `6C xx`: ask again with Le = xx (00 = 256).
fn announce_wrong_le(available: usize) -> StatusWord {
    StatusWord::from_bytes(0x6C, u8::try_from(available).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use honnin_core::transport::CardTransport;

    use super::*;
    use crate::Profile;

    fn card(variation: Variation) -> SoftwareCard {
        Profile::Variation(variation).build().expect("builds")
    }

    fn select(card: &mut SoftwareCard, app: &[u8; 10], fid: u16) {
        let mut apdu = vec![0x00, 0xA4, 0x04, 0x0C, 0x0A];
        apdu.extend_from_slice(app);
        assert_eq!(card.transmit(&apdu).expect("SELECT AP"), [0x90, 0x00]);
        let [hi, lo] = fid.to_be_bytes();
        let apdu = [0x00, 0xA4, 0x02, 0x0C, 0x02, hi, lo];
        assert_eq!(card.transmit(&apdu).expect("SELECT EF"), [0x90, 0x00]);
    }

    #[test]
    fn names_round_trip() {
        for v in Variation::all() {
            assert_eq!(
                Profile::from_name(v.name()).ok(),
                Some(Profile::Variation(*v))
            );
        }
    }

    #[test]
    fn more_data_withholds_the_answer_until_get_response() {
        let mut card = card(Variation::MoreData);
        select(&mut card, &aid::JPKI, jpki::AUTH_CERT);
        let first = card
            .transmit(&[0x00, 0xB0, 0x00, 0x00, 0x00])
            .expect("READ");
        assert_eq!(first, [0x61, 0x00]);
        let answer = card
            .transmit(&[0x00, 0xC0, 0x00, 0x00, 0x00])
            .expect("GET RESPONSE");
        let expected = &card.ef(&aid::JPKI, jpki::AUTH_CERT).expect("EF")[..256];
        assert_eq!(&answer[..256], expected);
        assert_eq!(answer[256..], [0x90, 0x00]);
        // Nothing waits any more.
        let again = card
            .transmit(&[0x00, 0xC0, 0x00, 0x00, 0x10])
            .expect("GET RESPONSE");
        assert_eq!(again, [0x69, 0x85]);
    }

    #[test]
    fn wrong_le_names_the_bytes_left() {
        let mut card = card(Variation::WrongLe);
        select(&mut card, &aid::JPKI, jpki::TOKEN);
        let answer = card
            .transmit(&[0x00, 0xB0, 0x00, 0x00, 0x40])
            .expect("READ");
        assert_eq!(answer, [0x6C, 0x20]);
    }

    #[test]
    fn long_form_input_support_uses_the_long_length_form_and_another_order() {
        let card = card(Variation::LongFormInputSupport);
        let ef = card
            .ef(&aid::INPUT_SUPPORT, input_support::BASIC_ATTRIBUTES)
            .expect("EF 0002");
        assert_eq!(ef[..3], [0xFF, 0x20, 0x81]);
        // The first item is DF25 (sex), with a one-byte value in the long form.
        assert_eq!(ef[4..8], [0xDF, 0x25, 0x81, 0x01]);
    }

    #[test]
    fn padded_files_end_in_ff_padding() {
        let card = card(Variation::PaddedFiles);
        let cert = card.ef(&aid::JPKI, jpki::AUTH_CERT).expect("EF");
        assert_eq!(cert.len() % PADDED_FILE_SIZE, 0);
        assert_eq!(cert.last(), Some(&0xFF));
    }

    #[test]
    fn modulus_first_cv_certificates_put_81_before_82() {
        let card = card(Variation::ModulusFirst);
        for app in [&aid::CARD_FACE, &aid::INPUT_SUPPORT] {
            let cv = card.ef(app, card_face::CV_CERT).expect("EF 0004");
            // 7F21 82 hi lo, 5F4E 82 hi lo, issuer id and subject id (32 bytes), then the key.
            assert_eq!(cv[..3], [0x7F, 0x21, 0x82]);
            let key_at = 5 + 5 + 32;
            assert_eq!(cv[key_at], 0x81, "{app:02X?}");
        }
    }
}
