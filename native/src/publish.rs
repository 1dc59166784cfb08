//! The publisher's fast path: every check of `Publisher.prepare` and the record, in one
//! call per event, and a produce loop for batches.
//!
//! Only verdicts that pass are taken here. An event the fast path is not sure of (a check
//! fails, an identifier not in its normal form, an encoding error, a size over the limit,
//! an event type without a route) is handed back to Python, whose checks decide it and
//! name the error, with the same codes, logs and metrics as always.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use pyo3::exceptions::{PyBufferError, PyException};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::avro::instance_dict;
use crate::identifiers::{uscc_ok, CitizenIdRule};
use crate::record::{Envelope, Parts, RecordMaker};

#[derive(Clone, Copy)]
enum Identifier {
    CitizenId,
    Uscc,
}

/// One event class of one resource, for one department.
struct Route {
    class: Py<PyType>,
    code: Py<PyString>,
    topic: Py<PyString>,
    maker: Py<RecordMaker>,
    identifier: Identifier,
    /// The fields this department is the authoritative source of (一数一源).
    sourced_fields: HashSet<String>,
    /// The department is the key's authority, so it may delete.
    may_delete: bool,
}

#[pyclass(frozen, module = "govbus_native")]
pub struct FastPath {
    department: String,
    routes: Vec<Route>,
    max_bytes: usize,
    citizen_ids: CitizenIdRule,
}

const BACKPRESSURE_POLL: f64 = 0.05;

#[pymethods]
impl FastPath {
    /// `routes`: (event class, resource code, topic, record maker, "citizen_id" or
    /// "uscc", sourced field names, may delete) for each covered resource.
    /// `address_codes`: `_address_codes.address_code_spans()`, code -> (first year, last
    /// year) in force; `today`: (year, month, day) in China, the last birth date vouched for.
    #[new]
    fn new(
        department: String,
        routes: &Bound<'_, PyList>,
        max_bytes: usize,
        address_codes: HashMap<u32, (u32, u32)>,
        today: (u32, u32, u32),
    ) -> PyResult<Self> {
        let mut parsed = Vec::new();
        for route in routes.iter() {
            let (class, code, topic, maker, identifier, fields, may_delete): (
                Bound<'_, PyType>,
                Bound<'_, PyString>,
                Bound<'_, PyString>,
                Py<RecordMaker>,
                String,
                HashSet<String>,
                bool,
            ) = route.extract()?;
            let identifier = match identifier.as_str() {
                "citizen_id" => Identifier::CitizenId,
                "uscc" => Identifier::Uscc,
                other => {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "no fast identifier check {other}"
                    )))
                }
            };
            parsed.push(Route {
                class: class.unbind(),
                code: code.unbind(),
                topic: topic.unbind(),
                maker,
                identifier,
                sourced_fields: fields,
                may_delete,
            });
        }
        Ok(Self {
            department,
            routes: parsed,
            max_bytes,
            citizen_ids: CitizenIdRule::new(address_codes, today),
        })
    }

    /// (event id, resource code, topic, key, value, headers) if every check passes,
    /// None if Python must decide.
    #[pyo3(signature = (event, traceparent=None))]
    fn prepare<'py>(
        &self,
        event: &Bound<'py, PyAny>,
        traceparent: Option<&Bound<'py, PyString>>,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let py = event.py();
        let Some((route_index, parts)) = self.vouched_record(event, traceparent)? else {
            return Ok(None);
        };
        let route = &self.routes[route_index];
        Ok(Some(PyTuple::new(
            py,
            [
                parts.event_id_text()?.into_any(),
                route.code.bind(py).clone().into_any(),
                route.topic.bind(py).clone().into_any(),
                parts.key.into_any(),
                parts.value.into_any(),
                parts.headers.into_any(),
            ],
        )?))
    }

    /// Produce `events[start:]` until one needs Python; returns its index (or the length).
    ///
    /// Each record goes to `producer.produce` with `tracker` as its delivery callback; a
    /// full local queue is served with `producer.poll` and the record produced again, so
    /// nothing is dropped. Any other error from `produce` hands the event back too.
    #[pyo3(signature = (events, start, producer, tracker, traceparent=None))]
    fn produce_many<'py>(
        &self,
        events: &Bound<'py, PyAny>,
        start: usize,
        producer: &Bound<'py, PyAny>,
        tracker: &Bound<'py, BatchTracker>,
        traceparent: Option<&Bound<'py, PyString>>,
    ) -> PyResult<usize> {
        let py = events.py();
        let produce = producer.getattr(intern!(py, "produce"))?;
        let poll = producer.getattr(intern!(py, "poll"))?;
        let count = events.len()?;
        let mut produced = vec![0u64; self.routes.len()];
        // Built once: produce() copies what it needs, so its arguments can be reused.
        let topic_args = self
            .routes
            .iter()
            .map(|r| PyTuple::new(py, [r.topic.bind(py)]))
            .collect::<PyResult<Vec<_>>>()?;
        let kwargs = PyDict::new(py);
        kwargs.set_item(intern!(py, "on_delivery"), tracker)?;
        let list = events.cast::<PyList>().ok();
        let mut index = start;
        while index < count {
            let event = match list {
                Some(list) => list.get_item(index)?,
                None => events.get_item(index)?,
            };
            let Some((route_index, parts)) = self.vouched_record(&event, traceparent)? else {
                break;
            };
            kwargs.set_item(intern!(py, "value"), parts.value)?;
            kwargs.set_item(intern!(py, "key"), parts.key)?;
            kwargs.set_item(intern!(py, "headers"), parts.headers)?;
            let accepted = loop {
                match produce.call(&topic_args[route_index], Some(&kwargs)) {
                    Ok(_) => break true,
                    Err(err) if err.is_instance_of::<PyBufferError>(py) => {
                        poll.call1((BACKPRESSURE_POLL,))?;
                    }
                    Err(_) => break false,
                }
            };
            if !accepted {
                break;
            }
            produced[route_index] += 1;
            index += 1;
        }
        let tracker = tracker.get();
        for (route, n) in self.routes.iter().zip(produced) {
            if n > 0 {
                tracker.add_produced(route.topic.bind(py).to_str()?, n);
            }
        }
        Ok(index)
    }
}

impl FastPath {
    /// `checked_record`, with any error an ordinary exception turned into "not sure": the
    /// Python checks then meet it again and report it their way. Interrupts (a
    /// KeyboardInterrupt raised in a callback) still propagate.
    fn vouched_record<'py>(
        &self,
        event: &Bound<'py, PyAny>,
        traceparent: Option<&Bound<'py, PyString>>,
    ) -> PyResult<Option<(usize, Parts<'py>)>> {
        match self.checked_record(event, traceparent) {
            Err(err) if err.is_instance_of::<PyException>(event.py()) => Ok(None),
            outcome => outcome,
        }
    }

    fn checked_record<'py>(
        &self,
        event: &Bound<'py, PyAny>,
        traceparent: Option<&Bound<'py, PyString>>,
    ) -> PyResult<Option<(usize, Parts<'py>)>> {
        let py = event.py();
        let class = event.get_type();
        let Some(route_index) = self.routes.iter().position(|r| class.is(r.class.bind(py))) else {
            return Ok(None);
        };
        let route = &self.routes[route_index];
        let Ok(fields) = instance_dict(event) else {
            return Ok(None);
        };
        let fields = &fields;
        let envelope = Envelope::read(fields)?;
        let department = envelope
            .source_department
            .as_ref()
            .map(|d| d.cast::<PyString>());
        let Some(Ok(department)) = department else {
            return Ok(None);
        };
        if department.to_str()? != self.department {
            return Ok(None);
        }
        let key = envelope.entity_key.as_ref().map(|k| k.cast::<PyString>());
        let Some(Ok(key)) = key else {
            return Ok(None);
        };
        let key = key.to_str()?;
        let identifier_ok = match route.identifier {
            Identifier::Uscc => uscc_ok(key),
            Identifier::CitizenId => self.citizen_ids.accepts(key),
        };
        if !identifier_ok || !self.authority_ok(route, &envelope)? {
            return Ok(None);
        }
        let parts = match route.maker.get().make_parts(fields, &envelope, traceparent) {
            Ok(parts) => parts,
            Err(_) => return Ok(None), // Python re-encodes and names the mismatch
        };
        if parts.size > self.max_bytes || !parts.text_storable {
            return Ok(None);
        }
        Ok(Some((route_index, parts)))
    }

    /// `check_authority`'s verdict: a DELETE by the key's authority, or an UPSERT of
    /// at least one field, all sourced from this department.
    fn authority_ok(&self, route: &Route, envelope: &Envelope<'_>) -> PyResult<bool> {
        let Some(operation) = &envelope.operation else {
            return Ok(false);
        };
        let Ok(operation) = operation.cast::<PyString>() else {
            return Ok(false);
        };
        match operation.to_str()? {
            "DELETE" => Ok(route.may_delete),
            "UPSERT" => {
                let Some(changed) = &envelope.changed_fields else {
                    return Ok(false);
                };
                let Ok(changed) = changed.cast::<PyTuple>() else {
                    return Ok(false);
                };
                if changed.is_empty() {
                    return Ok(false);
                }
                for name in changed.iter() {
                    let Ok(name) = name.cast::<PyString>() else {
                        return Ok(false);
                    };
                    if !route.sourced_fields.contains(name.to_str()?) {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl BatchTracker {
    fn add_produced(&self, topic: &str, n: u64) {
        self.produced.fetch_add(n, Ordering::Relaxed);
        let mut counts = self.produced_by_topic.lock().expect("not poisoned");
        match counts.get_mut(topic) {
            Some(count) => *count += n,
            None => {
                counts.insert(topic.to_owned(), n);
            }
        }
    }
}

/// The delivery callback of a batch: counts acknowledgements, hands failures to Python.
#[pyclass(frozen, module = "govbus_native")]
pub struct BatchTracker {
    produced: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    produced_by_topic: Mutex<HashMap<String, u64>>,
    /// Called as `on_failure(err, msg)` for each record the broker did not take. It
    /// usually leads back to the batch that holds this tracker: the cyclic collector sees
    /// it through `__traverse__`, and `__clear__` lets it break the cycle.
    on_failure: Mutex<Option<Py<PyAny>>>,
}

#[pymethods]
impl BatchTracker {
    #[new]
    fn new(on_failure: Py<PyAny>) -> Self {
        Self {
            produced: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            produced_by_topic: Mutex::new(HashMap::new()),
            on_failure: Mutex::new(Some(on_failure)),
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // Only GIL holders lock it, and the collector runs with the GIL: never contended.
        if let Ok(on_failure) = self.on_failure.try_lock() {
            if let Some(callback) = on_failure.as_ref() {
                visit.call(callback)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        if let Ok(mut on_failure) = self.on_failure.lock() {
            on_failure.take();
        }
    }

    fn __call__(&self, err: &Bound<'_, PyAny>, msg: &Bound<'_, PyAny>) -> PyResult<()> {
        if err.is_none() {
            self.delivered.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.failed.fetch_add(1, Ordering::Relaxed);
        let callback = self
            .on_failure
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map(|callback| callback.clone_ref(err.py()));
        if let Some(callback) = callback {
            callback.bind(err.py()).call1((err, msg))?;
        }
        Ok(())
    }

    /// Count a record produced by the Python path.
    fn count_produced(&self, topic: &str) {
        self.add_produced(topic, 1);
    }

    #[getter]
    fn produced(&self) -> u64 {
        self.produced.load(Ordering::Relaxed)
    }

    #[getter]
    fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    #[getter]
    fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    fn produced_by_topic(&self) -> HashMap<String, u64> {
        self.produced_by_topic.lock().expect("not poisoned").clone()
    }
}
