//! Verdicts on identifiers in their normal form, for the publish fast path.
//!
//! `true` means `govbus._identifiers` accepts the value too. `false` means "not sure": the
//! caller leaves the event to the Python checks, which decide and name the error. So these
//! only have to be exact in one direction, and they are: the same arithmetic on the same
//! characters, and the birth-place lookup is Python's own (`known_birth_place`), cached.

const USCC_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_REGISTRATION_AUTHORITIES: &[u8] = b"123456789ANY";

/// GB 11643 without the birth-place lookup: 17 digits, the ISO 7064 MOD 11-2 check
/// character (digit or capital X), a real birth date. Returns (area code, birth year).
pub fn citizen_id_parts(number: &str) -> Option<(u32, i32)> {
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
    Some((number_at(0, 6) as u32, year))
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
        assert_eq!(citizen_id_parts("11010519491231002X"), Some((110105, 1949)));
        assert_eq!(citizen_id_parts("110105194912310021"), None);
        assert_eq!(citizen_id_parts("11010519490230002X"), None);
        assert_eq!(citizen_id_parts("11010519491231002x"), None);
    }

    #[test]
    fn credit_codes() {
        assert!(uscc_ok("91110000600037341L"));
        assert!(!uscc_ok("91110000600037341M"));
        assert!(!uscc_ok("91110000600037341l"));
    }
}
