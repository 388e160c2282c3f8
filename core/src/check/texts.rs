//! What a courier reads after a phone check (level M).
//!
//! The verdict and reason texts were written for the card: "Genuine card of the addressee",
//! "the card left the reader", "the courier confirmed face and name". After a phone check those
//! words are wrong, and a courier who reads "card" while holding a phone is left wondering what
//! went wrong. [`Verdict::message_en_for`] and [`Reason::message_en_for`] (and their `_ja`
//! twins) give the phone's wording at level M and the card's unchanged at A, B and C; a reason
//! whose text names no credential (an unknown issuer, an expired document) is the same for both.

use super::verdict::{Level, Verdict};
use crate::verify::Reason;

impl Verdict {
    /// [`Verdict::message_en`], worded for the credential `level` checks.
    pub fn message_en_for(self, level: Level) -> &'static str {
        phone_verdict(self, level).map_or_else(|| self.message_en(), |(en, _)| en)
    }

    /// [`Verdict::message_ja`], worded for the credential `level` checks.
    pub fn message_ja_for(self, level: Level) -> &'static str {
        phone_verdict(self, level).map_or_else(|| self.message_ja(), |(_, ja)| ja)
    }
}

impl Reason {
    /// [`Reason::message_en`], worded for the credential `level` checks.
    pub fn message_en_for(self, level: Level) -> &'static str {
        phone_reason(self, level).map_or_else(|| self.message_en(), |(en, _)| en)
    }

    /// [`Reason::message_ja`], worded for the credential `level` checks.
    pub fn message_ja_for(self, level: Level) -> &'static str {
        phone_reason(self, level).map_or_else(|| self.message_ja(), |(_, ja)| ja)
    }
}

fn phone_verdict(verdict: Verdict, level: Level) -> Option<(&'static str, &'static str)> {
    if level != Level::M {
        return None;
    }
    Some(match verdict {
        Verdict::Genuine => (
            "Genuine My Number Card in the addressee's phone: hand over the item.",
            "受取人本人のスマートフォンの真正なマイナンバーカードです。お渡しください。",
        ),
        Verdict::Forged => (
            "FORGED phone credential: do not hand over the item.",
            "スマートフォンの身分証明は偽造です。お渡ししないでください。",
        ),
        // Names no credential.
        Verdict::Inconclusive => return None,
        // A phone check asks for no PIN; should it ever stop, it must not mention one.
        Verdict::Refused => (
            "Check stopped: no verdict on the phone; do not hand over the item.",
            "確認を中止しました。スマートフォンの判定はありません。お渡ししないでください。",
        ),
        Verdict::NotAddressee => (
            "The My Number Card in this phone is not the addressee's: do not hand over the item.",
            "このスマートフォンのマイナンバーカードは受取人本人のものではありません。お渡ししないでください。",
        ),
    })
}

fn phone_reason(reason: Reason, level: Level) -> Option<(&'static str, &'static str)> {
    if level != Level::M {
        return None;
    }
    Some(match reason {
        Reason::CardRemoved => (
            "the phone left the reader; hold it still and check again",
            "スマートフォンが離れました。動かさずにもう一度確認してください",
        ),
        Reason::CardDataMalformed => (
            "the phone's data is not laid out as ISO/IEC 18013-5 prescribes (damaged or not genuine)",
            "スマートフォンのデータがISO/IEC 18013-5の形式ではありません（破損または偽造）",
        ),
        Reason::CardRefusedCommand => (
            "the phone refused a command of the ISO/IEC 18013-5 data transfer",
            "スマートフォンがISO/IEC 18013-5のデータ転送コマンドを拒否しました",
        ),
        Reason::ConfirmedByCourier => (
            "the courier or clerk confirmed that the portrait shows the person",
            "担当者（配達員・窓口）が顔写真と本人を確認しました",
        ),
        Reason::RejectedByCourier => (
            "the courier or clerk found that the portrait does not show the person",
            "担当者（配達員・窓口）が顔写真と本人の不一致を確認しました",
        ),
        Reason::NotConfirmed => (
            "the courier or clerk has not confirmed the portrait",
            "担当者（配達員・窓口）による顔写真の確認がありません",
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD_LEVELS: [Level; 3] = [Level::A, Level::B, Level::C];
    const VERDICTS: [Verdict; 5] = [
        Verdict::Genuine,
        Verdict::Forged,
        Verdict::Inconclusive,
        Verdict::Refused,
        Verdict::NotAddressee,
    ];

    #[test]
    fn card_levels_keep_the_card_texts() {
        for level in CARD_LEVELS {
            for verdict in VERDICTS {
                assert_eq!(verdict.message_en_for(level), verdict.message_en());
                assert_eq!(verdict.message_ja_for(level), verdict.message_ja());
            }
            for reason in [
                Reason::CardRemoved,
                Reason::ConfirmedByCourier,
                Reason::UnknownIssuer,
            ] {
                assert_eq!(reason.message_en_for(level), reason.message_en());
                assert_eq!(reason.message_ja_for(level), reason.message_ja());
            }
        }
    }

    #[test]
    fn a_phone_check_never_says_card_where_it_means_the_phone() {
        for verdict in VERDICTS {
            let en = verdict.message_en_for(Level::M);
            let ja = verdict.message_ja_for(Level::M);
            assert!(
                !en.contains("card of") && !en.contains("FORGED card"),
                "{en}"
            );
            assert!(
                !ja.contains("カードです") || ja.contains("マイナンバーカード"),
                "{ja}"
            );
            assert!(!en.contains("PIN") && !ja.contains("暗証番号"), "{en} {ja}");
        }
        assert!(Verdict::Genuine.message_en_for(Level::M).contains("phone"));
        assert!(
            Verdict::Genuine
                .message_ja_for(Level::M)
                .contains("スマートフォン")
        );
        let removed = Reason::CardRemoved.message_en_for(Level::M);
        assert!(
            removed.contains("phone") && !removed.contains("card"),
            "{removed}"
        );
        assert!(
            Reason::CardRemoved
                .message_ja_for(Level::M)
                .contains("スマートフォン")
        );
        let confirmed = Reason::ConfirmedByCourier.message_en_for(Level::M);
        assert!(confirmed.contains("portrait"), "{confirmed}");
        // Texts that name no credential stay as they are.
        assert_eq!(
            Reason::UnknownIssuer.message_en_for(Level::M),
            Reason::UnknownIssuer.message_en()
        );
    }
}
