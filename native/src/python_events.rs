//! `django_reqlog._native.Events`: whole request events formatted by the
//! core. Each method returns None to decline, and the Python formatter
//! answers instead: a record that is not a plain request event, a value of
//! a type or size the core does not write (see `line.rs`), text that no
//! Rust string can hold, or anything the masker declines.
//!
//! The Python objects are read in two steps: every object whose text is
//! borrowed is first gathered (a strong reference each), then the facts
//! borrow from what was gathered.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple, PyType,
};

use crate::event::ip::{Ip, Network};
use crate::event::{Context, Facts, Fields, Label, Number, Value, FIELD_NAMES};
use crate::line::{self, EcsOptions, LogstashOptions, Place, Placement, Record, Scalar};
use crate::python::{Host, Masker};
use crate::Stop;

/// The `RequestFacts` attributes the core reads, in `Gathered::values` order.
const FACT_NAMES: [&str; 47] = [
    "event_id",
    "request_id",
    "started_at",
    "method",
    "scheme",
    "host",
    "path",
    "query_string",
    "http_version",
    "remote_addr",
    "forwarded_for",
    "user_agent",
    "referer",
    "content_type",
    "content_encoding",
    "remote_port",
    "trace_id",
    "parent_span_id",
    "span_id",
    "status",
    "headers",
    "body_prefix",
    "body_bytes",
    "body_omitted",
    "body_unread",
    "body_parts",
    "sensitive_post",
    "route",
    "view",
    "route_kwargs",
    "response_content_type",
    "response_bytes",
    "response_body_prefix",
    "response_truncated",
    "response_aborted",
    "user_id",
    "username",
    "duration_ns",
    "slow",
    "sample_rate",
    "labels",
    "labels_dropped",
    "db_queries",
    "db_duration_ns",
    "db_slowest_ns",
    "db_slowest_sql",
    "view_sensitive_fields",
];

/// The record attributes the core reads.
const RECORD_NAMES: [&str; 17] = [
    "reqlog",
    "msg",
    "args",
    "created",
    "levelname",
    "name",
    "pathname",
    "filename",
    "lineno",
    "funcName",
    "process",
    "threadName",
    "event_id",
    "exc_info",
    "exc_text",
    "reqlog_shipper",
    "request_id",
];

type Decline<T> = Result<T, Stop>;

/// Where `name` is in `names`, worked out when compiling.
const fn position(names: &[&str], name: &str) -> usize {
    let mut at = 0;
    while at < names.len() {
        let (known, wanted) = (names[at].as_bytes(), name.as_bytes());
        if known.len() == wanted.len() {
            let mut same = 0;
            while same < known.len() && known[same] == wanted[same] {
                same += 1;
            }
            if same == known.len() {
                return at;
            }
        }
        at += 1;
    }
    panic!("an unknown name");
}

/// The index of a fact in `FACT_NAMES`.
macro_rules! fact {
    ($name:literal) => {
        const { position(&FACT_NAMES, $name) }
    };
}

/// The index of a record attribute in `RECORD_NAMES`.
macro_rules! attr {
    ($name:literal) => {
        const { position(&RECORD_NAMES, $name) }
    };
}

/// The facts' objects, held while their text is borrowed.
struct Gathered<'py> {
    values: Vec<Bound<'py, PyAny>>,
    headers: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    parts: Vec<(Bound<'py, PyAny>, i64, bool)>,
    sensitive: Vec<Bound<'py, PyAny>>,
    kwargs: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    labels: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
}

fn items<'py>(value: &Bound<'py, PyAny>) -> Decline<Vec<Bound<'py, PyAny>>> {
    if let Ok(list) = value.cast_exact::<PyList>() {
        return Ok(list.iter().collect());
    }
    if let Ok(tuple) = value.cast_exact::<PyTuple>() {
        return Ok(tuple.iter().collect());
    }
    Err(Stop::Decline)
}

fn pair<'py>(value: &Bound<'py, PyAny>) -> Decline<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let tuple = value.cast_exact::<PyTuple>().map_err(|_| Stop::Decline)?;
    if tuple.len() != 2 {
        return Err(Stop::Decline);
    }
    Ok((
        tuple.get_item(0).map_err(|_| Stop::Decline)?,
        tuple.get_item(1).map_err(|_| Stop::Decline)?,
    ))
}

impl<'py> Gathered<'py> {
    fn new(facts: &Bound<'py, PyAny>, names: &[Py<PyString>]) -> Decline<Gathered<'py>> {
        let py = facts.py();
        let mut values = Vec::with_capacity(names.len());
        for name in names {
            values.push(facts.getattr(name.bind(py)).map_err(|_| Stop::Decline)?);
        }
        let value = |at: usize| values[at].clone();
        // The slowest statement's SQL and a view's own key names are
        // masked by the Python formatter.
        if !value(fact!("db_slowest_sql")).is_none()
            || !value(fact!("view_sensitive_fields")).is_none()
        {
            return Err(Stop::Decline);
        }
        let (headers, parts, sensitive, kwargs, labels) = (
            value(fact!("headers")),
            value(fact!("body_parts")),
            value(fact!("sensitive_post")),
            value(fact!("route_kwargs")),
            value(fact!("labels")),
        );
        let mut gathered = Gathered {
            values,
            headers: Vec::new(),
            parts: Vec::new(),
            sensitive: Vec::new(),
            kwargs: Vec::new(),
            labels: Vec::new(),
        };
        if !labels.is_none() {
            gathered.labels = items(&labels)?.iter().map(pair).collect::<Decline<_>>()?;
        }
        if !headers.is_none() {
            gathered.headers = items(&headers)?.iter().map(pair).collect::<Decline<_>>()?;
        }
        if !parts.is_none() {
            for part in items(&parts)? {
                let part = part.cast_exact::<PyTuple>().map_err(|_| Stop::Decline)?;
                if part.len() != 3 {
                    return Err(Stop::Decline);
                }
                let get = |at| part.get_item(at).map_err(|_| Stop::Decline);
                gathered
                    .parts
                    .push((get(0)?, int(&get(1)?)?, boolean(&get(2)?)?));
            }
        }
        if !sensitive.is_none() {
            let names: Vec<Bound<'py, PyAny>> =
                if let Ok(set) = sensitive.cast_exact::<PyFrozenSet>() {
                    set.iter().collect()
                } else if let Ok(set) = sensitive.cast_exact::<PySet>() {
                    set.iter().collect()
                } else {
                    return Err(Stop::Decline);
                };
            gathered.sensitive = names;
        }
        if !kwargs.is_none() {
            gathered.kwargs = items(&kwargs)?.iter().map(pair).collect::<Decline<_>>()?;
        }
        Ok(gathered)
    }

    fn get(&self, at: usize) -> &Bound<'py, PyAny> {
        &self.values[at]
    }

    fn text(&self, at: usize) -> Decline<&str> {
        text(self.get(at))
    }

    fn optional_text(&self, at: usize) -> Decline<Option<&str>> {
        optional(self.get(at), text)
    }

    fn facts(&self) -> Decline<Facts<'_>> {
        fn texts<'a>(
            list: &'a [(Bound<'_, PyAny>, Bound<'_, PyAny>)],
        ) -> Decline<Vec<(&'a str, &'a str)>> {
            list.iter().map(|(a, b)| Ok((text(a)?, text(b)?))).collect()
        }
        let headers = optional(self.get(fact!("headers")), |_| texts(&self.headers))?;
        let route_kwargs = optional(self.get(fact!("route_kwargs")), |_| texts(&self.kwargs))?;
        let body_parts = optional(self.get(fact!("body_parts")), |_| {
            self.parts
                .iter()
                .map(|(head, size, complete)| Ok((bytes(head)?, *size, *complete)))
                .collect::<Decline<Vec<_>>>()
        })?;
        let sensitive_post = optional(self.get(fact!("sensitive_post")), |_| {
            self.sensitive.iter().map(text).collect::<Decline<Vec<_>>>()
        })?;
        let labels = optional(self.get(fact!("labels")), |_| {
            self.labels
                .iter()
                .map(|(key, value)| Ok((text(key)?, label(value)?)))
                .collect::<Decline<Vec<_>>>()
        })?;
        Ok(Facts {
            event_id: self.text(fact!("event_id"))?,
            request_id: self.text(fact!("request_id"))?,
            started_at: number(self.get(fact!("started_at")))?.as_f64(),
            method: self.text(fact!("method"))?,
            scheme: self.text(fact!("scheme"))?,
            host: self.text(fact!("host"))?,
            path: self.text(fact!("path"))?,
            query_string: self.text(fact!("query_string"))?,
            http_version: self.text(fact!("http_version"))?,
            remote_addr: self.text(fact!("remote_addr"))?,
            forwarded_for: self.text(fact!("forwarded_for"))?,
            user_agent: self.text(fact!("user_agent"))?,
            referer: self.text(fact!("referer"))?,
            content_type: self.text(fact!("content_type"))?,
            content_encoding: self.text(fact!("content_encoding"))?,
            remote_port: self.text(fact!("remote_port"))?,
            trace_id: self.optional_text(fact!("trace_id"))?,
            parent_span_id: self.optional_text(fact!("parent_span_id"))?,
            span_id: self.optional_text(fact!("span_id"))?,
            status: int(self.get(fact!("status")))?,
            headers,
            body_prefix: optional(self.get(fact!("body_prefix")), bytes)?,
            body_bytes: optional(self.get(fact!("body_bytes")), int)?,
            body_omitted: boolean(self.get(fact!("body_omitted")))?,
            body_unread: optional(self.get(fact!("body_unread")), boolean)?,
            body_parts,
            sensitive_post,
            route: self.optional_text(fact!("route"))?,
            view: self.optional_text(fact!("view"))?,
            route_kwargs,
            response_content_type: self.text(fact!("response_content_type"))?,
            response_bytes: optional(self.get(fact!("response_bytes")), int)?,
            response_body_prefix: optional(self.get(fact!("response_body_prefix")), bytes)?,
            response_truncated: boolean(self.get(fact!("response_truncated")))?,
            response_aborted: optional(self.get(fact!("response_aborted")), boolean)?,
            user_id: self.optional_text(fact!("user_id"))?,
            username: self.optional_text(fact!("username"))?,
            duration_ns: int(self.get(fact!("duration_ns")))?,
            slow: boolean(self.get(fact!("slow")))?,
            sample_rate: number(self.get(fact!("sample_rate")))?,
            labels,
            labels_dropped: int(self.get(fact!("labels_dropped")))?,
            db_queries: optional(self.get(fact!("db_queries")), int)?,
            db_duration_ns: optional(self.get(fact!("db_duration_ns")), int)?,
            db_slowest_ns: optional(self.get(fact!("db_slowest_ns")), int)?,
        })
    }
}

/// A bound label's value: a string, an int, a float or a bool, exactly.
fn label<'a>(value: &'a Bound<'_, PyAny>) -> Decline<Label<'a>> {
    if let Ok(flag) = value.cast_exact::<PyBool>() {
        return Ok(Label::Bool(flag.is_true()));
    }
    if value.is_exact_instance_of::<PyString>() {
        return text(value).map(Label::Str);
    }
    if let Ok(float) = value.cast_exact::<PyFloat>() {
        return Ok(Label::Float(float.value()));
    }
    int(value).map(Label::Int)
}

fn optional<'a, 'py, T>(
    value: &'a Bound<'py, PyAny>,
    read: impl FnOnce(&'a Bound<'py, PyAny>) -> Decline<T>,
) -> Decline<Option<T>> {
    if value.is_none() {
        Ok(None)
    } else {
        read(value).map(Some)
    }
}

fn text<'a>(value: &'a Bound<'_, PyAny>) -> Decline<&'a str> {
    let string = value.cast_exact::<PyString>().map_err(|_| Stop::Decline)?;
    string.to_str().map_err(|_| Stop::Decline) // lone surrogates
}

fn bytes<'a>(value: &'a Bound<'_, PyAny>) -> Decline<&'a [u8]> {
    Ok(value
        .cast_exact::<PyBytes>()
        .map_err(|_| Stop::Decline)?
        .as_bytes())
}

fn int(value: &Bound<'_, PyAny>) -> Decline<i64> {
    if !value.is_exact_instance_of::<PyInt>() {
        return Err(Stop::Decline);
    }
    value.extract::<i64>().map_err(|_| Stop::Decline)
}

fn boolean(value: &Bound<'_, PyAny>) -> Decline<bool> {
    Ok(value
        .cast_exact::<PyBool>()
        .map_err(|_| Stop::Decline)?
        .is_true())
}

fn number(value: &Bound<'_, PyAny>) -> Decline<Number> {
    if let Ok(float) = value.cast_exact::<PyFloat>() {
        return Ok(Number::Float(float.value()));
    }
    int(value).map(Number::Int)
}

fn scalar<'a>(value: Option<&'a Bound<'_, PyAny>>) -> Decline<Scalar<'a>> {
    let Some(value) = value else {
        return Ok(Scalar::Null);
    };
    if value.is_none() {
        return Ok(Scalar::Null);
    }
    if let Ok(flag) = value.cast_exact::<PyBool>() {
        return Ok(Scalar::Bool(flag.is_true()));
    }
    if value.is_exact_instance_of::<PyString>() {
        return Ok(Scalar::Str(Cow::Borrowed(text(value)?)));
    }
    number(value).map(Scalar::Number)
}

/// The formatting core for one configuration of the settings.
#[pyclass(frozen, module = "django_reqlog._native")]
pub struct Events {
    masker: Py<Masker>,
    trusted: Vec<Network>,
    ecs: Placement,
    logstash: Placement,
    /// `LOGSTASH_RESERVED`, sorted: names a bound label may not take there.
    logstash_reserved: Vec<String>,
    /// `event.mask_route_params`, for routes that are regular expressions.
    route_masker: Py<PyAny>,
    message_type: Py<PyType>,
    facts_type: Py<PyType>,
    /// The record attributes a request record may have for the core to
    /// format it (more would be extra fields the formatters place).
    allowed: Py<PyFrozenSet>,
    /// The addresses of `allowed`'s strings, sorted: attribute names are
    /// interned, so a record's keys are mostly these very objects.
    allowed_addresses: Vec<usize>,
    fact_names: Vec<Py<PyString>>,
    record_names: Vec<Py<PyString>>,
}

type Table = Vec<(
    Vec<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
)>;

fn placement(table: Table, drop_empty: bool) -> PyResult<Placement> {
    let entries = table
        .into_iter()
        .map(|(path, field, form, fixed, only_with)| {
            Place::new(field.as_deref(), &form, fixed, only_with.as_deref())
                .map(|place| (path, place))
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(PyValueError::new_err)?;
    Placement::new(entries, drop_empty).map_err(PyValueError::new_err)
}

/// The record's attributes in `RECORD_NAMES` order (None where absent).
struct RecordAttrs<'py> {
    values: Vec<Option<Bound<'py, PyAny>>>,
}

impl<'py> RecordAttrs<'py> {
    fn get(&self, at: usize) -> Option<&Bound<'py, PyAny>> {
        self.values[at].as_ref()
    }
}

impl Events {
    fn context(&self) -> Context<'_> {
        Context {
            masker: &self.masker.get().core,
            trusted: &self.trusted,
        }
    }

    /// The record's attributes when it is a request event the core formats.
    fn request_record<'py>(
        &self,
        record: &Bound<'py, PyAny>,
        extras_matter: bool,
    ) -> Decline<(RecordAttrs<'py>, Bound<'py, PyAny>)> {
        let py = record.py();
        let attrs = record
            .getattr(pyo3::intern!(py, "__dict__"))
            .map_err(|_| Stop::Decline)?;
        let attrs = attrs.cast_exact::<PyDict>().map_err(|_| Stop::Decline)?;
        let mut values = Vec::with_capacity(RECORD_NAMES.len());
        for name in &self.record_names {
            values.push(attrs.get_item(name.bind(py)).map_err(|_| Stop::Decline)?);
        }
        let got = RecordAttrs { values };
        let facts = got
            .get(attr!("reqlog"))
            .filter(|facts| facts.get_type().is(self.facts_type.bind(py)));
        let facts = facts.ok_or(Stop::Decline)?.clone();
        let truthy = |at| got.get(at).is_some_and(|v| v.is_truthy().unwrap_or(true));
        if truthy(attr!("exc_info"))
            || truthy(attr!("exc_text"))
            || got
                .get(attr!("reqlog_shipper"))
                .is_some_and(|v| !v.is_none())
        {
            return Err(Stop::Decline);
        }
        if extras_matter && !self.only_allowed_keys(attrs)? {
            return Err(Stop::Decline);
        }
        Ok((got, facts))
    }

    /// Whether every attribute of the record is a standard one or ours:
    /// the same object as one of `allowed` (cheap), or an equal string.
    fn only_allowed_keys(&self, attrs: &Bound<'_, PyDict>) -> Decline<bool> {
        let allowed = self.allowed.bind(attrs.py());
        for (key, _) in attrs.iter() {
            let address = key.as_ptr() as usize;
            if self.allowed_addresses.binary_search(&address).is_err()
                && !allowed.contains(&key).map_err(|_| Stop::Decline)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The record's message: the lazy request message, or a plain string.
    fn message<'a>(
        &self,
        got: &'a RecordAttrs<'_>,
        facts: &Bound<'_, PyAny>,
        fields: &Fields<'_>,
    ) -> Decline<Cow<'a, str>> {
        let py = facts.py();
        if got
            .get(attr!("args"))
            .is_some_and(|args| args.is_truthy().unwrap_or(true))
        {
            return Err(Stop::Decline);
        }
        let msg = got.get(attr!("msg")).ok_or(Stop::Decline)?;
        if msg.get_type().is(self.message_type.bind(py)) {
            let own = msg
                .getattr(pyo3::intern!(py, "facts"))
                .map_err(|_| Stop::Decline)?;
            return if own.is(facts) {
                Ok(Cow::Owned(fields.message()))
            } else {
                Err(Stop::Decline)
            };
        }
        Ok(Cow::Borrowed(text(msg)?))
    }

    fn envelope<'a>(&self, got: &'a RecordAttrs<'_>, message: Cow<'a, str>) -> Decline<Record<'a>> {
        Ok(Record {
            created: number(got.get(attr!("created")).ok_or(Stop::Decline)?)?.as_f64(),
            levelname: scalar(got.get(attr!("levelname")))?,
            message,
            name: scalar(got.get(attr!("name")))?,
            pathname: scalar(got.get(attr!("pathname")))?,
            filename: scalar(got.get(attr!("filename")))?,
            lineno: scalar(got.get(attr!("lineno")))?,
            func_name: scalar(got.get(attr!("funcName")))?,
            process: scalar(got.get(attr!("process")))?,
            thread_name: scalar(got.get(attr!("threadName")))?,
            event_id: scalar(got.get(attr!("event_id")))?,
        })
    }

    fn format(
        &self,
        record: &Bound<'_, PyAny>,
        extras_matter: bool,
        write: impl FnOnce(&Record<'_>, &Fields<'_>) -> Decline<String>,
    ) -> Decline<String> {
        let py = record.py();
        let (got, facts_object) = self.request_record(record, extras_matter)?;
        let gathered = Gathered::new(&facts_object, &self.fact_names)?;
        let facts = gathered.facts()?;
        let masker = self.masker.get();
        let mut host = Host::new(py, &masker.compiled).with_routes(&self.route_masker);
        let fields = self.context().fields(&facts, &mut host)?;
        let message = self.message(&got, &facts_object, &fields)?;
        let envelope = self.envelope(&got, message)?;
        write(&envelope, &fields)
    }
}

fn py_value<'py>(py: Python<'py>, value: &Value<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(flag) => PyBool::new(py, *flag).to_owned().into_any(),
        Value::Int(number) => number.into_pyobject(py)?.into_any(),
        Value::Float(number) => PyFloat::new(py, *number).into_any(),
        Value::Str(text) => PyString::new(py, text).into_any(),
        Value::List(items) => PyList::new(py, items.iter().map(|item| item.as_ref()))?.into_any(),
        Value::Map(members) => {
            let dict = PyDict::new(py);
            for (key, item) in members {
                dict.set_item(key, item.as_ref())?;
            }
            dict.into_any()
        }
        Value::Object(members) => {
            let dict = PyDict::new(py);
            for (key, item) in members {
                dict.set_item(key, py_value(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

#[pymethods]
impl Events {
    /// `trusted`: (version, network address as an int, prefix length) for
    /// each network of REQLOG_TRUSTED_PROXIES; the tables: (path, field,
    /// form, fixed value as JSON, only-with field) for each entry;
    /// `logstash_reserved`: `LOGSTASH_RESERVED`, sorted.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        masker: Py<Masker>,
        trusted: Vec<(u8, u128, u32)>,
        ecs: Table,
        logstash: Table,
        logstash_reserved: Vec<String>,
        route_masker: Py<PyAny>,
        message_type: Py<PyType>,
        facts_type: Py<PyType>,
        allowed: Py<PyFrozenSet>,
    ) -> PyResult<Self> {
        let trusted = trusted
            .into_iter()
            .map(|(version, address, prefix)| {
                let address = if version == 4 {
                    Ip::V4(address as u32)
                } else {
                    Ip::V6(address)
                };
                Network { address, prefix }
            })
            .collect();
        let intern = |names: &[&str]| {
            names
                .iter()
                .map(|name| PyString::intern(py, name).unbind())
                .collect()
        };
        let mut allowed_addresses: Vec<usize> = allowed
            .bind(py)
            .iter()
            .map(|key| key.as_ptr() as usize)
            .collect();
        allowed_addresses.sort_unstable();
        Ok(Events {
            masker,
            trusted,
            ecs: placement(ecs, true)?,
            logstash: placement(logstash, false)?,
            logstash_reserved,
            route_masker,
            message_type,
            facts_type,
            allowed,
            allowed_addresses,
            fact_names: intern(&FACT_NAMES),
            record_names: intern(&RECORD_NAMES),
        })
    }

    /// The request fields of `facts` as `request_fields()` gives them (for tests).
    fn request_fields<'py>(
        &self,
        facts: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let py = facts.py();
        let Ok(gathered) = Gathered::new(facts, &self.fact_names) else {
            return Ok(None);
        };
        let Ok(facts) = gathered.facts() else {
            return Ok(None);
        };
        let masker = self.masker.get();
        let mut host = Host::new(py, &masker.compiled).with_routes(&self.route_masker);
        let Ok(fields) = self.context().fields(&facts, &mut host) else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        for (name, value) in FIELD_NAMES.iter().zip(&fields.values) {
            dict.set_item(name, py_value(py, value)?)?;
        }
        Ok(Some(dict))
    }

    /// `ECSFormatter.format(record)`, or None.
    #[pyo3(signature = (record, hostname, service_name, extra_namespace))]
    fn ecs(
        &self,
        record: &Bound<'_, PyAny>,
        hostname: &str,
        service_name: Option<&str>,
        extra_namespace: bool,
    ) -> Option<String> {
        let options = EcsOptions {
            hostname,
            service_name,
        };
        self.format(record, extra_namespace, |envelope, fields| {
            line::ecs_line(envelope, &options, &self.ecs, fields)
        })
        .ok()
    }

    /// `LogstashFormatter.format(record)`, or None.
    fn logstash(
        &self,
        record: &Bound<'_, PyAny>,
        host: &str,
        tags: &Bound<'_, PyAny>,
        message_type: &str,
    ) -> Option<String> {
        let tags = items(tags).ok()?;
        let tags: Vec<&str> = tags.iter().map(text).collect::<Decline<_>>().ok()?;
        let options = LogstashOptions {
            host,
            tags,
            message_type,
            reserved: &self.logstash_reserved,
        };
        self.format(record, true, |envelope, fields| {
            line::logstash_line(envelope, &options, &self.logstash, fields)
        })
        .ok()
    }
}
