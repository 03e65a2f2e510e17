//! A request event's fields, built from the facts the middleware captured:
//! the compiled counterpart of `request_fields()` in `django_reqlog/request_fields.py`,
//! field for field.

use std::borrow::Cow;

use crate::{Also, Masker, PatternHost, Stop, REDACTED};

pub mod body;
pub mod ip;
pub mod query;
pub mod route;
pub mod text;

use body::{Body, Captured, Counted};
use text::{cap, cap_bytes, head, port_number, MAX_TEXT_FIELD};

const MAX_HEADER_VALUE: usize = 8 * 1024;
const MAX_HEADERS: usize = 100;

/// A number as Python holds it: written back the way it came.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(value) => value as f64,
            Number::Float(value) => value,
        }
    }
}

/// What the middleware saw (`RequestFacts`), borrowed from the Python object.
pub struct Facts<'a> {
    pub event_id: &'a str,
    pub request_id: &'a str,
    pub started_at: f64,
    pub method: &'a str,
    pub scheme: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query_string: &'a str,
    pub http_version: &'a str,
    pub remote_addr: &'a str,
    pub forwarded_for: &'a str,
    pub user_agent: &'a str,
    pub referer: &'a str,
    pub content_type: &'a str,
    pub content_encoding: &'a str,
    pub remote_port: &'a str,
    pub trace_id: Option<&'a str>,
    pub parent_span_id: Option<&'a str>,
    pub span_id: Option<&'a str>,
    pub status: i64,
    pub headers: Option<Vec<(&'a str, &'a str)>>,
    pub body_prefix: Option<&'a [u8]>,
    pub body_bytes: Option<i64>,
    pub body_omitted: bool,
    pub body_unread: Option<bool>,
    pub body_parts: Option<Vec<Counted<'a>>>,
    pub sensitive_post: Option<Vec<&'a str>>,
    pub route: Option<&'a str>,
    pub view: Option<&'a str>,
    pub route_kwargs: Option<Vec<(&'a str, &'a str)>>,
    pub response_content_type: &'a str,
    pub response_bytes: Option<i64>,
    pub response_body_prefix: Option<&'a [u8]>,
    pub response_truncated: bool,
    pub response_aborted: Option<bool>,
    pub user_id: Option<&'a str>,
    pub username: Option<&'a str>,
    pub duration_ns: i64,
    pub slow: bool,
    pub sample_rate: Number,
    /// What the application bound (`django_reqlog.bind()`), already bounded.
    pub labels: Option<Vec<(&'a str, Label<'a>)>>,
    pub labels_dropped: i64,
    pub db_queries: Option<i64>,
    pub db_duration_ns: Option<i64>,
    pub db_slowest_ns: Option<i64>,
}

/// A bound label's value, as `django_reqlog/labels.py` leaves it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Label<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// One value of a request field.
#[derive(Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<Cow<'a, str>>),
    /// Header names and values, in order (an object).
    Map(Vec<(String, Cow<'a, str>)>),
    /// Names and values of any kind, in order (an object: the labels).
    Object(Vec<(&'a str, Value<'a>)>),
}

impl<'a> Value<'a> {
    fn text(value: impl Into<Cow<'a, str>>) -> Value<'a> {
        Value::Str(value.into())
    }

    fn optional_text(value: Option<impl Into<Cow<'a, str>>>) -> Value<'a> {
        value.map_or(Value::Null, Value::text)
    }

    /// `text or None`.
    fn text_or_null(value: Cow<'a, str>) -> Value<'a> {
        if value.is_empty() {
            Value::Null
        } else {
            Value::Str(value)
        }
    }

    fn optional<T>(value: Option<T>, make: impl FnOnce(T) -> Value<'a>) -> Value<'a> {
        value.map_or(Value::Null, make)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// The names of the request fields, in the order `request_fields()` gives them.
pub const FIELD_NAMES: [&str; 52] = [
    "event_id",
    "request_id",
    "trace_id",
    "span_id",
    "transaction_id",
    "parent_span_id",
    "start",
    "end",
    "status",
    "duration_ns",
    "outcome",
    "slow",
    "sample_rate",
    "sample_weight",
    "method",
    "scheme",
    "domain",
    "port",
    "path",
    "query",
    "url_original",
    "url_full",
    "http_version",
    "route",
    "view",
    "client_ip",
    "client_port",
    "peer_ip",
    "peer_port",
    "proxy_chain",
    "user_id",
    "username",
    "user_agent",
    "referer",
    "headers",
    "request_content_type",
    "request_body",
    "request_body_bytes",
    "request_body_truncated",
    "request_body_kind",
    "request_body_unread",
    "response_content_type",
    "response_bytes",
    "response_body",
    "response_body_truncated",
    "response_aborted",
    "labels",
    "labels_dropped",
    "db_queries",
    "db_duration_ns",
    "db_slowest_ns",
    "db_slowest_statement",
];

/// Where the labels and their drop count are in [`FIELD_NAMES`].
pub const LABELS: usize = 46;
pub const LABELS_DROPPED: usize = 47;

/// The index of a field in [`Fields::values`].
pub fn field_index(name: &str) -> Option<usize> {
    FIELD_NAMES.iter().position(|known| *known == name)
}

/// Safe, masked fields for one request, by [`FIELD_NAMES`] index.
pub struct Fields<'a> {
    pub values: Vec<Value<'a>>,
}

impl<'a> Fields<'a> {
    pub fn get(&self, index: usize) -> &Value<'a> {
        &self.values[index]
    }

    /// About how many bytes the values' text takes.
    pub fn text_len(&self) -> usize {
        self.values
            .iter()
            .map(|value| match value {
                Value::Str(text) => text.len(),
                Value::List(items) => items.iter().map(|item| item.len() + 3).sum(),
                Value::Map(members) => members.iter().map(|(k, v)| k.len() + v.len() + 6).sum(),
                Value::Object(members) => members.iter().map(|(k, _)| k.len() + 16).sum(),
                _ => 8,
            })
            .sum()
    }

    /// The message a request record carries: "METHOD URL STATUS".
    pub fn message(&self) -> String {
        let text = |index: usize| match &self.values[index] {
            Value::Str(text) => text.as_ref(),
            _ => "",
        };
        let status = match self.values[8] {
            Value::Int(status) => status,
            _ => 0,
        };
        let mut number = String::new();
        crate::line::write_int(&mut number, status);
        crate::concat(&[text(14), " ", text(20), " ", &number])
    }
}

/// The settings the fields depend on besides the masker's.
pub struct Context<'c> {
    pub masker: &'c Masker,
    pub trusted: &'c [ip::Network],
}

impl Context<'_> {
    /// `_build`: every field of `request_fields()`.
    pub fn fields<'a>(
        &self,
        facts: &'a Facts<'a>,
        host: &mut dyn PatternHost,
    ) -> Result<Fields<'a>, Stop> {
        let mut values = Vec::with_capacity(FIELD_NAMES.len());
        self.event_fields(facts, &mut values);
        self.url_fields(facts, &mut values, host)?;
        self.party_fields(facts, &mut values, host)?;
        self.body_fields(facts, &mut values, host)?;
        self.extra_fields(facts, &mut values, host)?;
        Ok(Fields { values })
    }

    /// `_extra_fields`: the bound labels, masked, and the query figures (the
    /// SQL text is left to the Python formatter: the core declines it).
    fn extra_fields<'a>(
        &self,
        facts: &'a Facts<'a>,
        values: &mut Vec<Value<'a>>,
        host: &mut dyn PatternHost,
    ) -> Result<(), Stop> {
        let labels = match facts.labels.as_deref() {
            Some(labels) if !labels.is_empty() => {
                let mut masked: Vec<(&'a str, Value<'a>)> = Vec::with_capacity(labels.len());
                for &(key, value) in labels {
                    if masked.iter().any(|(known, _)| *known == key) {
                        return Err(Stop::Decline); // a dict keeps one of each name
                    }
                    masked.push((key, self.label_value(key, value, host)?));
                }
                Value::Object(masked)
            }
            _ => Value::Null,
        };
        values.extend([
            labels,
            Value::optional(
                (facts.labels_dropped != 0).then_some(facts.labels_dropped),
                Value::Int,
            ),
            Value::optional(facts.db_queries, Value::Int),
            Value::optional(facts.db_duration_ns, Value::Int),
            Value::optional(facts.db_slowest_ns, Value::Int),
            Value::Null,
        ]);
        Ok(())
    }

    /// `_label_value`: masked like a form value; a number whose digits hold
    /// a secret shape becomes the placeholder.
    fn label_value<'a>(
        &self,
        key: &str,
        value: Label<'a>,
        host: &mut dyn PatternHost,
    ) -> Result<Value<'a>, Stop> {
        let masker = self.masker;
        if masker.is_sensitive_key(key) {
            return Ok(Value::Str(Cow::Borrowed(REDACTED)));
        }
        let (text, kept) = match value {
            Label::Str(text) => return Ok(Value::Str(masker.scrub_value(text, host)?)),
            Label::Bool(flag) => return Ok(Value::Bool(flag)),
            Label::Int(number) => {
                let mut text = String::new();
                crate::line::write_int(&mut text, number);
                (text, Value::Int(number))
            }
            Label::Float(number) => {
                let mut text = String::new();
                crate::line::write_float(&mut text, number)?;
                (text, Value::Float(number))
            }
        };
        let unchanged = masker.scrub_text(&text, host)? == text.as_str();
        Ok(if unchanged {
            kept
        } else {
            Value::Str(Cow::Borrowed(REDACTED))
        })
    }

    fn event_fields<'a>(&self, facts: &'a Facts<'a>, values: &mut Vec<Value<'a>>) {
        let rate = facts.sample_rate.as_f64();
        values.extend([
            Value::text(facts.event_id),
            Value::text(facts.request_id),
            Value::optional_text(facts.trace_id),
            Value::optional_text(facts.span_id),
            Value::optional_text(facts.span_id),
            Value::optional_text(facts.parent_span_id),
            Value::Float(facts.started_at),
            Value::Float(facts.started_at + facts.duration_ns as f64 / 1e9),
            Value::Int(facts.status),
            Value::Int(facts.duration_ns),
            Value::text(if facts.status >= 500 {
                "failure"
            } else {
                "success"
            }),
            Value::Bool(facts.slow),
            match facts.sample_rate {
                Number::Int(value) => Value::Int(value),
                Number::Float(value) => Value::Float(value),
            },
            if rate > 0.0 {
                Value::Float(1.0 / rate)
            } else {
                Value::Null
            },
        ]);
    }

    fn url_fields<'a>(
        &self,
        facts: &'a Facts<'a>,
        values: &mut Vec<Value<'a>>,
        host: &mut dyn PatternHost,
    ) -> Result<(), Stop> {
        let masker = self.masker;
        let query = masker.mask_query(facts.query_string, host)?;
        let mut path = Cow::Borrowed(facts.path);
        if let Some(params) = facts.route_kwargs.as_deref().filter(|p| !p.is_empty()) {
            path = masker.mask_route_params(facts.path, facts.route.unwrap_or(""), params, host)?;
        }
        let path = masked_text(masker, path, host)?;
        let url_original = if query.is_empty() {
            path.to_string()
        } else {
            crate::concat(&[&path, "?", &query])
        };
        let (domain, port) = split_port(facts.host);
        let url_full = (!facts.host.is_empty()).then(|| {
            let scheme = if facts.scheme.is_empty() {
                "http"
            } else {
                facts.scheme
            };
            crate::concat(&[scheme, "://", &cap(facts.host, 255), &url_original])
        });
        let version = facts
            .http_version
            .strip_prefix("HTTP/")
            .unwrap_or(facts.http_version);
        values.extend([
            Value::Str(cap(facts.method, 32)),
            Value::text(facts.scheme),
            Value::text_or_null(cap(domain, 255)),
            Value::optional(port, Value::Int),
            Value::Str(path),
            Value::text_or_null(Cow::Owned(query)),
            Value::text(url_original),
            Value::optional_text(url_full),
            Value::text_or_null(Cow::Borrowed(version)),
            Value::optional_text(facts.route),
            Value::optional_text(facts.view),
        ]);
        Ok(())
    }

    fn party_fields<'a>(
        &self,
        facts: &'a Facts<'a>,
        values: &mut Vec<Value<'a>>,
        host: &mut dyn PatternHost,
    ) -> Result<(), Stop> {
        let masker = self.masker;
        let addresses = ip::resolve(facts.remote_addr, facts.forwarded_for, self.trusted);
        let peer_port = port_number(facts.remote_port);
        let client_port = match &addresses.client {
            Some(client) if addresses.peer.as_ref() == Some(client) => peer_port,
            _ => None,
        };
        let chain = (!facts.forwarded_for.is_empty()).then(|| {
            addresses
                .chain
                .iter()
                .map(|hop| Cow::Borrowed(*hop))
                .collect()
        });
        let user_agent = masked_text(masker, Cow::Borrowed(facts.user_agent), host)?;
        let referer = mask_url(masker, &cap(facts.referer, MAX_TEXT_FIELD), host)?;
        let headers = match &facts.headers {
            Some(raw) => Value::Map(self.headers(raw, host)?),
            None => Value::Null,
        };
        values.extend([
            Value::optional_text(addresses.client),
            Value::optional(client_port, Value::Int),
            Value::optional_text(addresses.peer),
            Value::optional(peer_port, Value::Int),
            Value::optional(chain, Value::List),
            Value::optional_text(facts.user_id),
            Value::optional(facts.username, |name| Value::Str(cap(name, 256))),
            Value::text_or_null(user_agent),
            Value::text_or_null(Cow::Owned(referer)),
            headers,
        ]);
        Ok(())
    }

    fn headers<'a>(
        &self,
        raw: &[(&'a str, &'a str)],
        host: &mut dyn PatternHost,
    ) -> Result<Vec<(String, Cow<'a, str>)>, Stop> {
        let mut kept: Vec<(String, Cow<'a, str>)> = Vec::with_capacity(raw.len().min(MAX_HEADERS));
        for &(name, value) in raw.iter().take(MAX_HEADERS) {
            if !name.is_ascii() {
                return Err(Stop::Decline); // str.lower() is Unicode's
            }
            let key = name.to_ascii_lowercase();
            let value = self.header_value(&key, value, host)?;
            match kept.iter_mut().find(|(known, _)| *known == key) {
                Some(entry) => entry.1 = value,
                None => kept.push((key, value)),
            }
        }
        Ok(kept)
    }

    /// `_header_value`: masked first, then cut to the byte limit, so a
    /// secret straddling the cut is masked whole.
    fn header_value<'a>(
        &self,
        key: &str,
        value: &'a str,
        host: &mut dyn PatternHost,
    ) -> Result<Cow<'a, str>, Stop> {
        let masker = self.masker;
        if masker.is_sensitive_key(key) {
            return Ok(Cow::Borrowed(REDACTED));
        }
        let window = head(value, MAX_HEADER_VALUE * 2);
        let masked = if window.starts_with("http://")
            || window.starts_with("https://")
            || window.starts_with('/')
        {
            let url = mask_url(masker, window, host)?;
            Cow::Owned(masker.scrub_free_text(&url, host)?.into_owned())
        } else {
            masker.scrub_free_text(window, host)?
        };
        Ok(cap_bytes(masked, MAX_HEADER_VALUE))
    }

    fn body_fields<'a>(
        &self,
        facts: &'a Facts<'a>,
        values: &mut Vec<Value<'a>>,
        host: &mut dyn PatternHost,
    ) -> Result<(), Stop> {
        let masker = self.masker;
        let also = facts
            .sensitive_post
            .as_ref()
            .map(|names| Also::new(names.iter().map(|n| n.to_string()).collect()))
            .unwrap_or_default();
        let request = if facts.body_omitted {
            let kind = if facts.body_bytes.unwrap_or(0) != 0 {
                "omitted"
            } else {
                "empty"
            };
            Body {
                content: None,
                kind,
                truncated: false,
            }
        } else {
            let captured = Captured {
                prefix: facts.body_prefix,
                total: facts.body_bytes,
                content_type: facts.content_type,
                content_encoding: facts.content_encoding,
                parts: facts.body_parts.as_deref(),
            };
            masker.body(&captured, &also, host)?
        };
        let captured = Captured {
            prefix: facts.response_body_prefix,
            total: facts.response_bytes,
            content_type: facts.response_content_type,
            content_encoding: "",
            parts: None,
        };
        let response = masker.body(&captured, &Also::default(), host)?;
        let response_truncated = response
            .content
            .is_some()
            .then_some(response.truncated || facts.response_truncated);
        values.extend([
            Value::text_or_null(cap(facts.content_type, 256)),
            Value::optional_text(request.content),
            Value::optional(facts.body_bytes, Value::Int),
            Value::Bool(request.truncated),
            Value::text(request.kind),
            Value::optional(facts.body_unread, Value::Bool),
            Value::text_or_null(cap(facts.response_content_type, 256)),
            Value::optional(facts.response_bytes, Value::Int),
            Value::optional_text(response.content),
            Value::optional(response_truncated, Value::Bool),
            Value::optional(facts.response_aborted, Value::Bool),
        ]);
        Ok(())
    }
}

/// `_masked_text`: a path or user agent, capped and scrubbed of secret-shaped values.
fn masked_text<'a>(
    masker: &Masker,
    text: Cow<'a, str>,
    host: &mut dyn PatternHost,
) -> Result<Cow<'a, str>, Stop> {
    let capped = text::cap_cow(text, MAX_TEXT_FIELD);
    Ok(match capped {
        Cow::Borrowed(unit) => masker.scrub_text(unit, host)?,
        Cow::Owned(unit) => Cow::Owned(masker.scrub_text(&unit, host)?.into_owned()),
    })
}

/// (host, port) of a Host header: split at the last ":" when digits follow
/// it (`rpartition`: a host of digits alone is all port).
fn split_port(host: &str) -> (&str, Option<i64>) {
    let (name, port) = host.rsplit_once(':').unwrap_or(("", host));
    if text::is_port(port) && !host.ends_with(']') {
        (name, port_number(port))
    } else {
        (host, None)
    }
}

/// `_mask_url`: a URL from a header (Referer): its query and fragment masked
/// like the request's own query, its userinfo password dropped, and the
/// rest scrubbed for token-shaped values.
pub fn mask_url(masker: &Masker, url: &str, host: &mut dyn PatternHost) -> Result<String, Stop> {
    if url.is_empty() {
        return Ok(String::new());
    }
    let (base, query, fragment) = match url.split_once('?') {
        Some((base, rest)) => match rest.split_once('#') {
            Some((query, fragment)) => (base, Some(query), Some(fragment)),
            None => (base, Some(rest), None),
        },
        None => match url.split_once('#') {
            Some((base, fragment)) => (base, None, Some(fragment)),
            None => (url, None, None),
        },
    };
    let mut masked = masker.scrub_text(&drop_password(base), host)?.into_owned();
    if let Some(query) = query {
        masked.push('?');
        masked.push_str(&masker.mask_query(query, host)?);
    }
    if let Some(fragment) = fragment {
        masked.push('#');
        masked.push_str(&masker.mask_query(fragment, host)?);
    }
    Ok(masked)
}

/// `(//[^/@:?#\s]*:)[^/@?#\s]*@` replaced by its first group and
/// `[REDACTED]@`, left to right.
fn drop_password(base: &str) -> Cow<'_, str> {
    let stops = |ch: char, colon: bool| {
        matches!(ch, '/' | '@' | '?' | '#') || (colon && ch == ':') || crate::shapes::is_space(ch)
    };
    let run = |from: usize, colon: bool| {
        base[from..]
            .char_indices()
            .find(|&(_, ch)| stops(ch, colon))
            .map_or(base.len(), |(offset, _)| from + offset)
    };
    let mut out = String::new();
    let (mut copied, mut at) = (0, 0);
    while let Some(offset) = base[at..].find("//") {
        let start = at + offset;
        let user_end = run(start + 2, true);
        if base[user_end..].starts_with(':') {
            let password_end = run(user_end + 1, false);
            if base[password_end..].starts_with('@') {
                out.push_str(&base[copied..=user_end]);
                out.push_str(REDACTED);
                out.push('@');
                copied = password_end + 1;
                at = copied;
                continue;
            }
        }
        at = start + 1;
    }
    if copied == 0 {
        return Cow::Borrowed(base);
    }
    out.push_str(&base[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls() {
        assert_eq!(drop_password("https://u:p@x/"), "https://u:[REDACTED]@x/");
        assert_eq!(
            drop_password("///a:b@c"),
            "//".to_string() + "/a:[REDACTED]@c"
        );
        assert_eq!(drop_password("//a:b:c@d"), "//a:[REDACTED]@d");
        assert_eq!(drop_password("//a@b"), "//a@b");
        assert_eq!(drop_password("x"), "x");
    }

    #[test]
    fn label_indexes() {
        assert_eq!(FIELD_NAMES[LABELS], "labels");
        assert_eq!(FIELD_NAMES[LABELS_DROPPED], "labels_dropped");
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(split_port("a.example:8443"), ("a.example", Some(8443)));
        assert_eq!(split_port("a.example:99999"), ("a.example", None));
        assert_eq!(split_port("[::1]"), ("[::1]", None));
        assert_eq!(split_port("a:²"), ("a:²", None));
        assert_eq!(split_port("8080"), ("", Some(8080)));
    }
}
