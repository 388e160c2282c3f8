//! The software phone at APDU level: an NFC Forum Type 4 Tag with the static-handover NDEF file,
//! and the mdoc application that answers ENVELOPE / GET RESPONSE with an ISO/IEC 18013-5
//! session — as a holder's phone does when held to the reader, with the faults of its profile.

use ciborium::Value;
use coset::iana::Algorithm;
use coset::{AsCborValue, CoseSign1Builder, HeaderBuilder};
use honnin_core::apdu::{Command, Response, StatusWord};
use honnin_core::mdoc::engagement::{NfcLimits, encode_engagement, nfc_carrier_payload};
use honnin_core::mdoc::ndef::{
    NDEF_AID, NdefRecord, TNF_EXTERNAL, TNF_WELL_KNOWN, TYPE_DEVICE_ENGAGEMENT,
    TYPE_HANDOVER_SELECT, TYPE_NFC_CARRIER, encode_message,
};
use honnin_core::mdoc::response::device_authentication_bytes;
use honnin_core::mdoc::session::{
    Role, SessionCipher, SessionTranscript, derive, parse_establishment, parse_session_data,
    session_data,
};
use honnin_core::mdoc::transfer::{MDOC_AID, unwrap, wrap};
use honnin_core::mdoc::{ElementRequest, Handover, cbor};
use honnin_core::transport::{CardTransport, TransportCapabilities, TransportError};

use super::issuer::{IssuedDocument, sign_es256};
use super::pki;

const SW_OK: u16 = 0x9000;
const SW_NOT_FOUND: u16 = 0x6A82;
const SW_WRONG_STATE: u16 = 0x6985;
const SW_INS: u16 = 0x6D00;
const SW_WRONG_DATA: u16 = 0x6A80;
const NDEF_FILE: [u8; 2] = [0xE1, 0x04];

/// How the phone misbehaves at the protocol level (the document itself is set when issuing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Behaviour {
    /// Signs DeviceAuthentication with another key than the MSO's: a copied document.
    pub clone_device_key: bool,
    /// Answers with a session message recorded from an earlier session.
    pub replay_earlier_session: bool,
    /// Leaves the field (every exchange fails) from this APDU on (1-based).
    pub stop_after_apdus: Option<u32>,
    /// Leaves the field at the first ENVELOPE, whatever came before it (a reader that first
    /// looks for a card or a phone by AID sends more SELECTs), and stays away: the transfer is
    /// cut after the session began.
    pub leave_during_transfer: bool,
    /// The decrypted DeviceResponse is not CBOR.
    pub malformed_response: bool,
    /// Returns only the first requested element.
    pub partial: bool,
    /// XORs one byte of the plaintext DeviceResponse (position modulo its length) with a
    /// value: the fuzz and property tests' hostile phone.
    pub flip_response_byte: Option<(usize, u8)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    None,
    NdefApp,
    CapabilityContainer,
    NdefFile,
    Mdoc,
}

/// A holder's phone.
pub struct SoftwarePhone {
    document: IssuedDocument,
    behaviour: Behaviour,
    extended_link: bool,
    handover_select: Vec<u8>,
    engagement: Vec<u8>,
    selected: Selected,
    ndef_read: bool,
    incoming: Vec<u8>,
    outgoing: Vec<u8>,
    session: Option<SessionCipher>,
    apdus: u32,
    /// Set once a `leave_during_transfer` phone has left: it does not come back.
    left: bool,
}

impl SoftwarePhone {
    pub(crate) fn new(
        document: IssuedDocument,
        behaviour: Behaviour,
    ) -> Result<Self, crate::SimError> {
        let limits = NfcLimits {
            max_command_data: 65_535,
            max_response_data: 65_536,
        };
        let engagement = encode_engagement(&pki::key(pki::EPHEMERAL_KEY).public_key(), limits)
            .map_err(|e| crate::SimError::Encoding(e.to_string()))?;
        let handover_select = encode_message(&[
            NdefRecord {
                tnf: TNF_WELL_KNOWN,
                record_type: TYPE_HANDOVER_SELECT.to_vec(),
                id: vec![],
                // Version 1.5, then one alternative-carrier record naming the "nfc" carrier.
                payload: {
                    let ac = NdefRecord {
                        tnf: TNF_WELL_KNOWN,
                        record_type: b"ac".to_vec(),
                        id: vec![],
                        payload: vec![0x01, 0x03, b'n', b'f', b'c', 0x00],
                    };
                    let mut payload = vec![0x15];
                    payload.extend(encode_message(&[ac]));
                    payload
                },
            },
            NdefRecord {
                tnf: TNF_EXTERNAL,
                record_type: TYPE_NFC_CARRIER.to_vec(),
                id: b"nfc".to_vec(),
                payload: nfc_carrier_payload(limits),
            },
            NdefRecord {
                tnf: TNF_EXTERNAL,
                record_type: TYPE_DEVICE_ENGAGEMENT.to_vec(),
                id: b"mdoc".to_vec(),
                payload: engagement.clone(),
            },
        ]);
        Ok(Self {
            document,
            behaviour,
            extended_link: true,
            handover_select,
            engagement,
            selected: Selected::None,
            ndef_read: false,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            session: None,
            apdus: 0,
            left: false,
        })
    }

    /// A link that carries short APDUs only.
    pub fn short_only(mut self) -> Self {
        self.extended_link = false;
        self
    }

    /// The QR code text the phone would show (its engagement as an `mdoc:` URI).
    pub fn qr_text(&self) -> String {
        honnin_core::mdoc::engagement::qr_text(&self.engagement)
    }

    /// The NDEF file: NLEN then the Handover Select message.
    fn ndef_file(&self) -> Vec<u8> {
        let mut file = (self.handover_select.len() as u16).to_be_bytes().to_vec();
        file.extend_from_slice(&self.handover_select);
        file
    }

    fn capability_container(&self) -> Vec<u8> {
        let max = (self.ndef_file().len() as u16).to_be_bytes();
        vec![
            0x00,
            0x0F,
            0x20,
            0x00,
            0xFF,
            0x00,
            0xFF,
            0x04,
            0x06,
            NDEF_FILE[0],
            NDEF_FILE[1],
            max[0],
            max[1],
            0x00,
            0xFF,
        ]
    }

    fn respond(&mut self, command: &Command) -> Response {
        let status = |sw: u16| Response::new(Vec::new(), StatusWord(sw));
        match (command.ins, command.p1) {
            (0xA4, 0x04) if command.data() == NDEF_AID => {
                self.selected = Selected::NdefApp;
                status(SW_OK)
            }
            (0xA4, 0x04) if command.data() == MDOC_AID => {
                self.selected = Selected::Mdoc;
                status(SW_OK)
            }
            (0xA4, 0x04) => {
                self.selected = Selected::None;
                status(SW_NOT_FOUND)
            }
            (0xA4, 0x00) if self.selected != Selected::None && self.selected != Selected::Mdoc => {
                match command.data() {
                    [0xE1, 0x03] => {
                        self.selected = Selected::CapabilityContainer;
                        status(SW_OK)
                    }
                    d if d == NDEF_FILE => {
                        self.selected = Selected::NdefFile;
                        status(SW_OK)
                    }
                    _ => status(SW_NOT_FOUND),
                }
            }
            (0xB0, _) => {
                let file = match self.selected {
                    Selected::CapabilityContainer => self.capability_container(),
                    Selected::NdefFile => {
                        self.ndef_read = true;
                        self.ndef_file()
                    }
                    _ => return status(SW_WRONG_STATE),
                };
                let offset = usize::from(command.p1) << 8 | usize::from(command.p2);
                let len = command.le().map(|l| l.bytes()).unwrap_or(256);
                let end = (offset + len).min(file.len());
                Response::new(
                    file.get(offset..end).unwrap_or(&[]).to_vec(),
                    StatusWord(SW_OK),
                )
            }
            (0xC3, _) if self.selected == Selected::Mdoc => self.envelope(command),
            (0xC0, _) if self.selected == Selected::Mdoc => self.next_chunk(command),
            _ => status(SW_INS),
        }
    }

    fn envelope(&mut self, command: &Command) -> Response {
        self.incoming.extend_from_slice(command.data());
        if command.cla & 0x10 != 0 {
            return Response::new(Vec::new(), StatusWord(SW_OK));
        }
        let wrapped = std::mem::take(&mut self.incoming);
        let answer = unwrap(&wrapped)
            .ok()
            .and_then(|message| self.handle(&message));
        match answer {
            Some(message) => {
                self.outgoing = wrap(&message);
                self.next_chunk(command)
            }
            None => Response::new(Vec::new(), StatusWord(SW_WRONG_DATA)),
        }
    }

    fn next_chunk(&mut self, command: &Command) -> Response {
        let le = command.le().map(|l| l.bytes()).unwrap_or(256);
        let take = le.min(self.outgoing.len());
        let chunk: Vec<u8> = self.outgoing.drain(..take).collect();
        let left = self.outgoing.len();
        let sw = match left {
            0 => SW_OK,
            1..=255 => 0x6100 | left as u16,
            _ => 0x6100,
        };
        Response::new(chunk, StatusWord(sw))
    }

    /// One session message in, one out.
    fn handle(&mut self, message: &[u8]) -> Option<Vec<u8>> {
        if self.session.is_some() {
            // Only the reader's termination follows the one request of a door check.
            let (_, status) = parse_session_data(message).ok()?;
            self.session = None;
            return cbor::encode(&cbor::text_map(vec![(
                "status",
                Value::Integer(status.unwrap_or(20).into()),
            )]))
            .ok();
        }
        let (reader_key, reader_key_bytes, data) = parse_establishment(message).ok()?;
        let handover = if self.ndef_read {
            Handover::NfcStatic {
                handover_select: self.handover_select.clone(),
            }
        } else {
            Handover::Qr
        };
        let transcript =
            SessionTranscript::new(&self.engagement, &reader_key_bytes, &handover).ok()?;
        let ephemeral = pki::key(pki::EPHEMERAL_KEY);
        let mut cipher = derive(&ephemeral, &reader_key, &transcript, Role::Device).ok()?;
        let request = cipher.open(&data).ok()?;
        let request = ElementRequest::parse_device_request(&request).ok()?;
        let mut response = if self.behaviour.malformed_response {
            vec![0xBF, 0x61, 0x61, 0x9F]
        } else {
            self.device_response(&request, &transcript)?
        };
        if let Some((position, mask)) = self.behaviour.flip_response_byte
            && !response.is_empty()
        {
            let at = position % response.len();
            response[at] ^= mask;
        }
        if self.behaviour.replay_earlier_session {
            // What the phone sent an earlier reader (another reader key), sent again.
            let earlier = pki::key(pki::EARLIER_READER_KEY);
            let earlier_bytes = cbor::encode(&honnin_core::mdoc::engagement::public_to_cose_key(
                &earlier.public_key(),
            ))
            .ok()?;
            let earlier_transcript =
                SessionTranscript::new(&self.engagement, &earlier_bytes, &handover).ok()?;
            let mut old = derive(
                &ephemeral,
                &earlier.public_key(),
                &earlier_transcript,
                Role::Device,
            )
            .ok()?;
            self.session = Some(cipher);
            return session_data(old.seal(&response).ok()?).ok();
        }
        let sealed = cipher.seal(&response).ok()?;
        self.session = Some(cipher);
        session_data(sealed).ok()
    }

    fn device_response(
        &self,
        request: &ElementRequest,
        transcript: &SessionTranscript,
    ) -> Option<Vec<u8>> {
        let document = &self.document;
        let mut returned: Vec<Value> = request
            .elements
            .iter()
            .filter_map(|wanted| {
                document
                    .items
                    .iter()
                    .find(|(element, _)| element == wanted)
                    .map(|(_, item)| item.clone())
            })
            .collect();
        if self.behaviour.partial {
            returned.truncate(1);
        }
        let device_namespaces = cbor::encode(&Value::Map(Vec::new())).ok()?;
        let to_sign = device_authentication_bytes(
            &transcript.value().ok()?,
            &document.doc_type,
            &device_namespaces,
        )
        .ok()?;
        let device_key = if self.behaviour.clone_device_key {
            pki::key(pki::CLONE_DEVICE_KEY)
        } else {
            pki::key(pki::DEVICE_KEY)
        };
        let signature = CoseSign1Builder::new()
            .protected(HeaderBuilder::new().algorithm(Algorithm::ES256).build())
            .create_detached_signature(&to_sign, b"", |tbs| sign_es256(&device_key, tbs))
            .build()
            .to_cbor_value()
            .ok()?;
        let doc = cbor::text_map(vec![
            ("docType", Value::Text(document.doc_type.clone())),
            (
                "issuerSigned",
                cbor::text_map(vec![
                    (
                        "nameSpaces",
                        Value::Map(vec![(
                            Value::Text(document.namespace.clone()),
                            Value::Array(returned),
                        )]),
                    ),
                    ("issuerAuth", document.issuer_auth.clone()),
                ]),
            ),
            (
                "deviceSigned",
                cbor::text_map(vec![
                    ("nameSpaces", cbor::tagged(device_namespaces)),
                    (
                        "deviceAuth",
                        cbor::text_map(vec![("deviceSignature", signature)]),
                    ),
                ]),
            ),
        ]);
        cbor::encode(&cbor::text_map(vec![
            ("version", Value::Text("1.0".into())),
            ("documents", Value::Array(vec![doc])),
            ("status", Value::Integer(0.into())),
        ]))
        .ok()
    }
}

/// A phone taken out of the field (or a reader reset) ends its reader session: the next tap
/// starts again from the engagement, with a new session, as a wallet does.
impl crate::vpcd::VirtualCard for SoftwarePhone {
    fn reset(&mut self) {
        self.selected = Selected::None;
        self.ndef_read = false;
        self.incoming.clear();
        self.outgoing.clear();
        self.session = None;
    }
}

impl CardTransport for SoftwarePhone {
    fn capabilities(&self) -> TransportCapabilities {
        if self.extended_link {
            TransportCapabilities::EXTENDED
        } else {
            TransportCapabilities::SHORT_ONLY
        }
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.apdus += 1;
        if self
            .behaviour
            .stop_after_apdus
            .is_some_and(|n| self.apdus >= n)
        {
            // The phone left the field (or its app stopped answering): the session is gone.
            self.session = None;
            return Err(TransportError::TagLost);
        }
        let command = match Command::parse(command) {
            Ok(c) => c,
            Err(_) => return Ok(StatusWord(0x6700).0.to_be_bytes().to_vec()),
        };
        if self.behaviour.leave_during_transfer && (self.left || command.ins == 0xC3) {
            self.left = true;
            self.session = None;
            return Err(TransportError::TagLost);
        }
        if command.is_extended() && !self.extended_link {
            return Err(TransportError::LengthNotSupported);
        }
        Ok(self.respond(&command).to_bytes())
    }
}
