//! Native hot paths of govbus, loaded by `govbus/_native.py` when built.
//!
//! Each piece gives exactly the result of the Python code it replaces (the Python tests
//! compare them byte for byte); anything outside what it covers is refused at build time
//! so that the Python path keeps it.

use pyo3::prelude::*;

mod avro;
mod identifiers;
mod pseudonym;
mod publish;
mod record;
mod store_rows;

#[pymodule]
fn govbus_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<avro::AvroEncoder>()?;
    m.add_class::<pseudonym::Pseudonymizer>()?;
    m.add_class::<record::RecordMaker>()?;
    m.add_class::<publish::FastPath>()?;
    m.add_class::<publish::BatchTracker>()?;
    m.add_function(wrap_pyfunction!(store_rows::scan_batch, m)?)?;
    m.add_function(wrap_pyfunction!(store_rows::copy_rows, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
