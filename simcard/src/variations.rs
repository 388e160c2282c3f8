//! Card variations: genuine cards that do something the card model or ISO/IEC 7816-4 allows but
//! the default software card does not (docs/card-variations.md has one row per variation).
//!
//! Each is a genuine card — every signature and certificate verifies — so the only correct
//! verdict for each is the genuine card's. They exist because an independent virtual card, built
//! from the public facts, showed honnin refusing genuine cards that differ from ours in such
//! ways (issue 16).

use der::Encode;
use honnin_core::apdu::{Command, Response, StatusWord};
use honnin_core::card::profile::{
    RSA_2048_SIGNATURE_LEN, aid, card_face, input_support, ins, jpki,
};
use x509_cert::ext::pkix::KeyUsages;

use crate::assemble::CardSpec;
use crate::card::SoftwareCard;
use crate::error::SimError;
use crate::fixtures::Fixtures;
use crate::generate::pki::{dn, period};
use crate::generate::x509::{CertSpec, issue, key_usage, name, other_names, policy};
use crate::holder::TEST_HOLDER;
use crate::names;

/// Serial of the signing certificate without substitute-character attributes (outside the
/// ranges of the committed test PKI).
const NO_SUBSTITUTES_SERIAL: u32 = 0x2101;

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
}

const ALL: [Variation; 7] = [
    Variation::NoSubstituteFlags,
    Variation::MoreData,
    Variation::WrongLe,
    Variation::SelectFci,
    Variation::RefusesExtended,
    Variation::PaddedFiles,
    Variation::EndOfFileSuccess,
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
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Builds the card from the genuine card's spec.
    pub(crate) fn build(self, mut spec: CardSpec, fx: &Fixtures) -> Result<SoftwareCard, SimError> {
        if self == Variation::NoSubstituteFlags {
            spec.sign_cert = signing_certificate_without_substitutes(fx)?;
        }
        let mut card = spec.assemble()?;
        if self == Variation::PaddedFiles {
            pad_files(&mut card)?;
        }
        card.variation = Some(self);
        Ok(card)
    }
}

/// The genuine signing certificate, issued afresh by the test signing CA without `.5.2`/`.5.6`.
/// Deterministic: PKCS#1 v1.5 signatures over the same input are the same, no key is generated.
fn signing_certificate_without_substitutes(fx: &Fixtures) -> Result<Vec<u8>, SimError> {
    let arc = jpki::ATTRIBUTE_OID_ARC;
    let holder = TEST_HOLDER;
    let attributes = [
        (format!("{arc}.1"), holder.name.to_owned()),
        (format!("{arc}.4"), holder.jpki_birth_date()),
        (format!("{arc}.3"), holder.sex.code().to_owned()),
        (format!("{arc}.5"), holder.address.to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = attributes
        .iter()
        .map(|(oid, value)| (oid.as_str(), value.as_str()))
        .collect();
    let spec = CertSpec {
        subject: name(dn::CARD_SIGN)?,
        issuer: name(dn::SIGN_CA)?,
        serial: NO_SUBSTITUTES_SERIAL,
        validity: period::end_entity(),
        extensions: vec![
            key_usage(KeyUsages::NonRepudiation | KeyUsages::DigitalSignature)?,
            policy(jpki::POLICY_SIGNING)?,
            other_names(&pairs)?,
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
            Variation::NoSubstituteFlags | Variation::PaddedFiles => self.execute(c),
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
