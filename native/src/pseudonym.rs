//! Record-key pseudonyms: the first 16 bytes of HMAC-SHA256(key, value), in hex.
//!
//! Same output as `govbus._identifiers.pseudonymize`; the keyed state is built once.

use hmac::{Hmac, Mac};
use pyo3::prelude::*;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const HEX: &[u8; 16] = b"0123456789abcdef";

#[pyclass(frozen, module = "govbus_native")]
pub struct Pseudonymizer {
    keyed: HmacSha256,
}

#[pymethods]
impl Pseudonymizer {
    #[new]
    fn new(key: &[u8]) -> PyResult<Self> {
        // HMAC takes keys of any length (long ones are hashed first, per RFC 2104).
        let keyed = HmacSha256::new_from_slice(key)
            .map_err(|_| pyo3::exceptions::PyValueError::new_err("invalid pseudonym key"))?;
        Ok(Self { keyed })
    }

    /// The pseudonym of `value` (32 lowercase hex digits).
    fn __call__(&self, value: &str) -> String {
        self.pseudonym(value)
    }

    /// The pseudonym as ASCII bytes, ready to be a Kafka key.
    fn key_bytes<'py>(&self, py: Python<'py>, value: &str) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, self.pseudonym(value).as_bytes())
    }
}

impl Pseudonymizer {
    pub fn pseudonym(&self, value: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(32);
        for byte in &digest[..16] {
            out.push(HEX[(byte >> 4) as usize] as char);
            out.push(HEX[(byte & 0x0f) as usize] as char);
        }
        out
    }
}
