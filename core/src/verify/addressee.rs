//! Matching the holder's attributes with the addressee printed on the parcel.
//!
//! Both sides are normalised the same way: NFKC (full-width letters and digits, half-width kana
//! and compatibility ideographs fold to one form), white space of every width removed, Latin
//! letters case-folded, and in addresses the many dash characters between numbers
//! (‐ ‑ ‒ – — ― − － ー) read as one hyphen. Everything else must match exactly: 髙 and 高 are
//! different characters on a card, and deciding that they are the same person is the courier's
//! call, not the software's.

use unicode_normalization::UnicodeNormalization;

use super::check::{CheckId, CheckResult, Reason};
use crate::card::CalendarDate;

/// The addressee as the sender registered it.
#[derive(Clone, PartialEq, Eq)]
pub struct Addressee {
    pub name: String,
    pub address: Option<String>,
    pub birth_date: Option<CalendarDate>,
}

impl std::fmt::Debug for Addressee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Addressee(redacted)")
    }
}

/// The holder's attributes as read and verified from the card.
pub struct HolderAttributes<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub birth_date: CalendarDate,
}

fn normalise_name(text: &str) -> String {
    text.nfkc()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FF0D}' | '\u{30FC}' | '\u{FF70}'
    )
}

fn normalise_address(text: &str) -> String {
    let folded: Vec<char> = text
        .nfkc()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    // A dash between two digits is a separator, whatever its code point; ー elsewhere is a
    // long vowel mark and stays.
    folded
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let between_digits = i > 0
                && folded[i - 1].is_ascii_digit()
                && folded.get(i + 1).is_some_and(char::is_ascii_digit);
            if is_dash(*c) && between_digits {
                '-'
            } else {
                *c
            }
        })
        .collect()
}

/// Compares the holder with the addressee, reporting the first field that differs. Fields the
/// sender did not register are not compared.
pub fn match_addressee(
    addressee: Option<&Addressee>,
    holder: &HolderAttributes<'_>,
) -> CheckResult {
    let Some(addressee) = addressee else {
        return CheckResult::not_checked(CheckId::AddresseeMatch, Reason::NoAddresseeGiven);
    };
    if normalise_name(&addressee.name) != normalise_name(holder.name) {
        return CheckResult::failed(CheckId::AddresseeMatch, Reason::NameMismatch, "field: name");
    }
    if let Some(address) = &addressee.address
        && normalise_address(address) != normalise_address(holder.address)
    {
        return CheckResult::failed(
            CheckId::AddresseeMatch,
            Reason::AddressMismatch,
            "field: address",
        );
    }
    if let Some(birth_date) = addressee.birth_date
        && birth_date != holder.birth_date
    {
        return CheckResult::failed(
            CheckId::AddresseeMatch,
            Reason::BirthDateMismatch,
            "field: birth_date",
        );
    }
    CheckResult::passed(CheckId::AddresseeMatch, Reason::Verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::CheckState;

    fn holder() -> HolderAttributes<'static> {
        HolderAttributes {
            name: "試験　花子",
            address: "東京都千代田区試験町１丁目２－３",
            birth_date: CalendarDate::new(1990, 4, 1).expect("date"),
        }
    }

    fn addressee(name: &str, address: Option<&str>) -> Addressee {
        Addressee {
            name: name.into(),
            address: address.map(str::to_owned),
            birth_date: None,
        }
    }

    #[test]
    fn width_and_spaces_do_not_matter() {
        let a = addressee("試験 花子", Some("東京都千代田区試験町1丁目2-3"));
        let result = match_addressee(Some(&a), &holder());
        assert_eq!(result.state, CheckState::Passed, "{result:?}");
    }

    #[test]
    fn half_width_kana_and_latin_case_fold() {
        assert_eq!(normalise_name("ｼｹﾝ ﾊﾅｺ"), normalise_name("シケン　ハナコ"));
        assert_eq!(
            normalise_name("HANAKO Shiken"),
            normalise_name("hanako shiken")
        );
        // ー in a name is a long vowel, not a dash.
        assert_ne!(normalise_address("ローマ"), normalise_address("ロ-マ"));
    }

    #[test]
    fn different_name_is_reported_as_the_name() {
        let result = match_addressee(Some(&addressee("試験 太郎", None)), &holder());
        assert_eq!(result.state, CheckState::Failed);
        assert_eq!(result.reason, Reason::NameMismatch);
    }

    #[test]
    fn variant_ideographs_are_not_folded() {
        let result = match_addressee(
            Some(&addressee("髙試験 花子", None)),
            &HolderAttributes {
                name: "高試験 花子",
                ..holder()
            },
        );
        assert_eq!(result.reason, Reason::NameMismatch);
    }

    #[test]
    fn different_address_and_birth_date_are_reported() {
        let result = match_addressee(
            Some(&addressee("試験花子", Some("東京都千代田区試験町1丁目2-4"))),
            &holder(),
        );
        assert_eq!(result.reason, Reason::AddressMismatch);
        let mut a = addressee("試験花子", None);
        a.birth_date = CalendarDate::new(1990, 4, 2);
        assert_eq!(
            match_addressee(Some(&a), &holder()).reason,
            Reason::BirthDateMismatch
        );
    }

    #[test]
    fn no_addressee_is_not_checked() {
        let result = match_addressee(None, &holder());
        assert_eq!(result.state, CheckState::NotChecked);
    }
}
