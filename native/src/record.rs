//! A change event to the parts of its Kafka record in one call: event id, key, value,
//! CloudEvents headers and size. The counterpart of `Publisher._encode`'s Python path
//! (`Contract.encode`, `Contract.record_key`, `cloudevent_headers`), with the same output.
//!
//! The header order and constant values come from Python (`_envelope.header_template`);
//! the template's empty slots are filled per event: `ce_id`, `ce_time`, `ce_subject`.

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDateAccess, PyDict, PyList, PyString, PyTimeAccess, PyTuple};

use crate::avro::{aware_datetime, canonical_uuid, instance_dict, AvroEncoder, Known};
use crate::pseudonym::Pseudonymizer;

/// A header name, with its length in bytes (counted in the record size).
struct Name {
    text: Py<PyString>,
    len: usize,
}

enum Slot {
    Constant(Py<PyTuple>),
    EventId(Name),
    Time(Name),
    Subject(Name),
}

thread_local! {
    /// The Avro body is encoded here, then copied once into its bytes object.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(1024));
}

#[pyclass(frozen, module = "govbus_native")]
pub struct RecordMaker {
    encoder: Py<AvroEncoder>,
    prefix: Vec<u8>,
    pseudonymizer: Option<Py<Pseudonymizer>>,
    template: Vec<Slot>,
    constant_size: usize,
    known: Known,
}

#[pymethods]
impl RecordMaker {
    /// `template`: (name, value) pairs in header order, value None for a per-event slot.
    #[new]
    #[pyo3(signature = (encoder, prefix, pseudonymizer, template))]
    fn new(
        encoder: Py<AvroEncoder>,
        prefix: &[u8],
        pseudonymizer: Option<Py<Pseudonymizer>>,
        template: &Bound<'_, PyList>,
    ) -> PyResult<Self> {
        let py = template.py();
        let mut slots = Vec::new();
        let mut constant_size = 0;
        for entry in template.iter() {
            let (name, value): (Bound<'_, PyString>, Option<Bound<'_, PyBytes>>) =
                entry.extract()?;
            let name_text = name.to_str()?.to_owned();
            slots.push(match (name_text.as_str(), value) {
                (_, Some(bytes)) => {
                    constant_size += name_text.len() + bytes.as_bytes().len();
                    Slot::Constant(PyTuple::new(py, [name.into_any(), bytes.into_any()])?.unbind())
                }
                ("ce_id", None) => Slot::EventId(Name {
                    len: name_text.len(),
                    text: name.unbind(),
                }),
                ("ce_time", None) => Slot::Time(Name {
                    len: name_text.len(),
                    text: name.unbind(),
                }),
                ("ce_subject", None) => Slot::Subject(Name {
                    len: name_text.len(),
                    text: name.unbind(),
                }),
                (other, None) => {
                    return Err(PyValueError::new_err(format!(
                        "no per-event value for {other}"
                    )))
                }
            });
        }
        Ok(Self {
            encoder,
            prefix: prefix.to_vec(),
            pseudonymizer,
            template: slots,
            constant_size,
            known: Known::look_up(py)?,
        })
    }

    /// (event id, key, value, headers, size) of one event's record.
    #[pyo3(signature = (event, traceparent=None))]
    fn make<'py>(
        &self,
        event: &Bound<'py, PyAny>,
        traceparent: Option<&Bound<'py, PyString>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let py = event.py();
        let fields = instance_dict(event)?;
        let parts = self.make_parts(&fields, &Envelope::read(&fields)?, traceparent)?;
        PyTuple::new(
            py,
            [
                parts.event_id_text()?.into_any(),
                parts.key.into_any(),
                parts.value.into_any(),
                parts.headers.into_any(),
                parts.size.into_pyobject(py)?.into_any(),
            ],
        )
    }
}

/// The parts of one event's Kafka record.
pub struct Parts<'py> {
    /// The canonical event id, ASCII.
    pub event_id: Bound<'py, PyBytes>,
    pub key: Bound<'py, PyBytes>,
    pub value: Bound<'py, PyBytes>,
    pub headers: Bound<'py, PyList>,
    pub size: usize,
    /// No string of the event holds a NUL (see `AvroEncoder::write_value_storable`).
    pub text_storable: bool,
}

/// The envelope fields of a change event's `__dict__`, read in one pass.
pub struct Envelope<'py> {
    pub event_id: Option<Bound<'py, PyAny>>,
    pub entity_key: Option<Bound<'py, PyAny>>,
    pub source_department: Option<Bound<'py, PyAny>>,
    pub occurred_at: Option<Bound<'py, PyAny>>,
    pub operation: Option<Bound<'py, PyAny>>,
    pub changed_fields: Option<Bound<'py, PyAny>>,
}

impl<'py> Envelope<'py> {
    /// A model's `__dict__` starts with the envelope, keyed by interned names: one walk
    /// with pointer comparisons instead of a hash lookup per field (lookups as fallback).
    pub fn read(fields: &Bound<'py, PyDict>) -> PyResult<Self> {
        let py = fields.py();
        let names = [
            intern!(py, "event_id"),
            intern!(py, "entity_key"),
            intern!(py, "source_department"),
            intern!(py, "occurred_at"),
            intern!(py, "operation"),
            intern!(py, "changed_fields"),
        ];
        let mut found: [Option<Bound<'py, PyAny>>; 6] = Default::default();
        for (key, value) in fields.iter().take(8) {
            if let Some(slot) = names.iter().position(|name| key.is(*name)) {
                found[slot] = Some(value);
            }
        }
        for (slot, name) in found.iter_mut().zip(names) {
            if slot.is_none() {
                *slot = fields.get_item(name)?;
            }
        }
        let [event_id, entity_key, source_department, occurred_at, operation, changed_fields] =
            found;
        Ok(Self {
            event_id,
            entity_key,
            source_department,
            occurred_at,
            operation,
            changed_fields,
        })
    }
}

fn required<'a, 'py>(
    value: &'a Option<Bound<'py, PyAny>>,
    name: &str,
) -> PyResult<&'a Bound<'py, PyAny>> {
    value
        .as_ref()
        .ok_or_else(|| PyValueError::new_err(format!("event has no {name}")))
}

impl<'py> Parts<'py> {
    pub fn event_id_text(&self) -> PyResult<Bound<'py, PyString>> {
        let text = std::str::from_utf8(self.event_id.as_bytes())
            .map_err(|_| PyValueError::new_err("event id is not UTF-8"))?;
        Ok(PyString::new(self.event_id.py(), text))
    }
}

impl RecordMaker {
    /// The record of the event whose fields (its `__dict__`) are `fields`.
    pub fn make_parts<'py>(
        &self,
        fields: &Bound<'py, PyDict>,
        envelope: &Envelope<'py>,
        traceparent: Option<&Bound<'py, PyString>>,
    ) -> PyResult<Parts<'py>> {
        let py = fields.py();

        let id_value = required(&envelope.event_id, "event_id")?;
        let event_id = if id_value.get_type().is(self.known.uuid_type.bind(py)) {
            let number: u128 = id_value.getattr(intern!(py, "int"))?.extract()?;
            PyBytes::new(py, &canonical_uuid(number))
        } else {
            PyBytes::new(py, id_value.str()?.to_str()?.as_bytes())
        };

        let entity_key = required(&envelope.entity_key, "entity_key")?;
        let entity_key = entity_key.cast::<PyString>()?.to_str()?;
        let key = match &self.pseudonymizer {
            Some(pseudonymizer) => {
                PyBytes::new(py, pseudonymizer.get().pseudonym(entity_key).as_bytes())
            }
            None => PyBytes::new(py, entity_key.as_bytes()),
        };

        let encode = |buffer: &mut Vec<u8>| -> PyResult<(Bound<'py, PyBytes>, bool)> {
            buffer.clear();
            buffer.extend_from_slice(&self.prefix);
            let storable = self.encoder.get().write_value_storable(fields, buffer)?;
            Ok((PyBytes::new(py, buffer), storable))
        };
        // A logical-type converter could call back into an encoder: then a fresh buffer.
        let (value, text_storable) = SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut buffer) => encode(&mut buffer),
            Err(_) => encode(&mut Vec::with_capacity(1024)),
        })?;

        let mut size = key.as_bytes().len() + value.as_bytes().len() + self.constant_size;
        let mut headers: Vec<Bound<'py, PyAny>> = Vec::with_capacity(self.template.len() + 1);
        for slot in &self.template {
            let (name, bytes) = match slot {
                Slot::Constant(pair) => {
                    headers.push(pair.bind(py).clone().into_any());
                    continue;
                }
                Slot::EventId(name) => (name, event_id.clone()),
                Slot::Subject(name) => (name, key.clone()),
                Slot::Time(name) => {
                    let moment = required(&envelope.occurred_at, "occurred_at")?;
                    let text = match self.isoformat(moment)? {
                        Some(text) => text,
                        None => moment
                            .call_method0(intern!(py, "isoformat"))?
                            .extract::<String>()?,
                    };
                    (name, PyBytes::new(py, text.as_bytes()))
                }
            };
            size += name.len + bytes.as_bytes().len();
            headers.push(
                PyTuple::new(
                    py,
                    [name.text.bind(py).clone().into_any(), bytes.into_any()],
                )?
                .into_any(),
            );
        }
        if let Some(parent) = traceparent {
            let text = parent.to_str()?;
            if !text.is_empty() {
                size += "traceparent".len() + text.len();
                headers.push(
                    PyTuple::new(
                        py,
                        [
                            intern!(py, "traceparent").clone().into_any(),
                            PyBytes::new(py, text.as_bytes()).into_any(),
                        ],
                    )?
                    .into_any(),
                );
            }
        }
        Ok(Parts {
            event_id,
            key,
            value,
            headers: PyList::new(py, headers)?,
            size,
            text_storable,
        })
    }

    /// `datetime.isoformat()` of an aware datetime (exact type); None for anything else.
    fn isoformat(&self, value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
        let Some((moment, offset_micros)) = aware_datetime(value, &self.known)? else {
            return Ok(None);
        };
        let mut text = String::with_capacity(32);
        push_digits(&mut text, moment.get_year() as u32, 4);
        text.push('-');
        push_digits(&mut text, u32::from(moment.get_month()), 2);
        text.push('-');
        push_digits(&mut text, u32::from(moment.get_day()), 2);
        text.push('T');
        push_digits(&mut text, u32::from(moment.get_hour()), 2);
        text.push(':');
        push_digits(&mut text, u32::from(moment.get_minute()), 2);
        text.push(':');
        push_digits(&mut text, u32::from(moment.get_second()), 2);
        if moment.get_microsecond() != 0 {
            text.push('.');
            push_digits(&mut text, moment.get_microsecond(), 6);
        }
        // CPython's format_utcoffset: sign, then HH:MM[:SS[.ffffff]] of the magnitude.
        let sign = if offset_micros < 0 { '-' } else { '+' };
        let micros = offset_micros.abs();
        let (seconds, fraction) = (micros / 1_000_000, micros % 1_000_000);
        text.push_str(&format!(
            "{sign}{:02}:{:02}",
            seconds / 3600,
            seconds % 3600 / 60
        ));
        if seconds % 60 != 0 || fraction != 0 {
            text.push_str(&format!(":{:02}", seconds % 60));
            if fraction != 0 {
                text.push_str(&format!(".{fraction:06}"));
            }
        }
        Ok(Some(text))
    }
}

/// `n` in decimal, zero-padded to at least `width` digits.
fn push_digits(text: &mut String, n: u32, width: usize) {
    if width == 2 && n < 100 {
        text.push((b'0' + (n / 10) as u8) as char);
        text.push((b'0' + (n % 10) as u8) as char);
        return;
    }
    let mut digits = [b'0'; 10];
    let mut rest = n;
    let mut used = 0;
    while rest > 0 || used == 0 {
        digits[9 - used] = b'0' + (rest % 10) as u8;
        rest /= 10;
        used += 1;
    }
    for _ in used..width {
        text.push('0');
    }
    for digit in &digits[10 - used..] {
        text.push(*digit as char);
    }
}
