//! Verdicts on identifiers in their normal form, for the publish fast path.
//!
//! `true` means `govbus._identifiers` accepts the value too. `false` means "not sure": the
//! caller leaves the event to the Python checks, which decide and name the error. So these
//! only have to be exact in one direction, and they are: the same arithmetic on the same
//! characters, and the address codes are Python's own table (`address_code_spans`),
//! handed over once. "Not in the future" is judged against the day the table was handed
//! over: a later birth date is left to Python, which knows today.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const USCC_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_REGISTRATION_AUTHORITIES: &[u8] = b"123456789ANY";

/// GB 11643 without the address code: 17 digits, the ISO 7064 MOD 11-2 check character
/// (digit or capital X), a real birth date. Returns (address code, birth date) with the
/// date as the number `yyyymmdd`, so dates compare as numbers.
pub fn citizen_id_parts(number: &str) -> Option<(u32, u32)> {
    let bytes = number.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return None;
    }
    // stdnum: (1 - 2 * int(number[:17], 13)) % 11, 10 written as X.
    // 17 base-13 digits stay below 13^17 < 2^64: one remainder at the end.
    let mut value: u64 = 0;
    for digit in &bytes[..17] {
        value = value * 13 + u64::from(digit - b'0');
    }
    let checksum = (1 - 2 * (value % 11) as i64).rem_euclid(11);
    let expected = if checksum == 10 {
        b'X'
    } else {
        b'0' + checksum as u8
    };
    if bytes[17] != expected {
        return None;
    }
    let number_at = |from: usize, to: usize| -> i32 {
        bytes[from..to]
            .iter()
            .fold(0, |n, d| n * 10 + i32::from(d - b'0'))
    };
    let (year, month, day) = (number_at(6, 10), number_at(10, 12), number_at(12, 14));
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some((number_at(0, 6) as u32, number_at(6, 14) as u32))
}

/// When each address code was in force, and the last birth date vouched for.
pub struct CitizenIdRule {
    /// Address code -> (first year, last year) in force.
    spans: HashMap<u32, (u32, u32), BuildHasherDefault<SmallKeyHasher>>,
    /// `yyyymmdd` of the day the rule was made (today in China then).
    latest_birth: u32,
}

impl CitizenIdRule {
    pub fn new(spans: HashMap<u32, (u32, u32)>, today: (u32, u32, u32)) -> Self {
        let (year, month, day) = today;
        Self {
            spans: spans.into_iter().collect(),
            latest_birth: year * 10_000 + month * 100 + day,
        }
    }

    /// `_identifiers.is_valid_citizen_id` for a number in normal form, as of the day the
    /// rule was made: the address code in force at some time between the birth year and
    /// then, the birth date not after then.
    pub fn accepts(&self, number: &str) -> bool {
        let Some((code, birth)) = citizen_id_parts(number) else {
            return false;
        };
        if birth > self.latest_birth {
            return false;
        }
        match self.spans.get(&code) {
            Some(&(first, last)) => last >= birth / 10_000 && first <= self.latest_birth / 10_000,
            None => false,
        }
    }
}

/// A multiplicative hash for the address codes: they are our own table's keys, not
/// outside input, so SipHash's flood resistance buys nothing here.
#[derive(Default)]
pub struct SmallKeyHasher(u64);

impl Hasher for SmallKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

fn days_in_month(year: i32, month: i32) -> i32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// GB 32100 unified social credit code, exactly `_identifiers.is_valid_uscc`.
pub fn uscc_ok(code: &str) -> bool {
    let bytes = code.as_bytes();
    if bytes.len() != 18 {
        return false;
    }
    let mut indexes = [0u32; 18];
    for (slot, c) in indexes.iter_mut().zip(bytes) {
        match USCC_ALPHABET.iter().position(|a| a == c) {
            Some(index) => *slot = index as u32,
            None => return false,
        }
    }
    if !USCC_REGISTRATION_AUTHORITIES.contains(&bytes[0])
        || !bytes[2..8].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let mut weight = 1u32;
    let mut total = 0u32;
    for index in &indexes[..17] {
        total += index * weight;
        weight = weight * 3 % 31;
    }
    indexes[17] == (31 - total % 31) % 31
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citizen_ids() {
        assert_eq!(
            citizen_id_parts("11010519491231002X"),
            Some((110105, 19491231))
        );
        assert_eq!(citizen_id_parts("110105194912310021"), None);
        assert_eq!(citizen_id_parts("11010519490230002X"), None);
        assert_eq!(citizen_id_parts("11010519491231002x"), None);
    }

    fn rule() -> CitizenIdRule {
        // 110112: in force from 1997; 110103: until 2010.
        let spans = HashMap::from([(110112, (1997, 9999)), (110103, (0, 2010))]);
        CitizenIdRule::new(spans, (2020, 6, 15))
    }

    fn with_check(first17: &str) -> String {
        for check in "0123456789X".chars() {
            let number = format!("{first17}{check}");
            if citizen_id_parts(&number).is_some() {
                return number;
            }
        }
        unreachable!("one check character fits")
    }

    #[test]
    fn address_codes_in_force_after_the_birth_year() {
        let rule = rule();
        assert!(rule.accepts(&with_check("11011219880101001"))); // issued after 1997
        assert!(rule.accepts(&with_check("11010320100101001")));
        assert!(!rule.accepts(&with_check("11010320110101001"))); // retired in 2010
        assert!(!rule.accepts(&with_check("11010519880101001"))); // not in the table
        assert!(rule.accepts(&with_check("11011220200615001")));
        assert!(!rule.accepts(&with_check("11011220200616001"))); // after the rule's day
    }

    #[test]
    fn credit_codes() {
        assert!(uscc_ok("91110000600037341L"));
        assert!(!uscc_ok("91110000600037341M"));
        assert!(!uscc_ok("91110000600037341l"));
    }
}
