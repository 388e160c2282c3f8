//! The DeviceResponse (ISO/IEC 18013-5 §8.3.2.1.2.2), taken apart into what the two
//! authentications verify, with the exact bytes each one hashes or signs.

use ciborium::Value;
use coset::{CborSerializable, CoseMac0, CoseSign1};

use super::cbor;
use super::error::MdocError;

/// One IssuerSignedItem as returned: its identity, its value, and the tagged bytes its digest is
/// computed over.
#[derive(Clone)]
pub struct IssuerItem {
    pub namespace: String,
    pub digest_id: u64,
    pub element: String,
    pub value: Value,
    /// `#6.24(bstr .cbor IssuerSignedItem)`, encoded: what the MSO's digest covers.
    pub tagged_bytes: Vec<u8>,
}

impl std::fmt::Debug for IssuerItem {
    // Values are personal data (and the portrait): never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "IssuerItem({}/{} #{})",
            self.namespace, self.element, self.digest_id
        )
    }
}

/// How the phone authenticated itself.
#[derive(Debug, Clone)]
pub enum DeviceAuth {
    Signature(Box<CoseSign1>),
    Mac(Box<CoseMac0>),
}

/// The one document of a response.
#[derive(Debug, Clone)]
pub struct Document {
    pub doc_type: String,
    pub items: Vec<IssuerItem>,
    /// The issuer's COSE_Sign1 over the MSO, as encoded.
    pub issuer_auth: Vec<u8>,
    /// The encoded DeviceNameSpaces (the bytes inside `#6.24`).
    pub device_namespaces: Vec<u8>,
    pub device_auth: DeviceAuth,
}

/// Most elements honnin reads from one document; it asks for at most seven.
const MAX_ITEMS: usize = 64;

/// Parses a DeviceResponse and returns its document for `doc_type` (the first one, if the phone
/// sent several), or why there is none.
pub fn parse_device_response(bytes: &[u8]) -> Result<Document, MdocError> {
    const WHAT: &str = "DeviceResponse";
    let value = cbor::decode(bytes, WHAT)?;
    let entries = cbor::map(&value, WHAT)?;
    let status = cbor::get(entries, "status")
        .map(|s| cbor::uint(s, WHAT))
        .transpose()?
        .unwrap_or(0);
    let documents = match cbor::get(entries, "documents") {
        Some(d) => cbor::array(d, WHAT)?,
        None => &[],
    };
    let Some(document) = documents.first() else {
        return Err(MdocError::malformed(
            WHAT,
            format!("no document returned (status {status})"),
        ));
    };
    parse_document(document)
}

fn parse_document(document: &Value) -> Result<Document, MdocError> {
    const WHAT: &str = "Document";
    let entries = cbor::map(document, WHAT)?;
    let doc_type = cbor::text(cbor::field(entries, "docType", WHAT)?, WHAT)?.to_owned();
    let issuer_signed = cbor::map(cbor::field(entries, "issuerSigned", WHAT)?, WHAT)?;
    let issuer_auth = cbor::encode(cbor::field(issuer_signed, "issuerAuth", WHAT)?)?;
    let mut items = Vec::new();
    if let Some(spaces) = cbor::get(issuer_signed, "nameSpaces") {
        for (namespace, list) in cbor::map(spaces, WHAT)? {
            let namespace = cbor::text(namespace, WHAT)?;
            for tagged in cbor::array(list, WHAT)? {
                if items.len() == MAX_ITEMS {
                    return Err(MdocError::malformed(WHAT, "too many elements"));
                }
                items.push(parse_item(namespace, tagged)?);
            }
        }
    }
    let device_signed = cbor::map(cbor::field(entries, "deviceSigned", WHAT)?, WHAT)?;
    let device_namespaces =
        cbor::embedded(cbor::field(device_signed, "nameSpaces", WHAT)?, WHAT)?.to_vec();
    let auth = cbor::map(cbor::field(device_signed, "deviceAuth", WHAT)?, WHAT)?;
    let device_auth = if let Some(signature) = cbor::get(auth, "deviceSignature") {
        DeviceAuth::Signature(Box::new(
            CoseSign1::from_slice(&cbor::encode(signature)?)
                .map_err(|e| MdocError::malformed("deviceSignature", e))?,
        ))
    } else if let Some(mac) = cbor::get(auth, "deviceMac") {
        DeviceAuth::Mac(Box::new(
            CoseMac0::from_slice(&cbor::encode(mac)?)
                .map_err(|e| MdocError::malformed("deviceMac", e))?,
        ))
    } else {
        return Err(MdocError::malformed(
            WHAT,
            "deviceAuth has neither signature nor MAC",
        ));
    };
    Ok(Document {
        doc_type,
        items,
        issuer_auth,
        device_namespaces,
        device_auth,
    })
}

fn parse_item(namespace: &str, tagged: &Value) -> Result<IssuerItem, MdocError> {
    const WHAT: &str = "IssuerSignedItem";
    let inner = cbor::embedded(tagged, WHAT)?;
    let tagged_bytes = cbor::encode(tagged)?;
    let value = cbor::decode(inner, WHAT)?;
    let entries = cbor::map(&value, WHAT)?;
    let digest_id = cbor::uint(cbor::field(entries, "digestID", WHAT)?, WHAT)?;
    cbor::bytes(cbor::field(entries, "random", WHAT)?, WHAT)?;
    let element = cbor::text(cbor::field(entries, "elementIdentifier", WHAT)?, WHAT)?.to_owned();
    let value = cbor::field(entries, "elementValue", WHAT)?.clone();
    Ok(IssuerItem {
        namespace: namespace.to_owned(),
        digest_id,
        element,
        value,
        tagged_bytes,
    })
}

/// DeviceAuthenticationBytes = `#6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript,
/// DocType, DeviceNameSpacesBytes])`: what the device signature covers.
pub fn device_authentication_bytes(
    transcript: &Value,
    doc_type: &str,
    device_namespaces: &[u8],
) -> Result<Vec<u8>, MdocError> {
    let structure = cbor::encode(&Value::Array(vec![
        Value::Text("DeviceAuthentication".into()),
        transcript.clone(),
        Value::Text(doc_type.to_owned()),
        cbor::tagged(device_namespaces.to_vec()),
    ]))?;
    cbor::encode(&cbor::tagged(structure))
}
