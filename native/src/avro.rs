//! Avro binary encoding of records, compiled once per schema.
//!
//! The counterpart of `govbus/_avro_writer.py`, with the same coverage and the same
//! bytes (fastavro's): records, `["null", T]` unions, null, boolean, int, long, string,
//! bytes, enum, array and map, and logical types through fastavro's own converters.
//! Dates and aware datetimes are converted here, which is where the time goes; any other
//! value of a logical type goes through the converter, so the result is always
//! fastavro's. A construct outside that set raises NotImplementedError when the encoder
//! is built, and the caller keeps its Python writer for that schema.
//!
//! Two inputs beyond what the Python writer takes, so that a change-event model can be
//! encoded without building its Avro dict first: a record may be any object whose
//! `__dict__` holds its fields (a pydantic model), a `uuid.UUID` is written as its
//! canonical string, and an array may be a tuple.
//!
//! `write_value_storable` also says whether every string written is free of NUL
//! characters, which the base store's text cannot hold: the publisher's fast path only
//! vouches for events whose text is storable (lone surrogates fail `to_str` anyway).

use std::cell::Cell;

use pyo3::exceptions::{PyKeyError, PyNotImplementedError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{
    PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyDict, PyInt,
    PyList, PyString, PyTimeAccess, PyTuple, PyType, PyTzInfoAccess,
};

/// A logical type's fastavro converter and the schema it is called with.
struct Converter {
    function: Py<PyAny>,
    schema: Py<PyAny>,
}

struct Field {
    name: Py<PyString>,
    default: Py<PyAny>,
    /// No default and not nullable: a missing value is an error, not a null.
    required: bool,
    node: Node,
}

enum Node {
    Null,
    Boolean,
    Int,
    Long,
    String,
    Bytes,
    Enum(Vec<String>),
    Array(Box<Node>),
    Map(Box<Node>),
    Record(Vec<Field>),
    Nullable {
        null_first: bool,
        inner: Box<Node>,
    },
    Date(Converter),
    TimestampMicros(Converter),
    Logical {
        convert: Converter,
        inner: Box<Node>,
    },
}

fn unsupported(what: String) -> PyErr {
    PyNotImplementedError::new_err(what)
}

const PRIMITIVES: [&str; 6] = ["null", "boolean", "int", "long", "bytes", "string"];

fn primitive(kind: &str) -> Option<Node> {
    Some(match kind {
        "null" => Node::Null,
        "boolean" => Node::Boolean,
        "int" => Node::Int,
        "long" => Node::Long,
        "bytes" => Node::Bytes,
        "string" => Node::String,
        _ => return None,
    })
}

/// Walks a schema's JSON definition once, as `_avro_writer._Source.write` does.
fn build(schema: &Bound<'_, PyAny>, logical_writers: &Bound<'_, PyDict>) -> PyResult<Node> {
    if let Ok(branches) = schema.cast::<PyList>() {
        return build_union(branches, logical_writers);
    }
    if let Ok(name) = schema.cast::<PyString>() {
        let kind = name.to_str()?;
        return primitive(kind).ok_or_else(|| unsupported(format!("type {kind}")));
    }
    let definition = schema
        .cast::<PyDict>()
        .map_err(|_| unsupported("schema that is not a name, list or object".into()))?;
    let kind_obj = definition
        .get_item("type")?
        .ok_or_else(|| unsupported("schema object without a type".into()))?;
    let kind: String = kind_obj
        .extract()
        .map_err(|_| unsupported("nested type definition".into()))?;
    if let Some(logical) = definition.get_item("logicalType")? {
        if !logical.is_none() {
            let logical: String = logical.extract()?;
            if let Some(function) = logical_writers.get_item(format!("{kind}-{logical}"))? {
                return build_logical(definition, &kind, &logical, function);
            }
        }
    }
    if PRIMITIVES.contains(&kind.as_str()) {
        return Ok(primitive(&kind).expect("a primitive"));
    }
    match kind.as_str() {
        "record" => build_record(definition, logical_writers),
        "enum" => {
            let symbols: Vec<String> = definition
                .get_item("symbols")?
                .ok_or_else(|| PyKeyError::new_err("symbols"))?
                .extract()?;
            Ok(Node::Enum(symbols))
        }
        "array" => {
            let items = definition
                .get_item("items")?
                .ok_or_else(|| PyKeyError::new_err("items"))?;
            Ok(Node::Array(Box::new(build(&items, logical_writers)?)))
        }
        "map" => {
            let values = definition
                .get_item("values")?
                .ok_or_else(|| PyKeyError::new_err("values"))?;
            Ok(Node::Map(Box::new(build(&values, logical_writers)?)))
        }
        other => Err(unsupported(format!("type {other}"))),
    }
}

fn build_union(
    branches: &Bound<'_, PyList>,
    logical_writers: &Bound<'_, PyDict>,
) -> PyResult<Node> {
    let is_null =
        |b: &Bound<'_, PyAny>| b.extract::<String>().map(|s| s == "null").unwrap_or(false);
    if branches.len() != 2 {
        return Err(unsupported("union other than null and one type".into()));
    }
    let first = branches.get_item(0)?;
    let second = branches.get_item(1)?;
    let (null_first, other) = match (is_null(&first), is_null(&second)) {
        (true, false) => (true, second),
        (false, true) => (false, first),
        _ => return Err(unsupported("union other than null and one type".into())),
    };
    Ok(Node::Nullable {
        null_first,
        inner: Box::new(build(&other, logical_writers)?),
    })
}

fn build_logical(
    definition: &Bound<'_, PyDict>,
    kind: &str,
    logical: &str,
    function: Bound<'_, PyAny>,
) -> PyResult<Node> {
    let inner =
        primitive(kind).ok_or_else(|| unsupported(format!("logical type {logical} on {kind}")))?;
    let convert = Converter {
        function: function.unbind(),
        schema: definition.clone().into_any().unbind(),
    };
    Ok(match (kind, logical) {
        ("int", "date") => Node::Date(convert),
        ("long", "timestamp-micros") => Node::TimestampMicros(convert),
        _ => Node::Logical {
            convert,
            inner: Box::new(inner),
        },
    })
}

fn build_record(
    definition: &Bound<'_, PyDict>,
    logical_writers: &Bound<'_, PyDict>,
) -> PyResult<Node> {
    let py = definition.py();
    let fields_obj = definition
        .get_item("fields")?
        .ok_or_else(|| PyKeyError::new_err("fields"))?;
    let mut fields = Vec::new();
    for field_obj in fields_obj.try_iter()? {
        let field_obj = field_obj?;
        let field = field_obj.cast::<PyDict>()?;
        let name: String = field
            .get_item("name")?
            .ok_or_else(|| PyKeyError::new_err("name"))?
            .extract()?;
        let field_type = field
            .get_item("type")?
            .ok_or_else(|| PyKeyError::new_err("type"))?;
        let nullable = match field_type.cast::<PyList>() {
            Ok(branches) => branches
                .iter()
                .any(|b| b.extract::<String>().map(|s| s == "null").unwrap_or(false)),
            Err(_) => false,
        };
        let default = field.get_item("default")?;
        fields.push(Field {
            name: PyString::intern(py, &name).unbind(),
            required: default.is_none() && !nullable,
            default: default.map_or_else(|| py.None(), |d| d.unbind()),
            node: build(&field_type, logical_writers)?,
        });
    }
    Ok(Node::Record(fields))
}

fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n > 0x7f {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

thread_local! {
    /// Set when a string written since the last `write_value_storable` holds a NUL.
    static WROTE_NUL: Cell<bool> = const { Cell::new(false) };
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    if text.as_bytes().contains(&0) {
        WROTE_NUL.with(|wrote| wrote.set(true));
    }
    write_blob(out, text.as_bytes());
}

fn write_blob(out: &mut Vec<u8>, blob: &[u8]) {
    write_long(out, blob.len() as i64);
    out.extend_from_slice(blob);
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `str(uuid.UUID(int=value))`: 8-4-4-4-12 lowercase hex digits.
pub fn canonical_uuid(value: u128) -> [u8; 36] {
    let mut text = [b'-'; 36];
    let mut position = 0;
    for nibble in (0..32).rev() {
        if matches!(position, 8 | 13 | 18 | 23) {
            position += 1;
        }
        text[position] = HEX[((value >> (nibble * 4)) & 0xf) as usize];
        position += 1;
    }
    text
}

/// Python objects the encoders compare against, looked up once.
pub struct Known {
    pub uuid_type: Py<PyType>,
    pub utc: Py<PyAny>,
}

impl Known {
    pub fn look_up(py: Python<'_>) -> PyResult<Self> {
        Ok(Self {
            uuid_type: py
                .import("uuid")?
                .getattr("UUID")?
                .cast_into::<PyType>()?
                .unbind(),
            utc: py
                .import("datetime")?
                .getattr("timezone")?
                .getattr("utc")?
                .unbind(),
        })
    }
}

#[pyclass(frozen, module = "govbus_native")]
pub struct AvroEncoder {
    root: Node,
    known: Known,
}

#[pymethods]
impl AvroEncoder {
    /// `schema`: the JSON definition; `logical_writers`: fastavro's `LOGICAL_WRITERS`.
    #[new]
    fn new(schema: &Bound<'_, PyAny>, logical_writers: &Bound<'_, PyDict>) -> PyResult<Self> {
        Ok(Self {
            root: build(schema, logical_writers)?,
            known: Known::look_up(schema.py())?,
        })
    }

    /// `prefix` (the wire header) followed by the Avro encoding of `value`.
    fn encode<'py>(
        &self,
        value: &Bound<'py, PyAny>,
        prefix: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(prefix);
        self.write_value(value, &mut out)?;
        Ok(PyBytes::new(value.py(), &out))
    }
}

impl AvroEncoder {
    /// Appends the encoding of `value` (no prefix) to `out`.
    pub fn write_value(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        self.write(&self.root, value, out)
    }

    /// `write_value`, and whether no string written (map keys included) holds a NUL.
    pub fn write_value_storable(
        &self,
        value: &Bound<'_, PyAny>,
        out: &mut Vec<u8>,
    ) -> PyResult<bool> {
        // Saved and restored: a logical-type converter could encode with another encoder.
        let outer = WROTE_NUL.with(|wrote| wrote.replace(false));
        let written = self.write(&self.root, value, out);
        let wrote_nul = WROTE_NUL.with(|wrote| wrote.replace(outer));
        written.map(|()| !wrote_nul)
    }

    fn write(&self, node: &Node, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        match node {
            Node::Null => {
                if !value.is_none() {
                    return Err(PyTypeError::new_err("Avro null needs None"));
                }
            }
            Node::Boolean => {
                let py = value.py();
                if value.is(&*pyo3::types::PyBool::new(py, true)) {
                    out.push(1);
                } else if value.is(&*pyo3::types::PyBool::new(py, false)) {
                    out.push(0);
                } else {
                    return Err(PyTypeError::new_err("Avro boolean needs a bool value"));
                }
            }
            Node::Int => write_integer(value, out, i32::MIN as i128, i32::MAX as i128, "int")?,
            Node::Long => write_integer(value, out, i64::MIN as i128, i64::MAX as i128, "long")?,
            Node::String => self.write_string(value, out)?,
            Node::Bytes => {
                if let Ok(bytes) = value.cast::<PyBytes>() {
                    write_blob(out, bytes.as_bytes());
                } else if let Ok(array) = value.cast::<PyByteArray>() {
                    write_blob(out, &array.to_vec());
                } else {
                    return Err(PyTypeError::new_err("Avro bytes need a bytes value"));
                }
            }
            Node::Enum(symbols) => {
                let symbol = value
                    .cast::<PyString>()
                    .map_err(|_| PyKeyError::new_err("enum symbol"))?
                    .to_str()?;
                let index = symbols
                    .iter()
                    .position(|s| s == symbol)
                    .ok_or_else(|| PyKeyError::new_err("enum symbol"))?;
                write_long(out, index as i64);
            }
            Node::Array(items) => {
                if let Ok(list) = value.cast::<PyList>() {
                    if !list.is_empty() {
                        write_long(out, list.len() as i64);
                        for item in list.iter() {
                            self.write(items, &item, out)?;
                        }
                    }
                } else if let Ok(tuple) = value.cast::<PyTuple>() {
                    if !tuple.is_empty() {
                        write_long(out, tuple.len() as i64);
                        for item in tuple.iter() {
                            self.write(items, &item, out)?;
                        }
                    }
                } else {
                    return Err(PyTypeError::new_err("Avro array needs a list or tuple"));
                }
                out.push(0);
            }
            Node::Map(values) => {
                let map = value
                    .cast::<PyDict>()
                    .map_err(|_| PyTypeError::new_err("Avro map needs a dict"))?;
                if !map.is_empty() {
                    write_long(out, map.len() as i64);
                    for (key, item) in map.iter() {
                        let key = key
                            .cast::<PyString>()
                            .map_err(|_| PyTypeError::new_err("Avro map keys must be str"))?;
                        write_text(out, key.to_str()?);
                        self.write(values, &item, out)?;
                    }
                }
                out.push(0);
            }
            Node::Record(fields) => self.write_record(fields, value, out)?,
            Node::Nullable { null_first, inner } => {
                if value.is_none() {
                    out.push(if *null_first { 0 } else { 2 });
                } else {
                    out.push(if *null_first { 2 } else { 0 });
                    self.write(inner, value, out)?;
                }
            }
            Node::Date(convert) => {
                if value.is_exact_instance_of::<PyDate>() {
                    let date = value.cast::<PyDate>()?;
                    let days = days_from_civil(
                        date.get_year() as i64,
                        date.get_month() as i64,
                        date.get_day() as i64,
                    );
                    write_long(out, days);
                } else {
                    let converted = convert
                        .function
                        .bind(value.py())
                        .call1((value, convert.schema.bind(value.py())))?;
                    self.write(&Node::Int, &converted, out)?;
                }
            }
            Node::TimestampMicros(convert) => match self.aware_micros(value)? {
                Some(micros) => write_long(out, micros),
                None if value.is_exact_instance_of::<PyInt>() => {
                    self.write(&Node::Long, value, out)?
                }
                None => {
                    let converted = convert
                        .function
                        .bind(value.py())
                        .call1((value, convert.schema.bind(value.py())))?;
                    self.write(&Node::Long, &converted, out)?;
                }
            },
            Node::Logical { convert, inner } => {
                let converted = convert
                    .function
                    .bind(value.py())
                    .call1((value, convert.schema.bind(value.py())))?;
                self.write(inner, &converted, out)?;
            }
        }
        Ok(())
    }

    fn write_string(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        if let Ok(text) = value.cast::<PyString>() {
            write_text(out, text.to_str()?);
            return Ok(());
        }
        if value.get_type().is(self.known.uuid_type.bind(value.py())) {
            let number: u128 = value.getattr(intern!(value.py(), "int"))?.extract()?;
            write_blob(out, &canonical_uuid(number));
            return Ok(());
        }
        Err(PyTypeError::new_err("Avro string needs a str value"))
    }

    fn write_record(
        &self,
        fields: &[Field],
        value: &Bound<'_, PyAny>,
        out: &mut Vec<u8>,
    ) -> PyResult<()> {
        let py = value.py();
        let owned;
        let record = match value.cast::<PyDict>() {
            Ok(dict) => dict,
            Err(_) => {
                owned = instance_dict(value)
                    .map_err(|_| PyTypeError::new_err("Avro record needs a dict or a model"))?;
                &owned
            }
        };
        if record.len() == fields.len() {
            // A model's __dict__ holds its fields in schema order, keyed by the same
            // interned names: walk both together and skip the hash lookups.
            let mut position: pyo3::ffi::Py_ssize_t = 0;
            for field in fields {
                let mut key = std::ptr::null_mut();
                let mut item = std::ptr::null_mut();
                // SAFETY: the GIL is held and `record` is alive; PyDict_Next hands out
                // borrowed references, and the item is turned into an owned Bound before
                // anything (a converter) could run Python code and change the dict.
                let more = unsafe {
                    pyo3::ffi::PyDict_Next(record.as_ptr(), &mut position, &mut key, &mut item)
                };
                if more != 0 && key == field.name.as_ptr() {
                    let item = unsafe { Bound::from_borrowed_ptr(py, item) };
                    self.write(&field.node, &item, out)?;
                } else {
                    self.write_field(field, record, out)?;
                }
            }
            return Ok(());
        }
        for field in fields {
            self.write_field(field, record, out)?;
        }
        Ok(())
    }

    fn write_field(
        &self,
        field: &Field,
        record: &Bound<'_, PyDict>,
        out: &mut Vec<u8>,
    ) -> PyResult<()> {
        let py = record.py();
        let name = field.name.bind(py);
        match record.get_item(name)? {
            Some(item) => self.write(&field.node, &item, out),
            None if field.required => Err(PyValueError::new_err(format!(
                "no value and no default for {}",
                name.to_str()?
            ))),
            None => self.write(&field.node, field.default.bind(py), out),
        }
    }

    /// Microseconds since the epoch of an aware `datetime` (exact type), as fastavro
    /// computes them; None for anything else (naive datetimes follow fastavro's
    /// local-time rule through its converter).
    fn aware_micros(&self, value: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
        let Some((moment, offset_micros)) = aware_datetime(value, &self.known)? else {
            return Ok(None);
        };
        let days = days_from_civil(
            moment.get_year() as i64,
            moment.get_month() as i64,
            moment.get_day() as i64,
        );
        let seconds = days * 86_400
            + moment.get_hour() as i64 * 3_600
            + moment.get_minute() as i64 * 60
            + moment.get_second() as i64;
        Ok(Some(
            seconds * 1_000_000 + moment.get_microsecond() as i64 - offset_micros,
        ))
    }
}

/// An aware `datetime` (exact type) and its UTC offset in microseconds; None for anything
/// else, and for a tzinfo whose `utcoffset` is None (Python treats that as naive).
pub fn aware_datetime<'a, 'py>(
    value: &'a Bound<'py, PyAny>,
    known: &Known,
) -> PyResult<Option<(&'a Bound<'py, PyDateTime>, i64)>> {
    if !value.is_exact_instance_of::<PyDateTime>() {
        return Ok(None);
    }
    let moment = value.cast::<PyDateTime>()?;
    let Some(tzinfo) = moment.get_tzinfo() else {
        return Ok(None);
    };
    if tzinfo.is(known.utc.bind(value.py())) {
        return Ok(Some((moment, 0)));
    }
    let offset = value.call_method0(intern!(value.py(), "utcoffset"))?;
    let Ok(delta) = offset.cast::<PyDelta>() else {
        return Ok(None);
    };
    let micros = (delta.get_days() as i64 * 86_400 + delta.get_seconds() as i64) * 1_000_000
        + delta.get_microseconds() as i64;
    Ok(Some((moment, micros)))
}

fn write_integer(
    value: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    min: i128,
    max: i128,
    kind: &str,
) -> PyResult<()> {
    if !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "Avro {kind} needs an int value"
        )));
    }
    // Most values fit an i64; wider ones are range-checked as i128.
    let number: i128 = match value.extract::<i64>() {
        Ok(small) => i128::from(small),
        Err(_) => value
            .extract()
            .map_err(|_| PyValueError::new_err(format!("value out of range for an Avro {kind}")))?,
    };
    if number < min || number > max {
        return Err(PyValueError::new_err(format!(
            "value out of range for an Avro {kind}"
        )));
    }
    write_long(out, number as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
    }

    #[test]
    fn zigzag_varints() {
        let mut out = Vec::new();
        for v in [0i64, -1, 1, 63, -64, 64, i64::MAX, i64::MIN] {
            write_long(&mut out, v);
        }
        assert_eq!(&out[..6], &[0, 1, 2, 0x7e, 0x7f, 0x80]);
    }

    #[test]
    fn uuid_text_is_canonical() {
        let text = canonical_uuid(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(&text, b"01234567-89ab-cdef-0123-456789abcdef");
    }
}

extern "C" {
    // CPython's own lookup of an instance's __dict__ slot (exported, not in pyo3-ffi).
    fn _PyObject_GetDictPtr(obj: *mut pyo3::ffi::PyObject) -> *mut *mut pyo3::ffi::PyObject;
}

/// The `__dict__` of a plain instance (a pydantic model's fields), without an
/// attribute lookup; falls back to `getattr(obj, "__dict__")`.
pub fn instance_dict<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    // SAFETY: the GIL is held (we have a Bound); the pointer returned is the object's own
    // dict slot, valid while the object lives; a borrowed reference is turned into an
    // owned Bound at once.
    unsafe {
        let slot = _PyObject_GetDictPtr(obj.as_ptr());
        if !slot.is_null() && !(*slot).is_null() && pyo3::ffi::PyDict_Check(*slot) != 0 {
            return Ok(Bound::from_borrowed_ptr(obj.py(), *slot).cast_into::<PyDict>()?);
        }
    }
    Ok(obj
        .getattr(intern!(obj.py(), "__dict__"))?
        .cast_into::<PyDict>()?)
}
