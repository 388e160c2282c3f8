//! What the card does with each command (card-model.md, "Commands" and "Model v1").
//!
//! Status words follow ISO 7816-4 where the card model is silent:
//! - `6A 82` unknown AID or FID; `69 86` no current EF; `69 81` READ BINARY on a PIN or key EF,
//!   VERIFY on a non-PIN EF, COMPUTE DIGITAL SIGNATURE on a non-key EF;
//! - `6B 00` READ BINARY at an offset at or past the end of the EF; fewer bytes than `Le` left:
//!   the rest with `62 82` (end of file reached before `Le` bytes were read);
//! - `67 00` missing or impossible `Le`/`Lc`; `6A 86` wrong P1/P2; `6E 00` wrong CLA for a known
//!   INS; `6D 00` unknown INS, or INTERNAL AUTHENTICATE where the chip has none.

use honnin_core::apdu::{Command, Response, StatusWord};
use honnin_core::card::profile::{RSA_2048_SIGNATURE_LEN, ins};

use crate::card::SoftwareCard;
use crate::crypto::{sign_padded, sign_sha256};
use crate::filesystem::{Access, Ef};
use crate::pin::VerifyOutcome;

const NO_CURRENT_EF: StatusWord = StatusWord(0x6986);
const INCOMPATIBLE_FILE: StatusWord = StatusWord(0x6981);

fn status(sw: StatusWord) -> Response {
    Response::new(Vec::new(), sw)
}

/// Largest DigestInfo PKCS#1 v1.5 can pad into a 2048-bit block (256 − 11 bytes).
const MAX_SIGN_INPUT: usize = RSA_2048_SIGNATURE_LEN - 11;

impl SoftwareCard {
    pub(crate) fn execute(&mut self, c: &Command) -> Response {
        let known_cla = match c.ins {
            ins::SELECT | ins::READ_BINARY | ins::VERIFY | ins::INTERNAL_AUTHENTICATE => 0x00,
            ins::COMPUTE_DIGITAL_SIGNATURE => ins::CLA_PROPRIETARY,
            _ => return status(StatusWord::INS_NOT_SUPPORTED),
        };
        if c.cla != known_cla {
            return status(StatusWord::CLA_NOT_SUPPORTED);
        }
        match c.ins {
            ins::SELECT => self.select(c),
            ins::READ_BINARY => self.read_binary(c),
            ins::VERIFY => self.verify(c),
            ins::COMPUTE_DIGITAL_SIGNATURE => self.compute_signature(c),
            _ => self.internal_authenticate(c),
        }
    }

    fn select(&mut self, c: &Command) -> Response {
        // P2 0C: no FCI. An Le some middleware adds anyway is tolerated (nothing is returned).
        if c.p2 != ins::P2_NO_FCI {
            return status(StatusWord::INCORRECT_P1P2);
        }
        match c.p1 {
            ins::P1_SELECT_AID => {
                let Some(index) = self.apps.iter().position(|a| a.aid[..] == *c.data()) else {
                    return status(StatusWord::FILE_NOT_FOUND);
                };
                // Selecting an application, even the current one, drops its security state.
                self.current_app = Some(index);
                self.current_ef = None;
                self.verified.clear();
                status(StatusWord::SUCCESS)
            }
            ins::P1_SELECT_EF => {
                let Ok(fid) = <[u8; 2]>::try_from(c.data()).map(u16::from_be_bytes) else {
                    return status(StatusWord::WRONG_LENGTH);
                };
                let Some(app) = self.current_app.map(|i| &self.apps[i]) else {
                    return status(StatusWord::FILE_NOT_FOUND);
                };
                if !app.efs.contains_key(&fid) {
                    return status(StatusWord::FILE_NOT_FOUND);
                }
                self.current_ef = Some(fid);
                status(StatusWord::SUCCESS)
            }
            _ => status(StatusWord::INCORRECT_P1P2),
        }
    }

    fn current(&self) -> Option<(&crate::filesystem::Application, u16, &Ef)> {
        let app = &self.apps[self.current_app?];
        let fid = self.current_ef?;
        Some((app, fid, app.efs.get(&fid)?))
    }

    fn any_verified(&self, pins: &[u16]) -> bool {
        pins.iter().any(|p| self.verified.contains(p))
    }

    fn read_binary(&mut self, c: &Command) -> Response {
        // P1 bit 8 would address an EF by short identifier, which the card model does not use.
        if c.p1 & 0x80 != 0 {
            return status(StatusWord::FUNCTION_NOT_SUPPORTED);
        }
        if !c.data().is_empty() {
            return status(StatusWord::WRONG_LENGTH);
        }
        let Some(le) = c.le() else {
            return status(StatusWord::WRONG_LENGTH);
        };
        let Some((_, _, ef)) = self.current() else {
            return status(NO_CURRENT_EF);
        };
        let Ef::Binary { content, read } = ef else {
            return status(INCOMPATIBLE_FILE);
        };
        if let Access::AfterPin(pins) = read
            && !self.any_verified(pins)
        {
            return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let offset = usize::from(u16::from_be_bytes([c.p1, c.p2]));
        if offset >= content.len() {
            return status(StatusWord::WRONG_P1P2);
        }
        let end = offset.saturating_add(le.bytes()).min(content.len());
        let sw = if end - offset < le.bytes() {
            StatusWord::END_OF_FILE
        } else {
            StatusWord::SUCCESS
        };
        Response::new(content[offset..end].to_vec(), sw)
    }

    fn verify(&mut self, c: &Command) -> Response {
        if c.p1 != 0x00 || c.p2 != 0x80 {
            return status(StatusWord::INCORRECT_P1P2);
        }
        let Some(app_index) = self.current_app else {
            return status(NO_CURRENT_EF);
        };
        let Some(fid) = self.current_ef else {
            return status(NO_CURRENT_EF);
        };
        let already_verified = self.verified.contains(&fid);
        let Some(pin) = self.apps[app_index].pin_mut(fid) else {
            return status(INCOMPATIBLE_FILE);
        };
        if c.data().is_empty() {
            // Tries left, spending nothing (ISO 7816-4: 90 00 if already verified).
            return status(match pin.tries_left() {
                0 => StatusWord::AUTH_METHOD_BLOCKED,
                _ if already_verified => StatusWord::SUCCESS,
                n => StatusWord::from_bytes(0x63, 0xC0 | n),
            });
        }
        match pin.verify(c.data()) {
            VerifyOutcome::Verified => {
                self.verified.insert(fid);
                status(StatusWord::SUCCESS)
            }
            VerifyOutcome::Wrong { tries_left } => {
                self.verified.remove(&fid);
                status(StatusWord::from_bytes(0x63, 0xC0 | tries_left))
            }
            VerifyOutcome::Locked => {
                self.verified.remove(&fid);
                status(StatusWord::AUTH_METHOD_BLOCKED)
            }
        }
    }

    /// A signature answer needs `Le` of at least 256 (short `00` or extended).
    fn signature_le_ok(c: &Command) -> bool {
        c.le()
            .is_some_and(|le| le.bytes() >= RSA_2048_SIGNATURE_LEN)
    }

    fn compute_signature(&mut self, c: &Command) -> Response {
        if c.p1 != 0x00 || c.p2 != 0x80 {
            return status(StatusWord::INCORRECT_P1P2);
        }
        if c.data().is_empty() || c.data().len() > MAX_SIGN_INPUT || !Self::signature_le_ok(c) {
            return status(StatusWord::WRONG_LENGTH);
        }
        let Some((_, _, ef)) = self.current() else {
            return status(NO_CURRENT_EF);
        };
        let Ef::Key { key, pin } = ef else {
            return status(INCOMPATIBLE_FILE);
        };
        if !self.verified.contains(pin) {
            return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        match sign_padded(key, c.data()) {
            Ok(signature) => {
                self.stats.rsa_operations += 1;
                Response::new(signature, StatusWord::SUCCESS)
            }
            // Only a damaged key fails here; a card reports that as a memory failure.
            Err(_) => status(StatusWord(0x6581)),
        }
    }

    fn internal_authenticate(&mut self, c: &Command) -> Response {
        let Some(app) = self.current_app.map(|i| &self.apps[i]) else {
            return status(StatusWord::INS_NOT_SUPPORTED);
        };
        let Some(auth) = app
            .internal_auth
            .as_ref()
            .filter(|_| self.internal_auth_supported)
        else {
            return status(if app.internal_auth.is_some() {
                self.internal_auth_refusal
            } else {
                StatusWord::INS_NOT_SUPPORTED
            });
        };
        if c.p1 != 0x00 || c.p2 != 0x00 {
            return status(StatusWord::INCORRECT_P1P2);
        }
        if c.data().len() != ins::INTERNAL_AUTH_CHALLENGE_LEN || !Self::signature_le_ok(c) {
            return status(StatusWord::WRONG_LENGTH);
        }
        if !self.any_verified(&auth.after_pins) {
            return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        match sign_sha256(&auth.key, c.data()) {
            Ok(signature) => {
                self.stats.rsa_operations += 1;
                Response::new(signature, StatusWord::SUCCESS)
            }
            Err(_) => status(StatusWord(0x6581)),
        }
    }
}
