//! Enrolment: the device's key registered with a receiver by the one-time code its operator
//! issued, and what the receiver answers (its receipt key, and its TLS pin when it serves TLS).

use super::client::{MAX_RESPONSE, SyncClient, SyncConfig, SyncError, classify};
use super::pin::SpkiPin;
use crate::record::{DeviceKey, DeviceSigner, RecordError};

/// What enrolment established: the receiver's receipt key and, when the receiver serves TLS
/// itself, the pin of its TLS key as it announced it.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub receipt_key: DeviceKey,
    /// The receiver's own statement of its TLS key (`tls_spki_sha256` in the answer); `None`
    /// when it runs behind a TLS-terminating proxy or on plain loopback HTTP.
    pub tls_pin: Option<SpkiPin>,
}

impl SyncClient {
    /// Enrols this device's key with the receiver, using the one-time code its operator issued,
    /// and returns the receiver's receipt key (to keep for [`SyncClient::new`]).
    pub fn enrol(
        config: &SyncConfig,
        code: &str,
        signer: &dyn DeviceSigner,
    ) -> Result<DeviceKey, SyncError> {
        Self::enrol_device(config, code, signer).map(|enrolment| enrolment.receipt_key)
    }

    /// As [`SyncClient::enrol`], with everything enrolment established: keep the receipt key,
    /// and keep `config.tls` (e.g. the pin the operator handed out) for every later sync.
    pub fn enrol_device(
        config: &SyncConfig,
        code: &str,
        signer: &dyn DeviceSigner,
    ) -> Result<Enrolment, SyncError> {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD as BASE64;
        let spki = signer.public_key_der().map_err(RecordError::from)?;
        let body = serde_json::json!({
            "device_id": config.device_id,
            "public_key": BASE64.encode(&spki),
            "code": code.trim(),
        });
        // The agent (timeouts, TLS trust) is the one sync uses; the receipt key is not needed yet.
        let placeholder = DeviceKey::from_spki_der(&spki)?;
        let client = SyncClient::new(config.clone(), placeholder);
        let url = format!("{}/v1/enrol", config.base_url);
        let mut request = client.agent()?.post(&url).content_type("application/json");
        // The receiver's operator sees in the enrolment's audit entry which app enrolled.
        if let Some(version) = &config.app_version {
            request = request.header(super::protocol::HEADER_APP_VERSION, version);
        }
        let mut response =
            request
                .send(body.to_string().as_bytes())
                .map_err(|e| match classify(e) {
                    Ok(last) => SyncError::Unreachable { attempts: 1, last },
                    Err(fatal) => fatal,
                })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_string()
            .map_err(|e| SyncError::Protocol(format!("enrolment answer unreadable: {e}")))?;
        if status != 201 {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            return Err(SyncError::Refused { status, message });
        }
        let answer: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| SyncError::Protocol(format!("enrolment answer is not JSON: {e}")))?;
        let key = answer["receipt_key"]
            .as_str()
            .and_then(|b64| BASE64.decode(b64).ok())
            .ok_or_else(|| SyncError::Protocol("enrolment answer has no receipt_key".into()))?;
        let tls_pin = match &answer["tls_spki_sha256"] {
            serde_json::Value::Null => None,
            value => Some(
                value
                    .as_str()
                    .and_then(|text| text.parse::<SpkiPin>().ok())
                    .ok_or_else(|| {
                        SyncError::Protocol(
                            "enrolment answer has a malformed tls_spki_sha256".into(),
                        )
                    })?,
            ),
        };
        Ok(Enrolment {
            receipt_key: DeviceKey::from_spki_der(&key)?,
            tls_pin,
        })
    }
}
