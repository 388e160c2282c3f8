//! The fictional card holder and the secrets of the test cards.
//!
//! Everything here is visibly made-up test data. The Individual Number exists only because the
//! software card is a card: a real card holds one in input-support EF 0001, and the tests assert
//! that honnin never asks for it.

/// Sex as the card and the signing certificate write it (JIS X 0303).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
    NotApplicable,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::NotApplicable => "9",
        }
    }
}

/// What the card says about its holder. Dates are `YYYYMMDD` (model v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// UTF-8, family and given name separated by an ideographic space (U+3000), as in the
    /// resident register.
    pub name: &'static str,
    pub address: &'static str,
    pub birth_date: &'static str,
    pub sex: Sex,
    /// Card expiry, printed on the card face and held in card-face `DF29`.
    pub card_expiry: &'static str,
    /// 4-digit security code printed on the card face (and imaged in `DF2A`).
    pub security_code: &'static str,
}

/// The holder of every test card unless a profile changes one field.
pub const TEST_HOLDER: Holder = Holder {
    name: "試験\u{3000}花子",
    address: "東京都千代田区試験町1-2-3",
    birth_date: "19900401",
    sex: Sex::Female,
    card_expiry: "20340401",
    security_code: "1234",
};

/// The user-authentication PIN (JPKI EF 0018), 4 digits.
pub const AUTH_PIN: &str = "2468";
/// The signing password (JPKI EF 001B), 6–16 of `A-Z0-9`.
pub const SIGN_PASSWORD: &str = "TESTPASS1";
/// The input-support PIN (EF 0011). Real cards are usually issued with the same 4 digits as the
/// authentication PIN, and the product asks the holder for one 4-digit PIN, so the test card does
/// the same.
pub const INPUT_SUPPORT_PIN: &str = AUTH_PIN;
/// The fictional Individual Number in input-support EF 0001 and card-face EF 0013 (照合番号A).
/// Not 12 digits on purpose: it must never be mistaken for, or validate as, a real number, and
/// it is easy to grep for in logs and records, where it must never appear.
pub const TEST_INDIVIDUAL_NUMBER: &str = "TEST00000000";

impl Holder {
    /// 照合番号B: birth date YYMMDD + card expiry year YYYY + security code.
    pub fn matching_number_b(&self) -> String {
        let birth = self.birth_date.get(2..8).unwrap_or_default();
        let expiry_year = self.card_expiry.get(..4).unwrap_or_default();
        format!("{birth}{expiry_year}{}", self.security_code)
    }

    /// The signing certificate's birth date: era digit followed by the Gregorian `YYYYMMDD`
    /// (1 明治, 2 大正, 3 昭和, 4 平成, 5 令和).
    pub fn jpki_birth_date(&self) -> String {
        let era = match self.birth_date {
            d if d >= "20190501" => '5',
            d if d >= "19890108" => '4',
            d if d >= "19261225" => '3',
            d if d >= "19120730" => '2',
            _ => '1',
        };
        format!("{era}{}", self.birth_date)
    }

    /// The JPKI "substitute characters" flags: one `0` per character, since none of the test
    /// names uses a character outside the certificate's repertoire.
    pub fn no_substitutes(text: &str) -> String {
        "0".repeat(text.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_number_b_is_birth_expiry_year_and_code() {
        assert_eq!(TEST_HOLDER.matching_number_b(), "90040120341234");
        assert_eq!(TEST_HOLDER.matching_number_b().len(), 14);
    }

    #[test]
    fn birth_date_carries_the_heisei_era_digit() {
        assert_eq!(TEST_HOLDER.jpki_birth_date(), "419900401");
        let showa = Holder {
            birth_date: "19800217",
            ..TEST_HOLDER
        };
        assert_eq!(showa.jpki_birth_date(), "319800217");
    }

    #[test]
    fn secrets_have_the_card_formats() {
        assert_eq!(AUTH_PIN.len(), 4);
        assert!(SIGN_PASSWORD.len() >= 6 && SIGN_PASSWORD.len() <= 16);
        assert!(
            SIGN_PASSWORD
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert!(!TEST_INDIVIDUAL_NUMBER.bytes().all(|b| b.is_ascii_digit()));
    }
}
