//! The DeviceRequest (ISO/IEC 18013-5 §8.3.2.1.2.1): exactly the elements the check needs.
//!
//! Data minimisation is the point of selective disclosure: the phone shows its holder what is
//! asked, and honnin asks for nothing it does not use. The door check always needs the name and
//! the portrait (the addressee and the face); the birth date and the address only when the
//! addressee to compare carries them or the sender's attribute policy asks for them. A sender
//! that only needs an age asks for `age_over_NN` and the portrait instead of the birth date.
//! `intentToRetain` is false for every element: the record keeps digests, never the values of
//! elements the policy does not name, and never the portrait.

use ciborium::Value;

use super::cbor;
use super::error::MdocError;
use super::profile::MdocProfile;
use crate::record::AttributePolicy;
use crate::verify::addressee::Addressee;

/// The elements one check asks for, in one namespace of one document type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementRequest {
    pub doc_type: String,
    pub namespace: String,
    pub elements: Vec<String>,
}

impl ElementRequest {
    /// The door check: name and portrait, plus birth date, address and sex where the addressee
    /// or the sender's policy needs them.
    pub fn door_check(
        profile: &MdocProfile,
        addressee: Option<&Addressee>,
        policy: AttributePolicy,
    ) -> Self {
        let mut elements = vec![profile.family_name.clone(), profile.given_name.clone()];
        if policy.birth_date || addressee.is_some_and(|a| a.birth_date.is_some()) {
            elements.push(profile.birth_date.clone());
        }
        if policy.address || addressee.is_some_and(|a| a.address.is_some()) {
            elements.push(profile.resident_address.clone());
        }
        if policy.sex {
            elements.push(profile.sex.clone());
        }
        elements.push(profile.portrait.clone());
        Self {
            doc_type: profile.doc_type.clone(),
            namespace: profile.namespace.clone(),
            elements,
        }
    }

    /// A sender that needs only an age: `age_over_NN` and the portrait to compare the face.
    pub fn age_over(profile: &MdocProfile, years: u8) -> Self {
        Self {
            doc_type: profile.doc_type.clone(),
            namespace: profile.namespace.clone(),
            elements: vec![profile.age_over(years), profile.portrait.clone()],
        }
    }

    /// ItemsRequest `{"docType", "nameSpaces": {ns: {element: false}}}` (encoded).
    pub fn items_request(&self) -> Result<Vec<u8>, MdocError> {
        let wanted = Value::Map(
            self.elements
                .iter()
                .map(|e| (Value::Text(e.clone()), Value::Bool(false)))
                .collect(),
        );
        cbor::encode(&cbor::text_map(vec![
            ("docType", Value::Text(self.doc_type.clone())),
            (
                "nameSpaces",
                Value::Map(vec![(Value::Text(self.namespace.clone()), wanted)]),
            ),
        ]))
    }

    /// DeviceRequest `{"version": "1.0", "docRequests": [{"itemsRequest": #6.24(...)}]}`.
    pub fn device_request(&self) -> Result<Vec<u8>, MdocError> {
        cbor::encode(&cbor::text_map(vec![
            ("version", Value::Text("1.0".into())),
            (
                "docRequests",
                Value::Array(vec![cbor::text_map(vec![(
                    "itemsRequest",
                    cbor::tagged(self.items_request()?),
                )])]),
            ),
        ]))
    }

    /// What a phone reads from a DeviceRequest (the simulated wallet uses it).
    pub fn parse_device_request(bytes: &[u8]) -> Result<Self, MdocError> {
        const WHAT: &str = "DeviceRequest";
        let value = cbor::decode(bytes, WHAT)?;
        let entries = cbor::map(&value, WHAT)?;
        let requests = cbor::array(cbor::field(entries, "docRequests", WHAT)?, WHAT)?;
        let first = requests
            .first()
            .ok_or_else(|| MdocError::malformed(WHAT, "no docRequests"))?;
        let items = cbor::embedded(
            cbor::field(cbor::map(first, WHAT)?, "itemsRequest", WHAT)?,
            WHAT,
        )?;
        let items = cbor::decode(items, "ItemsRequest")?;
        let items = cbor::map(&items, WHAT)?;
        let doc_type = cbor::text(cbor::field(items, "docType", WHAT)?, WHAT)?.to_owned();
        let spaces = cbor::map(cbor::field(items, "nameSpaces", WHAT)?, WHAT)?;
        let (namespace, wanted) = spaces
            .first()
            .ok_or_else(|| MdocError::malformed(WHAT, "no namespace"))?;
        let elements = cbor::map(wanted, WHAT)?
            .iter()
            .map(|(k, _)| cbor::text(k, WHAT).map(str::to_owned))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            doc_type,
            namespace: cbor::text(namespace, WHAT)?.to_owned(),
            elements,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CalendarDate;

    #[test]
    fn asks_only_for_what_the_addressee_and_policy_need() {
        let profile = MdocProfile::iso_mdl();
        let name_only = Addressee {
            name: "x".into(),
            address: None,
            birth_date: None,
        };
        let request =
            ElementRequest::door_check(&profile, Some(&name_only), AttributePolicy::default());
        assert_eq!(request.elements, ["family_name", "given_name", "portrait"]);
        let full = Addressee {
            address: Some("y".into()),
            birth_date: CalendarDate::new(1990, 1, 2),
            ..name_only
        };
        let request = ElementRequest::door_check(&profile, Some(&full), AttributePolicy::default());
        assert_eq!(
            request.elements,
            [
                "family_name",
                "given_name",
                "birth_date",
                "resident_address",
                "portrait"
            ]
        );
        let age = ElementRequest::age_over(&profile, 20);
        assert_eq!(age.elements, ["age_over_20", "portrait"]);
        let parsed = ElementRequest::parse_device_request(&request.device_request().expect("enc"))
            .expect("parses");
        assert_eq!(parsed, request);
    }
}
