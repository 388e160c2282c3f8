//! One result per check: which check, its state, a reason code and a detail — never a boolean.
//!
//! Modelled on JMRTD's verification status: "failed" and "never tried" must never look the same,
//! so every check that the level asks for is reported, including the ones that could not run.

use serde::Serialize;

/// Every check honnin can run on a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    /// The CV certificate of the card-face data signer verifies under a configured anchor.
    CardFaceCvCertificate,
    /// `DF28` verifies over `DF21`–`DF27` ‖ `DF29`.
    CardFaceSignature,
    /// `DF22` (birth date) and the year of `DF29` (expiry) agree with the 照合番号B sent.
    MatchingNumberConsistency,
    /// The chip signs a fresh challenge with the key in `DF24` (INTERNAL AUTHENTICATE).
    LiveChip,
    /// The CV certificate of the input-support signer verifies under a configured anchor.
    InputSupportCvCertificate,
    /// `DF32` equals SHA-256 of EF 0002 as read.
    AttributesHash,
    /// `DF33` verifies over `DF31` ‖ `DF32`.
    InputSupportSignature,
    /// The end-entity certificate chains, by key and signature, to a configured JPKI root.
    CertificateChain,
    /// Every certificate of the chain is valid at the check time.
    CertificateValidity,
    /// KeyUsage of every certificate fits its role.
    KeyUsage,
    /// BasicConstraints and path length of every CA certificate.
    BasicConstraints,
    /// The certificate policy is the JPKI one for this key (authentication or signing).
    CertificatePolicy,
    /// The end-entity certificate is not on the operator's revocation list.
    Revocation,
    /// The card signed this check's challenge with its JPKI key.
    ChallengeSignature,
    /// The card's expiry date (card face) has not passed.
    CardExpiry,
    /// The holder's attributes match the addressee.
    AddresseeMatch,
    /// The PIN counter allowed a try (tries left read before any PIN was sent).
    PinState,
    /// The courier compared face and name images with the person and confirmed.
    FaceConfirmation,
    /// The card answered every command of the check (no removal, no malformed answer).
    CardCommunication,
    /// Phone (mdoc): engagement read and the 18013-5 session established and decrypted.
    MdocSession,
    /// Phone: the MSO's document signer certificate chains by key to an mdoc issuer anchor.
    MdocIssuerCertificate,
    /// Phone: the document signer's COSE signature over the MSO verifies.
    MdocIssuerSignature,
    /// Phone: the MSO is valid now (signed, validFrom, validUntil).
    MdocValidity,
    /// Phone: the document type asked for, returned and signed in the MSO agree.
    MdocDocType,
    /// Phone: every returned element matches its digest in the MSO.
    MdocElementDigests,
    /// Phone: every element the check asked for was returned.
    MdocElementsComplete,
    /// Phone: the device signed this session with the key the MSO binds (not a copy).
    MdocDeviceAuthentication,
}

/// The state of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Passed,
    Failed,
    /// The check applies but was not run (no CRL configured, courier did not confirm, …).
    NotChecked,
    /// The card does not carry what the check needs (e.g. no INTERNAL AUTHENTICATE).
    NotPresent,
}

/// Why a check ended as it did. Codes are stable: records and senders' systems store them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    Verified,
    SignatureInvalid,
    HashMismatch,
    UnknownIssuer,
    ChainIncomplete,
    CertificateMalformed,
    Expired,
    NotYetValid,
    KeyUsageMissing,
    NotCa,
    /// The end-entity certificate says it may issue certificates (cA=true or keyCertSign).
    EndEntityIsCa,
    PathLengthExceeded,
    PolicyMissing,
    UnsupportedAlgorithm,
    /// SHA-1 accepted because the card profile uses it; reported so the sender sees it.
    Sha1Accepted,
    /// A certificate carries a critical extension that honnin does not process (RFC 5280 §4.2).
    UnknownCriticalExtension,
    Revoked,
    NotRevoked,
    NoRevocationList,
    RevocationListInvalid,
    CardExpired,
    MatchingNumberMismatch,
    NotSupportedByCard,
    /// The chip holds a signed card-face key but answered INTERNAL AUTHENTICATE with a status
    /// word instead of a signature: a clone.
    ChipRefusedChallenge,
    NameMismatch,
    AddressMismatch,
    BirthDateMismatch,
    ComparedByEye,
    NoAddresseeGiven,
    TriesAvailable,
    PinGuardRefused,
    PinLocked,
    ConfirmedByCourier,
    RejectedByCourier,
    NotConfirmed,
    /// An earlier step failed, so this one could not be reached.
    Skipped,
    WrongPin,
    CardRemoved,
    CardDataMalformed,
    CardRefusedCommand,
    NotAMyNumberCard,
    /// The phone's MSO is past its validUntil.
    MsoExpired,
    /// The phone's MSO is not yet valid (validFrom or signed in the future).
    MsoNotYetValid,
    /// The document type asked for, returned and signed differ.
    DocTypeMismatch,
    /// The device signature is not by the MSO's device key: a document copied to another phone.
    DeviceSignatureInvalid,
    /// The phone returned only some of the elements asked for.
    ElementsMissing,
    /// A session message does not decrypt under this session's keys (replayed or altered).
    SessionMessageRejected,
    /// A session message repeats one this session already received.
    SessionReplayed,
    /// The device has no mdoc application or engagement.
    NotAnMdoc,
}

impl Reason {
    pub fn code(self) -> &'static str {
        self.messages().0
    }

    pub fn message_en(self) -> &'static str {
        self.messages().1
    }

    pub fn message_ja(self) -> &'static str {
        self.messages().2
    }

    fn messages(self) -> (&'static str, &'static str, &'static str) {
        use Reason::*;
        match self {
            Verified => ("verified", "verified", "検証済み"),
            SignatureInvalid => (
                "signature_invalid",
                "the signature does not verify",
                "署名が一致しません",
            ),
            HashMismatch => (
                "hash_mismatch",
                "the data does not match its signed hash",
                "データが署名済みハッシュと一致しません",
            ),
            UnknownIssuer => (
                "unknown_issuer",
                "the issuer is not a configured trust anchor",
                "発行者が信頼できる認証局ではありません",
            ),
            ChainIncomplete => (
                "chain_incomplete",
                "no certificate chain reaches a trust anchor",
                "信頼できる認証局までの証明書チェーンがありません",
            ),
            CertificateMalformed => (
                "certificate_malformed",
                "a certificate cannot be parsed",
                "証明書を解析できません",
            ),
            Expired => (
                "expired",
                "a certificate has expired",
                "証明書の有効期限が切れています",
            ),
            NotYetValid => (
                "not_yet_valid",
                "a certificate is not yet valid",
                "証明書の有効期間がまだ始まっていません",
            ),
            KeyUsageMissing => (
                "key_usage_missing",
                "a certificate's key usage does not allow this use",
                "証明書の鍵用途がこの用途を許可していません",
            ),
            NotCa => (
                "not_ca",
                "an issuing certificate is not a CA certificate",
                "発行元の証明書がCA証明書ではありません",
            ),
            PathLengthExceeded => (
                "path_length_exceeded",
                "the chain is longer than a CA allows",
                "証明書チェーンがCAの許す長さを超えています",
            ),
            PolicyMissing => (
                "policy_missing",
                "the certificate lacks the JPKI policy for this key",
                "証明書にこの鍵のJPKIポリシーがありません",
            ),
            UnsupportedAlgorithm => (
                "unsupported_algorithm",
                "the signature algorithm is not accepted",
                "署名アルゴリズムが受け入れられません",
            ),
            Sha1Accepted => (
                "sha1_accepted",
                "verified; the card profile uses SHA-1 here",
                "検証済み（カードがSHA-1を使用）",
            ),
            UnknownCriticalExtension => (
                "unknown_critical_extension",
                "a certificate carries a critical extension that honnin does not understand",
                "証明書に処理できない重要（critical）拡張があります",
            ),
            Revoked => (
                "revoked",
                "the certificate is revoked",
                "証明書は失効しています",
            ),
            NotRevoked => (
                "not_revoked",
                "not on the revocation list",
                "失効リストに含まれていません",
            ),
            NoRevocationList => (
                "no_revocation_list",
                "revocation not checked on this device; the receiving side checks it",
                "この端末では失効確認を行っていません（受信側で確認）",
            ),
            RevocationListInvalid => (
                "revocation_list_invalid",
                "the revocation list does not verify or is out of date",
                "失効リストが検証できないか期限切れです",
            ),
            CardExpired => (
                "card_expired",
                "the card has expired",
                "カードの有効期限が切れています",
            ),
            MatchingNumberMismatch => (
                "matching_number_mismatch",
                "the chip's birth date or expiry year differs from the printed card",
                "ICチップの生年月日または有効期限が券面と一致しません",
            ),
            NotSupportedByCard => (
                "not_supported_by_card",
                "the card does not support this; a copy of the data onto another chip cannot be excluded",
                "カードが対応していません（別チップへの複製を排除できません）",
            ),
            ChipRefusedChallenge => (
                "chip_refused_challenge",
                "the chip carries a signed card-face key but refused to sign the challenge: the data was copied onto another chip",
                "ICチップが署名済みの券面鍵を持ちながらチャレンジへの署名を拒否しました（別チップへの複製）",
            ),
            EndEntityIsCa => (
                "end_entity_is_ca",
                "the card's certificate is marked as a certificate authority (cA or keyCertSign); a card key must not issue certificates",
                "カードの証明書が認証局として設定されています（cA または keyCertSign）",
            ),
            NameMismatch => (
                "name_mismatch",
                "the name differs from the addressee",
                "氏名が宛名と一致しません",
            ),
            AddressMismatch => (
                "address_mismatch",
                "the address differs from the addressee",
                "住所が宛先と一致しません",
            ),
            BirthDateMismatch => (
                "birth_date_mismatch",
                "the birth date differs from the addressee's",
                "生年月日が一致しません",
            ),
            ComparedByEye => (
                "compared_by_eye",
                "the name is an image; the courier or clerk compared it by eye",
                "氏名は画像のため担当者（配達員・窓口）が目視で照合しました",
            ),
            NoAddresseeGiven => (
                "no_addressee_given",
                "no addressee was given to compare with",
                "照合する宛名が指定されていません",
            ),
            TriesAvailable => (
                "tries_available",
                "enough PIN tries were left",
                "暗証番号の残り回数は十分でした",
            ),
            PinGuardRefused => (
                "pin_guard_refused",
                "only one PIN try was left: refused so the card cannot lock; use the check without PIN",
                "暗証番号の残り回数が1回のため中止しました（暗証番号なしの確認を使ってください）",
            ),
            PinLocked => (
                "pin_locked",
                "the PIN is locked",
                "暗証番号がロックされています",
            ),
            ConfirmedByCourier => (
                "confirmed_by_courier",
                "the courier or clerk confirmed face and name",
                "担当者（配達員・窓口）が顔写真と氏名を確認しました",
            ),
            RejectedByCourier => (
                "rejected_by_courier",
                "the courier or clerk found that face or name does not match",
                "担当者（配達員・窓口）が顔写真または氏名の不一致を確認しました",
            ),
            NotConfirmed => (
                "not_confirmed",
                "the courier or clerk has not confirmed face and name",
                "担当者（配達員・窓口）による顔写真と氏名の確認がありません",
            ),
            Skipped => (
                "skipped",
                "not reached because an earlier step failed",
                "前の手順が失敗したため実施していません",
            ),
            WrongPin => (
                "wrong_pin",
                "the PIN or 照合番号B was wrong",
                "暗証番号または照合番号Bが違います",
            ),
            CardRemoved => (
                "card_removed",
                "the card left the reader; hold it still and check again",
                "カードが離れました。動かさずにもう一度確認してください",
            ),
            CardDataMalformed => (
                "card_data_malformed",
                "the card's data is not laid out as on a My Number Card (damaged or not genuine)",
                "カードのデータがマイナンバーカードの形式ではありません（破損または偽造）",
            ),
            CardRefusedCommand => (
                "card_refused_command",
                "the card refused a command a My Number Card accepts",
                "マイナンバーカードが受け付けるコマンドをカードが拒否しました",
            ),
            NotAMyNumberCard => (
                "not_a_my_number_card",
                "this card has no JPKI or card-face application: not a My Number Card",
                "マイナンバーカードではありません",
            ),
            MsoExpired => (
                "mso_expired",
                "the phone's signed document data has expired; the holder should refresh the wallet",
                "スマートフォンの署名済みデータの有効期限が切れています",
            ),
            MsoNotYetValid => (
                "mso_not_yet_valid",
                "the phone's signed document data is not valid yet (check the device clock)",
                "スマートフォンの署名済みデータの有効期間がまだ始まっていません",
            ),
            DocTypeMismatch => (
                "doc_type_mismatch",
                "the phone presented a different document type than the issuer signed or than was asked for",
                "スマートフォンが提示した書類の種類が署名済みの種類と一致しません",
            ),
            DeviceSignatureInvalid => (
                "device_signature_invalid",
                "the phone did not sign with the key the issuer bound to the document: the document was copied from another phone",
                "発行者が紐付けた鍵で署名されていません（別の端末からの複製）",
            ),
            ElementsMissing => (
                "elements_missing",
                "the phone did not return every item asked for",
                "スマートフォンが要求した項目をすべて返しませんでした",
            ),
            SessionMessageRejected => (
                "session_message_rejected",
                "the phone's message does not belong to this session (replayed or altered)",
                "スマートフォンの応答がこのセッションのものではありません（再送または改ざん）",
            ),
            SessionReplayed => (
                "session_replayed",
                "the phone repeated an earlier message of this session",
                "スマートフォンが同じ応答を繰り返しました",
            ),
            NotAnMdoc => (
                "not_an_mdoc",
                "no mobile ID (mdoc) answered on this device",
                "モバイル身分証（mdoc）が見つかりません",
            ),
        }
    }
}

/// The outcome of one check. `detail` is for people and never holds personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub check: CheckId,
    pub state: CheckState,
    pub reason: Reason,
    pub detail: String,
}

impl CheckResult {
    pub fn passed(check: CheckId, reason: Reason) -> Self {
        Self::new(check, CheckState::Passed, reason, String::new())
    }

    pub fn failed(check: CheckId, reason: Reason, detail: impl Into<String>) -> Self {
        Self::new(check, CheckState::Failed, reason, detail.into())
    }

    pub fn not_checked(check: CheckId, reason: Reason) -> Self {
        Self::new(check, CheckState::NotChecked, reason, String::new())
    }

    pub fn not_present(check: CheckId, reason: Reason) -> Self {
        Self::new(check, CheckState::NotPresent, reason, String::new())
    }

    pub fn new(check: CheckId, state: CheckState, reason: Reason, detail: String) -> Self {
        Self {
            check,
            state,
            reason,
            detail,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_unique_and_serialize_as_their_code() {
        let all = [
            Reason::Verified,
            Reason::SignatureInvalid,
            Reason::HashMismatch,
            Reason::UnknownIssuer,
            Reason::Expired,
            Reason::Revoked,
            Reason::NoRevocationList,
            Reason::PinGuardRefused,
            Reason::Skipped,
        ];
        let mut codes: Vec<_> = all.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        for reason in all {
            let json = serde_json::to_string(&reason).expect("serializes");
            assert_eq!(json, format!("\"{}\"", reason.code()));
            assert!(!reason.message_ja().is_empty());
        }
    }
}
