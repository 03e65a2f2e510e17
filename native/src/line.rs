//! One JSON line per event: the envelope of the record, then the request
//! fields placed by a table (`ECS_PLACEMENT` / `LOGSTASH_PLACEMENT` in
//! `django_reqlog/formatters.py`, handed over once per configuration),
//! written byte for byte as `django_reqlog._json.dumps` writes the
//! formatter's dict.
//!
//! Numbers: integers are written as Python writes them; a float only when
//! it lies in [1e-4, 1e16) (or is zero), where Python's `repr`, orjson and
//! the stdlib agree on its spelling. Anything else declines.

use std::borrow::Cow;

use crate::event::{field_index, Fields, Number, Value, LABELS, LABELS_DROPPED};
use crate::Stop;

/// Events longer than this are trimmed by the Python formatter (`shrink`).
pub const MAX_EVENT_BYTES: usize = 300 * 1024;

/// How a placed value is written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Form {
    AsIs,
    /// An ISO 8601 UTC time with milliseconds, from epoch seconds.
    Iso,
    /// Milliseconds rounded to three places, from nanoseconds.
    Millis,
    /// ECS's `event.type`, from the status.
    EventType,
}

impl Form {
    pub fn parse(name: &str) -> Option<Form> {
        Some(match name {
            "" => Form::AsIs,
            "iso" => Form::Iso,
            "ms" => Form::Millis,
            "event_type" => Form::EventType,
            _ => return None,
        })
    }
}

/// One entry of a placement table: a request field (or a fixed value,
/// as JSON text), its form, and the field it goes only with.
pub struct Place {
    pub field: Option<usize>,
    pub fixed: String,
    pub form: Form,
    pub only_with: Option<usize>,
}

impl Place {
    pub fn new(
        field: Option<&str>,
        form: &str,
        fixed: Option<String>,
        only_with: Option<&str>,
    ) -> Result<Place, String> {
        let index = |name: &str| field_index(name).ok_or(format!("no request field {name:?}"));
        Ok(Place {
            field: field.map(index).transpose()?,
            fixed: fixed.unwrap_or_default(),
            form: Form::parse(form).ok_or(format!("no form {form:?}"))?,
            only_with: only_with.map(index).transpose()?,
        })
    }
}

/// A member of an object: `key` as written, `member` its JSON text up to
/// the value (`"key":`, or `"key":{` for an object).
enum Node {
    Object {
        key: String,
        member: String,
        children: Vec<Node>,
    },
    Leaf {
        key: String,
        member: String,
        place: Place,
    },
}

impl Node {
    fn key(&self) -> &str {
        match self {
            Node::Object { key, .. } | Node::Leaf { key, .. } => key,
        }
    }
}

fn member(key: &str, opening: &str) -> String {
    let mut text = String::new();
    write_string(&mut text, key);
    text.push(':');
    text.push_str(opening);
    text
}

/// A placement table as a tree of objects in output order. `drop_empty`:
/// an empty object counts as absent (ECS).
pub struct Placement {
    roots: Vec<Node>,
    drop_empty: bool,
}

impl Placement {
    /// Entries under one parent object must follow one another, so that the
    /// tree's order is the order a dict built entry by entry would have.
    pub fn new(entries: Vec<(Vec<String>, Place)>, drop_empty: bool) -> Result<Placement, String> {
        let mut roots = Vec::new();
        for (path, place) in entries {
            insert(&mut roots, &path, place)?;
        }
        Ok(Placement { roots, drop_empty })
    }

    /// Writes the placed fields as members of the object being written
    /// (after `written` members); `seed` gives members already known for a
    /// root object (ECS's `event.id`). Returns the count of members now written.
    pub fn write(
        &self,
        out: &mut String,
        fields: &Fields<'_>,
        mut written: usize,
        seed: Option<(&str, &str)>,
    ) -> Result<usize, Stop> {
        for node in &self.roots {
            let members = seed.filter(|(key, _)| *key == node.key()).map(|(_, m)| m);
            if self.write_node(out, node, fields, written > 0, members)? {
                written += 1;
            }
        }
        Ok(written)
    }

    /// Writes `"key":value` (with a comma first when `comma`), or nothing
    /// when the value is absent; returns whether it wrote.
    fn write_node(
        &self,
        out: &mut String,
        node: &Node,
        fields: &Fields<'_>,
        comma: bool,
        seed: Option<&str>,
    ) -> Result<bool, Stop> {
        let start = out.len();
        if comma {
            out.push(',');
        }
        match node {
            Node::Leaf { member, place, .. } => {
                let value = place.field.map(|index| fields.get(index));
                let absent = match value {
                    Some(value) => {
                        value.is_null()
                            || place
                                .only_with
                                .is_some_and(|other| fields.get(other).is_null())
                            || (self.drop_empty && matches!(value, Value::Map(m) if m.is_empty()))
                            || (self.drop_empty
                                && matches!(value, Value::Object(m) if m.is_empty()))
                    }
                    None => false,
                };
                if absent {
                    out.truncate(start);
                    return Ok(false);
                }
                out.push_str(member);
                match value {
                    None => out.push_str(&place.fixed),
                    Some(value) => write_form(out, value, place.form)?,
                }
                Ok(true)
            }
            Node::Object {
                member, children, ..
            } => {
                out.push_str(member);
                let mut written = 0;
                if let Some(members) = seed {
                    out.push_str(members);
                    written += 1;
                }
                for child in children {
                    if self.write_node(out, child, fields, written > 0, None)? {
                        written += 1;
                    }
                }
                if written == 0 {
                    out.truncate(start);
                    return Ok(false);
                }
                out.push('}');
                Ok(true)
            }
        }
    }
}

fn insert(nodes: &mut Vec<Node>, path: &[String], place: Place) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return Err("an empty path".to_string());
    };
    let last_is_parent = matches!(nodes.last(), Some(Node::Object { key, .. }) if key == first);
    if !last_is_parent && nodes.iter().any(|node| node.key() == first) {
        return Err(format!("{first:?} is placed twice or not in one run"));
    }
    if rest.is_empty() {
        if last_is_parent {
            return Err(format!("{first:?} is both a value and an object"));
        }
        nodes.push(Node::Leaf {
            key: first.clone(),
            member: member(first, ""),
            place,
        });
        return Ok(());
    }
    if !last_is_parent {
        nodes.push(Node::Object {
            key: first.clone(),
            member: member(first, "{"),
            children: Vec::new(),
        });
    }
    let Some(Node::Object { children, .. }) = nodes.last_mut() else {
        unreachable!("the parent was just found or pushed");
    };
    insert(children, rest, place)
}

fn write_form(out: &mut String, value: &Value<'_>, form: Form) -> Result<(), Stop> {
    let number = match value {
        Value::Int(value) => Some(*value as f64),
        Value::Float(value) => Some(*value),
        _ => None,
    };
    match (form, number) {
        (Form::AsIs, _) => write_value(out, value),
        (Form::Iso, Some(seconds)) => {
            out.push('"');
            write_iso(out, seconds)?;
            out.push('"');
            Ok(())
        }
        (Form::Millis, Some(nanos)) => write_float(out, round3(nanos / 1e6)?),
        (Form::EventType, Some(_)) => {
            let Value::Int(status) = value else {
                return Err(Stop::Decline);
            };
            out.push_str(if *status >= 500 {
                r#"["access","error"]"#
            } else {
                r#"["access"]"#
            });
            Ok(())
        }
        _ => Err(Stop::Decline),
    }
}

pub fn write_value(out: &mut String, value: &Value<'_>) -> Result<(), Stop> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(value) => write_int(out, *value),
        Value::Float(value) => write_float(out, *value)?,
        Value::Str(text) => write_string(out, text),
        Value::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, item);
            }
            out.push(']');
        }
        Value::Map(members) => write_object(out, members, |out, item| {
            write_string(out, item);
            Ok(())
        })?,
        Value::Object(members) => write_object(out, members, write_value)?,
    }
    Ok(())
}

/// A JSON object of `members`, each value written by `write_item`.
fn write_object<K: AsRef<str>, V>(
    out: &mut String,
    members: &[(K, V)],
    write_item: impl Fn(&mut String, &V) -> Result<(), Stop>,
) -> Result<(), Stop> {
    out.push('{');
    for (index, (key, item)) in members.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(out, key.as_ref());
        out.push(':');
        write_item(out, item)?;
    }
    out.push('}');
    Ok(())
}

pub fn write_number(out: &mut String, number: Number) -> Result<(), Stop> {
    match number {
        Number::Int(value) => write_int(out, value),
        Number::Float(value) => write_float(out, value)?,
    }
    Ok(())
}

pub fn write_int(out: &mut String, value: i64) {
    let mut buffer = itoa_buffer();
    out.push_str(format_int(&mut buffer, value));
}

fn itoa_buffer() -> [u8; 20] {
    [0u8; 20]
}

fn format_int(buffer: &mut [u8; 20], value: i64) -> &str {
    let negative = value < 0;
    let mut rest = value.unsigned_abs();
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        buffer[at] = b'-';
    }
    std::str::from_utf8(&buffer[at..]).unwrap_or("0")
}

/// A float as Python's `repr` (and orjson) spell it, where they agree.
pub fn write_float(out: &mut String, value: f64) -> Result<(), Stop> {
    let size = value.abs();
    if !(size == 0.0 || (1e-4..1e16).contains(&size)) {
        return Err(Stop::Decline);
    }
    let start = out.len();
    std::fmt::Write::write_fmt(out, format_args!("{value}")).map_err(|_| Stop::Decline)?;
    if !out[start..].contains('.') {
        out.push_str(".0");
    }
    Ok(())
}

/// Python's `round(value, 3)`: the decimal rounded half to even, read back.
fn round3(value: f64) -> Result<f64, Stop> {
    if !value.is_finite() {
        return Err(Stop::Decline);
    }
    format!("{value:.3}").parse().map_err(|_| Stop::Decline)
}

/// `_iso`: epoch seconds as `2026-01-02T03:04:05.678Z`.
pub fn write_iso(out: &mut String, created: f64) -> Result<(), Stop> {
    if !created.is_finite() {
        return Err(Stop::Decline);
    }
    let whole = created.trunc();
    let mut micros = ((created - whole) * 1e6).round_ties_even() as i64;
    let mut second = whole as i64;
    if micros >= 1_000_000 {
        second += 1;
        micros -= 1_000_000;
    }
    // Negative times and years past 9999 take the Python path.
    if micros < 0 || !(0..=253_402_300_799).contains(&second) {
        return Err(Stop::Decline);
    }
    let (year, month, day) = civil_from_days(second.div_euclid(86_400));
    let of_day = second.rem_euclid(86_400);
    push_digits(out, year, 4);
    out.push('-');
    push_digits(out, month, 2);
    out.push('-');
    push_digits(out, day, 2);
    out.push('T');
    push_digits(out, of_day / 3600, 2);
    out.push(':');
    push_digits(out, of_day / 60 % 60, 2);
    out.push(':');
    push_digits(out, of_day % 60, 2);
    out.push('.');
    push_digits(out, micros / 1000, 3);
    out.push('Z');
    Ok(())
}

/// `value` in `width` decimal digits, zero-padded (`width` at most 4).
fn push_digits(out: &mut String, value: i64, width: usize) {
    let mut buffer = [b'0'; 4];
    let mut rest = value;
    for slot in buffer[..width].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.push_str(std::str::from_utf8(&buffer[..width]).unwrap_or("0"));
}

/// (year, month, day) of a count of days since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A JSON string as `dumps` writes it: `"`, `\` and control characters
/// escaped (`\n \r \t \b \f`, else `\u00xx`), everything else as it is.
pub fn write_string(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    // Each byte takes at most 6 (`\u00xx`), or 2 without control characters;
    // 8 more for the whole words stored below past the end of what counts.
    let widest = if has_control(bytes) { 6 } else { 2 };
    // SAFETY: what is appended is `text` with ASCII escapes put in before
    // ASCII bytes, between ASCII quotes: valid UTF-8. The capacity reserved
    // holds the widest result plus one word, so every write below is in
    // bounds, and the length is set to exactly the bytes that count.
    unsafe {
        let buffer = out.as_mut_vec();
        buffer.reserve(bytes.len() * widest + 2 + 8);
        let base = buffer.len();
        let dst = buffer.as_mut_ptr().add(base);
        *dst = b'"';
        let mut n = 1;
        let mut i = 0;
        while i + 8 <= bytes.len() {
            std::ptr::copy_nonoverlapping(bytes.as_ptr().add(i), dst.add(n), 8);
            let flags = crate::string_stops(crate::read_word(bytes, i));
            if flags == 0 {
                n += 8;
                i += 8;
                continue;
            }
            let clean = flags.trailing_zeros() as usize / 8;
            n += clean;
            i += clean;
            n += put_escape(dst.add(n), bytes[i]);
            i += 1;
        }
        for &byte in &bytes[i..] {
            if byte >= 0x20 && byte != b'"' && byte != b'\\' {
                *dst.add(n) = byte;
                n += 1;
            } else {
                n += put_escape(dst.add(n), byte);
            }
        }
        *dst.add(n) = b'"';
        buffer.set_len(base + n + 1);
    }
}

/// Writes the escape of `byte` at `dst` (room for 6 bytes); returns its length.
///
/// # Safety
/// `dst` must have room for 6 bytes.
#[inline]
unsafe fn put_escape(dst: *mut u8, byte: u8) -> usize {
    if byte == b'"' || byte == b'\\' {
        *dst = b'\\';
        *dst.add(1) = byte;
        return 2;
    }
    let escape = escape_of(byte);
    std::ptr::copy_nonoverlapping(escape.as_ptr(), dst, 6);
    if escape[2] == 0 {
        2
    } else {
        6
    }
}

/// Whether any byte is a control character, eight bytes at a time.
fn has_control(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let word = crate::read_word(bytes, at);
        if word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0 {
            return true;
        }
        at += 8;
    }
    bytes[at..].iter().any(|&byte| byte < 0x20)
}

/// The escape of a control character, 6 bytes: `\u00xx`, or a two-byte
/// escape padded with zeros.
fn escape_of(byte: u8) -> &'static [u8; 6] {
    static CONTROL: [[u8; 6]; 32] = {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut table = [[0u8; 6]; 32];
        let mut byte = 0;
        while byte < 32 {
            table[byte] = match byte as u8 {
                b'\n' => [b'\\', b'n', 0, 0, 0, 0],
                b'\r' => [b'\\', b'r', 0, 0, 0, 0],
                b'\t' => [b'\\', b't', 0, 0, 0, 0],
                0x08 => [b'\\', b'b', 0, 0, 0, 0],
                0x0c => [b'\\', b'f', 0, 0, 0, 0],
                _ => [b'\\', b'u', b'0', b'0', HEX[byte >> 4], HEX[byte & 15]],
            };
            byte += 1;
        }
        table
    };
    &CONTROL[usize::from(byte & 31)]
}

/// A scalar of the record's envelope, as Python holds it.
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
}

impl Scalar<'_> {
    fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    fn write(&self, out: &mut String) -> Result<(), Stop> {
        match self {
            Scalar::Null => out.push_str("null"),
            Scalar::Bool(true) => out.push_str("true"),
            Scalar::Bool(false) => out.push_str("false"),
            Scalar::Number(number) => write_number(out, *number)?,
            Scalar::Str(text) => write_string(out, text),
        }
        Ok(())
    }
}

/// What a record carries besides the request fields.
pub struct Record<'a> {
    pub created: f64,
    pub levelname: Scalar<'a>,
    pub message: Cow<'a, str>,
    pub name: Scalar<'a>,
    pub pathname: Scalar<'a>,
    pub filename: Scalar<'a>,
    pub lineno: Scalar<'a>,
    pub func_name: Scalar<'a>,
    pub process: Scalar<'a>,
    pub thread_name: Scalar<'a>,
    pub event_id: Scalar<'a>,
}

/// The ECS formatter's options.
pub struct EcsOptions<'a> {
    pub hostname: &'a str,
    pub service_name: Option<&'a str>,
}

/// `key` (JSON text up to the value, a comma first where needed), then the value.
fn scalar_member(out: &mut String, key: &str, value: &Scalar<'_>) -> Result<(), Stop> {
    out.push_str(key);
    value.write(out)
}

/// `ECSFormatter.format_to_dict`, written out.
pub fn ecs_line(
    record: &Record<'_>,
    options: &EcsOptions<'_>,
    placement: &Placement,
    fields: &Fields<'_>,
) -> Result<String, Stop> {
    let Scalar::Str(level) = &record.levelname else {
        return Err(Stop::Decline);
    };
    if !level.is_ascii() {
        return Err(Stop::Decline); // str.lower() is Unicode's
    }
    let mut out = String::with_capacity(1024 + fields.text_len() * 9 / 8 + record.message.len());
    out.push_str("{\"@timestamp\":\"");
    write_iso(&mut out, record.created)?;
    out.push_str("\",\"log.level\":");
    write_string(&mut out, &level.to_ascii_lowercase());
    out.push_str(",\"message\":");
    write_string(&mut out, &record.message);
    out.push_str(",\"ecs\":{\"version\":\"8.11.0\"},\"log\":{");
    scalar_member(&mut out, "\"logger\":", &record.name)?;
    out.push_str(",\"origin\":{\"file\":{");
    let mut file = Vec::new();
    if !record.filename.is_null() {
        file.push(("\"name\":", &record.filename));
    }
    if !record.lineno.is_null() {
        file.push(("\"line\":", &record.lineno));
    }
    for (index, (key, value)) in file.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        scalar_member(&mut out, key, value)?;
    }
    out.push_str("},");
    scalar_member(&mut out, "\"function\":", &record.func_name)?;
    out.push_str("}},\"process\":{");
    if !record.process.is_null() {
        scalar_member(&mut out, "\"pid\":", &record.process)?;
        out.push(',');
    }
    scalar_member(&mut out, "\"thread\":{\"name\":", &record.thread_name)?;
    out.push_str("}},\"host\":{\"hostname\":");
    write_string(&mut out, options.hostname);
    out.push('}');
    if let Some(service) = options.service_name {
        out.push_str(",\"service\":{\"name\":");
        write_string(&mut out, service);
        out.push('}');
    }
    let mut event_id = String::new();
    if !record.event_id.is_null() {
        scalar_member(&mut event_id, "\"id\":", &record.event_id)?;
    }
    let seed = (!event_id.is_empty()).then_some(("event", event_id.as_str()));
    placement.write(&mut out, fields, 1, seed)?;
    out.push('}');
    finished(out)
}

/// The Logstash formatter's options.
pub struct LogstashOptions<'a> {
    pub host: &'a str,
    pub tags: Vec<&'a str>,
    pub message_type: &'a str,
    /// `LOGSTASH_RESERVED`, sorted: names a label may not take.
    pub reserved: &'a [String],
}

/// `LogstashFormatter.format_to_dict`, written out.
pub fn logstash_line(
    record: &Record<'_>,
    options: &LogstashOptions<'_>,
    placement: &Placement,
    fields: &Fields<'_>,
) -> Result<String, Stop> {
    let mut out = String::with_capacity(1024 + fields.text_len() * 9 / 8 + record.message.len());
    out.push_str("{\"@timestamp\":\"");
    write_iso(&mut out, record.created)?;
    out.push_str("\",\"@version\":\"1\",\"message\":");
    write_string(&mut out, &record.message);
    out.push_str(",\"host\":");
    write_string(&mut out, options.host);
    scalar_member(&mut out, ",\"path\":", &record.pathname)?;
    out.push_str(",\"tags\":[");
    for (index, tag) in options.tags.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(&mut out, tag);
    }
    out.push_str("],\"type\":");
    write_string(&mut out, options.message_type);
    scalar_member(&mut out, ",\"level\":", &record.levelname)?;
    scalar_member(&mut out, ",\"logger_name\":", &record.name)?;
    placement.write(&mut out, fields, 1, None)?;
    write_flat_labels(&mut out, fields, options.reserved)?;
    out.push('}');
    finished(out)
}

/// `place_labels_flat`: the labels as top-level members, those with a
/// reserved name dropped, then the count of all dropped.
fn write_flat_labels(
    out: &mut String,
    fields: &Fields<'_>,
    reserved: &[String],
) -> Result<(), Stop> {
    let mut dropped = match fields.get(LABELS_DROPPED) {
        Value::Int(count) => *count,
        _ => 0,
    };
    if let Value::Object(members) = fields.get(LABELS) {
        for (key, value) in members {
            if reserved
                .binary_search_by(|name| name.as_str().cmp(key))
                .is_ok()
            {
                dropped += 1;
                continue;
            }
            out.push(',');
            write_string(out, key);
            out.push(':');
            write_value(out, value)?;
        }
    }
    if dropped != 0 {
        out.push_str(",\"labels_dropped\":");
        write_int(out, dropped);
    }
    Ok(())
}

fn finished(out: String) -> Result<String, Stop> {
    if out.len() > MAX_EVENT_BYTES {
        return Err(Stop::Decline); // the Python formatter trims it
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(seconds: f64) -> String {
        let mut out = String::new();
        write_iso(&mut out, seconds).unwrap();
        out
    }

    #[test]
    fn times() {
        assert_eq!(iso(1764236572.123456), "2025-11-27T09:42:52.123Z");
        assert_eq!(iso(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(951782400.0), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(1764236572.9999996), "2025-11-27T09:42:53.000Z");
    }

    #[test]
    fn floats() {
        let text = |value: f64| {
            let mut out = String::new();
            write_float(&mut out, value).map(|_| out)
        };
        assert_eq!(text(0.25).unwrap(), "0.25");
        assert_eq!(text(4.0).unwrap(), "4.0");
        assert_eq!(text(-0.0).unwrap(), "-0.0");
        assert_eq!(text(1e15).unwrap(), "1000000000000000.0");
        assert_eq!(text(0.0001).unwrap(), "0.0001");
        assert!(text(1e16).is_err());
        assert!(text(1e-5).is_err());
        assert_eq!(round3(0.0625).unwrap(), 0.062);
        assert_eq!(round3(12.5).unwrap(), 12.5);
    }

    #[test]
    fn strings() {
        let mut out = String::new();
        write_string(&mut out, "a\"\\\n\u{1}\u{7f}é\u{2028}");
        assert_eq!(out, "\"a\\\"\\\\\\n\\u0001\u{7f}é\u{2028}\"");
    }
}
