//! The store sync's hot loop (`consumers._apply`, `consumers._postgres_store`): a batch of
//! Kafka items into merge rows, and merge rows into a binary COPY payload.
//!
//! `scan_batch` does what `consumers._apply._scan` does, taking only the common event: an
//! upsert of a class whose plan the batch already knows (the plan's first-event rows
//! exist), for a key not yet in the batch, stamped in UTC. Every other event goes to the
//! Python `add` it is given, which stays the reference: the first event of each plan, later
//! events of a key (hot keys, merged in memory: `consumers._key_merge`), deletes,
//! certificates, refusals.
//! `copy_rows` encodes rows whose values all have a type it knows, else returns None
//! (psycopg's `write_row` then encodes them).
//!
//! No attribute of a Python class is read here by name. The items and their positions are
//! named tuples read by position (`SourcedEvent` = (event, position), `RejectedRecord` =
//! (position, ...), `KafkaPosition` = (topic, partition, offset)), the scan's containers
//! come as arguments, and a plan is asked for through `native_plan(event)`, which returns a
//! `NativePlan` = (fields, refused, rows, seen) or None. `consumers._native_rows` documents
//! the interface and `tests/consumers/test_native_rows.py` asserts the tuples' field order.
//! Events are read through their pydantic fields (`__dict__`), as `avro.rs` does.

use std::collections::HashMap;
use std::fmt::Write as _;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDict, PyInt, PyList, PyString,
    PyTimeAccess, PyTuple, PyTzInfoAccess,
};

use crate::avro::instance_dict;

/// Positions in the named tuples the scan reads (see the module's doc).
const SOURCED_EVENT: usize = 0;
const SOURCED_POSITION: usize = 1;
const REJECTED_POSITION: usize = 0;
const POSITION_TOPIC: usize = 0;
const POSITION_PARTITION: usize = 1;
const POSITION_OFFSET: usize = 2;
const PLAN_FIELDS: usize = 0;
const PLAN_REFUSED: usize = 1;
const PLAN_ROWS: usize = 2;
const PLAN_SEEN: usize = 3;

/// A partition of the batch: its lowest offset and the next one.
struct Partition<'py> {
    topic: Bound<'py, PyAny>,
    partition: Bound<'py, PyAny>,
    lowest: i64,
    next: i64,
}

/// A `NativePlan`, unpacked once per batch.
struct Plan<'py> {
    fields: Vec<Bound<'py, PyString>>,
    refused: i64,
    rows: Bound<'py, PyList>,
    seen: Bound<'py, PyDict>,
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Microseconds since 1970 of a datetime in UTC (`utc` its tzinfo), else None.
fn utc_micros(value: &Bound<'_, PyAny>, utc: &Bound<'_, PyAny>) -> Option<i64> {
    let at = value.cast::<PyDateTime>().ok()?;
    if !at.get_tzinfo()?.is(utc) {
        return None;
    }
    let days = days_from_civil(
        i64::from(at.get_year()),
        i64::from(at.get_month()),
        i64::from(at.get_day()),
    );
    let seconds = days * 86_400
        + i64::from(at.get_hour()) * 3_600
        + i64::from(at.get_minute()) * 60
        + i64::from(at.get_second());
    Some(seconds * 1_000_000 + i64::from(at.get_microsecond()))
}

/// `value` as 32 lowercase hex digits (`bytes.hex` of its 16 big-endian bytes).
fn push_hex(text: &mut String, value: u128) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..32).rev() {
        text.push(DIGITS[((value >> (shift * 4)) & 0xf) as usize] as char);
    }
}

/// The per-batch state of one `scan_batch` call.
struct Scanner<'py> {
    py: Python<'py>,
    native_plan: Bound<'py, PyAny>,
    certificate: Bound<'py, PyAny>,
    utc: Bound<'py, PyAny>,
    stamp_end: String,
    /// Event class → {(department, changed fields): index in `plans`}.
    plan_index: HashMap<usize, Bound<'py, PyDict>>,
    plans: Vec<Plan<'py>>,
    applied: i64,
    refused: i64,
}

impl<'py> Scanner<'py> {
    /// The plan of an upsert by `department` changing `changed`, asked for once per batch;
    /// None while Python has not made it (the event is then Python's).
    fn plan(
        &mut self,
        event: &Bound<'py, PyAny>,
        department: &Bound<'py, PyAny>,
        changed: Bound<'py, PyAny>,
    ) -> PyResult<Option<usize>> {
        let py = self.py;
        let class = event.get_type();
        let by_class = match self.plan_index.get(&(class.as_ptr() as usize)) {
            Some(found) => found.clone(),
            None => {
                let made = PyDict::new(py);
                self.plan_index
                    .insert(class.as_ptr() as usize, made.clone());
                made
            }
        };
        let key = PyTuple::new(py, [department.clone(), changed])?;
        if let Some(index) = by_class.get_item(&key)? {
            return Ok(Some(index.extract()?));
        }
        let found = self.native_plan.call1((event,))?;
        if found.is_none() {
            return Ok(None); // not made yet, or no resource: Python's
        }
        let found = found.cast_into::<PyTuple>()?;
        let fields = found
            .get_item(PLAN_FIELDS)?
            .try_iter()?
            .map(|f| Ok(f?.cast_into::<PyString>()?))
            .collect::<PyResult<Vec<_>>>()?;
        let plan = Plan {
            fields,
            refused: found.get_item(PLAN_REFUSED)?.extract()?,
            rows: found.get_item(PLAN_ROWS)?.cast_into::<PyList>()?,
            seen: found.get_item(PLAN_SEEN)?.cast_into::<PyDict>()?,
        };
        self.plans.push(plan);
        let index = self.plans.len() - 1;
        by_class.set_item(key, index)?;
        Ok(Some(index))
    }

    /// The event as a merge row in its plan's first-round rows, or false (Python's).
    /// `fields` is the event's `__dict__`, `id` its `event_id.int`.
    fn add(
        &mut self,
        event: &Bound<'py, PyAny>,
        fields: &Bound<'py, PyDict>,
        id: &Bound<'py, PyAny>,
    ) -> PyResult<bool> {
        let py = self.py;
        let get = |name: &Bound<'py, PyString>| -> PyResult<Option<Bound<'py, PyAny>>> {
            fields.get_item(name)
        };
        let operation = get(intern!(py, "operation"))?;
        let data = get(intern!(py, "data"))?;
        let (Some(operation), Some(data)) = (operation, data) else {
            return Ok(false);
        };
        if data.is_none() || !operation.cast::<PyString>().is_ok_and(|o| o == "UPSERT") {
            return Ok(false);
        }
        let (Some(key), Some(department), Some(changed), Some(sequence)) = (
            get(intern!(py, "entity_key"))?,
            get(intern!(py, "source_department"))?,
            get(intern!(py, "changed_fields"))?,
            get(intern!(py, "source_sequence"))?,
        ) else {
            return Ok(false);
        };
        let Some(occurred) = get(intern!(py, "occurred_at"))? else {
            return Ok(false);
        };
        let Some(occurred_us) = utc_micros(&occurred, &self.utc) else {
            return Ok(false);
        };
        let Ok(department_text) = department.cast::<PyString>() else {
            return Ok(false);
        };
        if event.is_instance(&self.certificate)? {
            return Ok(false); // its resource depends on the licence type: Python's
        }
        let Some(index) = self.plan(event, &department, changed)? else {
            return Ok(false);
        };
        let plan = &self.plans[index];
        if plan.seen.contains(&key)? {
            return Ok(false); // a later event of the key (a hot key): Python's
        }
        let data_fields = instance_dict(&data)?;
        let mut row: Vec<Bound<'py, PyAny>> = Vec::with_capacity(plan.fields.len() + 4);
        row.push(key.clone());
        for name in &plan.fields {
            match data_fields.get_item(name)? {
                Some(value) => row.push(value),
                None => return Ok(false),
            }
        }
        let id: u128 = id.extract()?;
        let mut stamp = String::with_capacity(80);
        stamp.push_str(department_text.to_str()?);
        stamp.push(' ');
        push_hex(&mut stamp, id);
        write!(stamp, " {occurred_us}").expect("writing to a String");
        stamp.push_str(&self.stamp_end);
        row.push(sequence);
        row.push(PyString::new(py, &stamp).into_any());
        row.push(py.None().into_bound(py));
        plan.seen.set_item(&key, 1)?;
        plan.rows.append(PyList::new(py, row)?)?;
        self.applied += 1;
        self.refused += plan.refused;
        Ok(true)
    }
}

/// `consumers._apply._scan` over `items`: partitions' lowest and next offsets (into
/// `lowest` and `next_offsets`), the first event of each id (into `events`, by
/// `event_id.int`), rejections (into `rejected`), merge rows. Events it does not take go
/// to `add` (`BatchRows.add`). Returns the (applied, refused) counts of the events it took,
/// which the caller adds to the rows' own, and how many events repeated an earlier id.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn scan_batch<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    sourced_event: &Bound<'py, PyAny>,
    certificate: &Bound<'py, PyAny>,
    utc: &Bound<'py, PyAny>,
    events: &Bound<'py, PyDict>,
    rejected: &Bound<'py, PyList>,
    lowest: &Bound<'py, PyDict>,
    next_offsets: &Bound<'py, PyDict>,
    stamp_end: String,
    native_plan: &Bound<'py, PyAny>,
    add: &Bound<'py, PyAny>,
) -> PyResult<(i64, i64, usize)> {
    let mut scanner = Scanner {
        py,
        native_plan: native_plan.clone(),
        certificate: certificate.clone(),
        utc: utc.clone(),
        stamp_end,
        plan_index: HashMap::new(),
        plans: Vec::new(),
        applied: 0,
        refused: 0,
    };
    let mut partitions: Vec<Partition<'py>> = Vec::new();
    let mut count: usize = 0;
    for item in items.try_iter()? {
        let item = item?;
        count += 1;
        let sourced = item.is_instance(sourced_event)?;
        let tuple = item.cast::<PyTuple>()?;
        let position = tuple.get_item(if sourced {
            SOURCED_POSITION
        } else {
            REJECTED_POSITION
        })?;
        let position = position.cast::<PyTuple>()?;
        let topic = position.get_item(POSITION_TOPIC)?;
        let partition = position.get_item(POSITION_PARTITION)?;
        let offset: i64 = position.get_item(POSITION_OFFSET)?.extract()?;
        let mut found = None;
        for (i, p) in partitions.iter().enumerate() {
            if (p.topic.is(&topic) || p.topic.eq(&topic)?) && p.partition.eq(&partition)? {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                let p = &mut partitions[i];
                p.lowest = p.lowest.min(offset);
                p.next = p.next.max(offset + 1);
            }
            None => partitions.push(Partition {
                topic,
                partition,
                lowest: offset,
                next: offset + 1,
            }),
        }
        if !sourced {
            rejected.append(item)?;
            continue;
        }
        let event = tuple.get_item(SOURCED_EVENT)?;
        // Read once from the model's `__dict__` (the attribute, as pydantic keeps it).
        let fields = instance_dict(&event)?;
        let event_id = match fields.get_item(intern!(py, "event_id"))? {
            Some(event_id) => event_id,
            None => event.getattr(intern!(py, "event_id"))?,
        };
        let id = event_id.getattr(intern!(py, "int"))?;
        if events.contains(&id)? {
            continue;
        }
        events.set_item(&id, &event)?;
        if !scanner.add(&event, &fields, &id)? {
            add.call1((event,))?;
        }
    }
    for p in partitions {
        let tp = PyTuple::new(py, [p.topic, p.partition])?;
        // Python's rule: next offset at least 1 past 0 (`offset >= next.get(tp, 0)`).
        next_offsets.set_item(&tp, p.next.max(0))?;
        lowest.set_item(tp, p.lowest)?;
    }
    let repeats = count - rejected.len() - events.len();
    Ok((scanner.applied, scanner.refused, repeats))
}

/// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_US: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS: i64 = 10_957;

#[derive(Clone, Copy)]
enum CopyType {
    Text,
    BigInt,
    Boolean,
    Date,
    TimestampTz,
}

fn copy_type(name: &str) -> Option<CopyType> {
    Some(match name {
        "text" => CopyType::Text,
        "bigint" => CopyType::BigInt,
        "boolean" => CopyType::Boolean,
        "date" => CopyType::Date,
        "timestamptz" => CopyType::TimestampTz,
        _ => return None,
    })
}

/// One value in PostgreSQL's binary COPY format (length, then bytes), or false if its
/// type is not one this encoder knows.
fn encode_value(
    out: &mut Vec<u8>,
    value: &Bound<'_, PyAny>,
    kind: CopyType,
    utc: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    if value.is_none() {
        out.extend_from_slice(&(-1i32).to_be_bytes());
        return Ok(true);
    }
    match kind {
        CopyType::Text => {
            if !value.is_exact_instance_of::<PyString>() {
                return Ok(false);
            }
            let text = value.cast::<PyString>()?.to_str()?;
            if text.contains('\0') {
                return Ok(false); // psycopg names the error
            }
            let Ok(length) = i32::try_from(text.len()) else {
                return Ok(false);
            };
            out.extend_from_slice(&length.to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        CopyType::BigInt => {
            if !value.is_exact_instance_of::<PyInt>() {
                return Ok(false);
            }
            let Ok(number) = value.extract::<i64>() else {
                return Ok(false);
            };
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&number.to_be_bytes());
        }
        CopyType::Boolean => {
            let Ok(flag) = value.cast::<PyBool>() else {
                return Ok(false);
            };
            out.extend_from_slice(&1i32.to_be_bytes());
            out.push(u8::from(flag.is_true()));
        }
        CopyType::Date => {
            if !value.is_exact_instance_of::<PyDate>() {
                return Ok(false);
            }
            let date = value.cast::<PyDate>()?;
            let days = days_from_civil(
                i64::from(date.get_year()),
                i64::from(date.get_month()),
                i64::from(date.get_day()),
            ) - PG_EPOCH_DAYS;
            out.extend_from_slice(&4i32.to_be_bytes());
            out.extend_from_slice(&(days as i32).to_be_bytes());
        }
        CopyType::TimestampTz => {
            let Some(micros) = utc_micros(value, utc) else {
                return Ok(false);
            };
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&(micros - PG_EPOCH_US).to_be_bytes());
        }
    }
    Ok(true)
}

/// Rows (lists of values, in the order of `types`, PostgreSQL type names) as one binary
/// COPY stream, header and trailer included; None if a type or a value is one this
/// encoder does not know (the caller then uses psycopg's `write_row`).
#[pyfunction]
pub fn copy_rows<'py>(
    py: Python<'py>,
    rows: &Bound<'py, PyList>,
    types: Vec<String>,
    utc: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let Some(kinds) = types
        .iter()
        .map(|t| copy_type(t))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(None);
    };
    let Ok(width) = i16::try_from(kinds.len()) else {
        return Ok(None);
    };
    let mut out: Vec<u8> = Vec::with_capacity(19 + rows.len() * (2 + kinds.len() * 24) + 2);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\x00");
    out.extend_from_slice(&[0u8; 8]); // flags, header extension length
    for row in rows.iter() {
        let Ok(row) = row.cast::<PyList>() else {
            return Ok(None);
        };
        if row.len() != kinds.len() {
            return Ok(None);
        }
        out.extend_from_slice(&width.to_be_bytes());
        for (value, kind) in row.iter().zip(&kinds) {
            if !encode_value(&mut out, &value, *kind, utc)? {
                return Ok(None);
            }
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(Some(PyBytes::new(py, &out)))
}

#[cfg(test)]
mod tests {
    use super::days_from_civil;

    #[test]
    fn push_hex_pads_to_32_digits() {
        let mut text = String::new();
        super::push_hex(&mut text, 0xab);
        assert_eq!(text, format!("{:032x}", 0xab));
        text.clear();
        super::push_hex(&mut text, u128::MAX);
        assert_eq!(text, "f".repeat(32));
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
    }
}
