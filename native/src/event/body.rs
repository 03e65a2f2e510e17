//! Request and response bodies by kind (`_body` in `request_fields.py`): JSON, form,
//! multipart and text content masked; binary and compressed bodies, and
//! files in multipart bodies, as placeholders.

use std::borrow::Cow;
use std::fmt::Write;

use memchr::memmem;

use crate::json::encode_string;
use crate::{Also, Masker, PatternHost, Stop, REDACTED};

use super::text::{cap, cap_cow, starts_with_ignoring_case, strip, MAX_TEXT_FIELD};

/// One body's content (None: not captured), kind and whether it was cut short.
pub struct Body {
    pub content: Option<String>,
    pub kind: &'static str,
    pub truncated: bool,
}

/// A multipart part counted as the body streamed past: its raw header
/// block, its exact size and whether its end was seen.
pub type Counted<'a> = (&'a [u8], i64, bool);

/// A body's captured facts.
pub struct Captured<'a> {
    pub prefix: Option<&'a [u8]>,
    pub total: Option<i64>,
    pub content_type: &'a str,
    pub content_encoding: &'a str,
    pub parts: Option<&'a [Counted<'a>]>,
}

/// The part of a content type before its parameters, as `request_fields.py`
/// compares it (stripped, lower case). None for a non-ASCII one, whose
/// lower case is Unicode's: the core declines those.
fn mime(content_type: &str) -> Option<String> {
    let mime = strip(content_type.split(';').next().unwrap_or(""));
    mime.is_ascii().then(|| mime.to_ascii_lowercase())
}

/// `is_textual`: text, or an application type that carries text.
pub fn is_textual(content_type: &str) -> Option<bool> {
    let text = mime_text(content_type)?;
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("text/") {
        return Some(true);
    }
    let Some(rest) = lower.strip_prefix("application/") else {
        return Some(false);
    };
    const TYPES: [&str; 10] = [
        "json",
        "xml",
        "x-www-form-urlencoded",
        "javascript",
        "x-ndjson",
        "yaml",
        "x-yaml",
        "graphql",
        "csv",
        "problem+json",
    ];
    let known = |at: usize| TYPES.iter().any(|t| rest[at..].starts_with(t));
    // `(?:[\w.+-]*\+)?` before the type: any run of those characters ending in "+".
    let run = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(b))
        .count();
    let plus_ends = rest[..run].match_indices('+').map(|(at, _)| at + 1);
    Some(known(0) || plus_ends.into_iter().any(known))
}

/// The stripped text `is_textual` matches against; None when it is not ASCII.
fn mime_text(content_type: &str) -> Option<&str> {
    let text = strip(content_type);
    text.is_ascii().then_some(text)
}

/// `bytes.decode("utf-8", "replace")`.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

fn placeholder(kind: &str, content_type: &str, size: i64, encoding: &str) -> String {
    let shown = cap(content_type, 128);
    let mut out = format!(
        "[{kind} content_type={}",
        if shown.is_empty() { "unknown" } else { &shown }
    );
    if !encoding.is_empty() {
        let _ = write!(out, " encoding={}", cap(encoding, 64));
    }
    let _ = write!(out, " bytes={size}]");
    out
}

impl Masker {
    /// `_body`: (content, kind, truncated) of a captured body prefix.
    pub fn body(
        &self,
        body: &Captured<'_>,
        also: &Also,
        host: &mut dyn PatternHost,
    ) -> Result<Body, Stop> {
        let Some(prefix) = body.prefix else {
            let kind = if body.total.unwrap_or(0) == 0 {
                "empty"
            } else {
                "unread"
            };
            return Ok(Body {
                content: None,
                kind,
                truncated: false,
            });
        };
        let size = body.total.unwrap_or(prefix.len() as i64);
        let truncated = size > prefix.len() as i64;
        let done = |content: String, kind| {
            Ok(Body {
                content: Some(content),
                kind,
                truncated,
            })
        };
        if prefix.is_empty() {
            let (content, kind) = if size == 0 {
                (Some(String::new()), "empty")
            } else {
                (None, "unread")
            };
            return Ok(Body {
                content,
                kind,
                truncated,
            });
        }
        let mime = mime(body.content_type).ok_or(Stop::Decline)?;
        let encoding = strip(body.content_encoding);
        if !encoding.is_ascii() {
            return Err(Stop::Decline);
        }
        let encoding = encoding.to_ascii_lowercase();
        if !encoding.is_empty() && encoding != "identity" {
            return done(
                placeholder("binary", body.content_type, size, &encoding),
                "binary",
            );
        }
        if mime == "multipart/form-data" {
            let content = self.multipart(prefix, body.content_type, also, body.parts, host)?;
            return done(content, "multipart");
        }
        if !mime.is_empty() && !is_textual(&mime).unwrap_or(false) {
            return done(placeholder("binary", body.content_type, size, ""), "binary");
        }
        if mime.is_empty() && memchr::memchr(0, prefix).is_some() {
            return done(placeholder("binary", "", size, ""), "binary");
        }
        let text = decode(prefix);
        let opens = || {
            text.trim_start_matches(crate::shapes::is_space)
                .starts_with(['{', '['])
        };
        if mime.contains("json") || (mime.is_empty() && opens()) {
            let masked = self.mask_json(&text, also, host)?.into_owned();
            return done(masked, "json");
        }
        if mime == "application/x-www-form-urlencoded" {
            return done(self.mask_form(&text, also, host)?, "form");
        }
        done(self.scrub_free_text(&text, host)?.into_owned(), "text")
    }

    /// Field names and values (masked) and file parts as placeholders, as a
    /// JSON object (`json.dumps(..., ensure_ascii=False)`).
    fn multipart(
        &self,
        prefix: &[u8],
        content_type: &str,
        also: &Also,
        counted: Option<&[Counted<'_>]>,
        host: &mut dyn PatternHost,
    ) -> Result<String, Stop> {
        let seen = prefix_parts(prefix, content_type);
        if seen.is_none() && counted.is_none() {
            return Ok(placeholder(
                "multipart",
                content_type,
                prefix.len() as i64,
                "",
            ));
        }
        let seen = seen.unwrap_or_default();
        let parts: Vec<Part<'_>> = match counted {
            None => seen,
            Some(counted) => counted
                .iter()
                .enumerate()
                .map(|(index, &(head, size, complete))| {
                    let headers = PartHeaders::read(&decode(head));
                    let data = seen.get(index).and_then(|part| part.data);
                    Part {
                        headers,
                        size,
                        complete,
                        data,
                    }
                })
                .collect(),
        };
        let mut fields: Vec<(String, Vec<String>)> = Vec::new();
        for part in parts {
            let Some(name) = part.headers.name.as_deref() else {
                continue;
            };
            let value = self.part_value(&part, name, also, host)?;
            let key = cap(name, 256).into_owned();
            match fields.iter_mut().find(|(known, _)| *known == key) {
                Some((_, values)) => values.push(value),
                None => fields.push((key, vec![value])),
            }
        }
        let mut out = String::from("{");
        for (index, (key, values)) in fields.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            out.push_str(&encode_string(key));
            out.push_str(": ");
            if let [value] = values.as_slice() {
                out.push_str(&encode_string(value));
            } else {
                let items: Vec<String> = values.iter().map(|v| encode_string(v)).collect();
                let _ = write!(out, "[{}]", items.join(", "));
            }
        }
        out.push('}');
        Ok(out)
    }

    fn part_value(
        &self,
        part: &Part<'_>,
        name: &str,
        also: &Also,
        host: &mut dyn PatternHost,
    ) -> Result<String, Stop> {
        let size = if part.complete {
            part.size.to_string()
        } else {
            format!(">={}", part.size)
        };
        let part_type = part.headers.content_type.as_str();
        let is_file = part.headers.filename.is_some()
            || (!part_type.is_empty() && !is_textual(part_type).ok_or(Stop::Decline)?);
        if is_file {
            let filename = part.headers.filename.as_deref().unwrap_or("");
            let shown = cap(part_type, 128);
            let shown = if shown.is_empty() {
                Cow::Borrowed("unknown")
            } else {
                shown
            };
            return Ok(format!(
                "[file filename={} content_type={shown} bytes={size}]",
                cap(filename, 256)
            ));
        }
        if self.key_is_masked(name, also) {
            return Ok(REDACTED.to_string());
        }
        let Some(data) = part.data else {
            return Ok(format!("[not captured bytes={size}]"));
        };
        let text = cap_cow(decode(data), MAX_TEXT_FIELD);
        Ok(self.scrub_value(&text, host)?.into_owned())
    }
}

/// One part: headers, size, whether its end was seen, and its content as
/// far as the captured prefix holds it.
struct Part<'a> {
    headers: PartHeaders,
    size: i64,
    complete: bool,
    data: Option<&'a [u8]>,
}

/// `_prefix_parts`: the parts in the captured prefix; the last may be cut off.
fn prefix_parts<'a>(prefix: &'a [u8], content_type: &str) -> Option<Vec<Part<'a>>> {
    let boundary = boundary(content_type)?;
    let mut delimiter = b"--".to_vec();
    delimiter.extend(
        boundary
            .chars()
            .map(|ch| u8::try_from(u32::from(ch)).unwrap_or(b'?')),
    );
    let mut parts = Vec::new();
    let mut chunks = split(prefix, &delimiter).into_iter().skip(1);
    for chunk in chunks.by_ref() {
        if chunk.starts_with(b"--") {
            break;
        }
        let start = chunk
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        let chunk = &chunk[start..];
        let (head, data) = match memmem::find(chunk, b"\r\n\r\n") {
            Some(at) => (&chunk[..at], Some(&chunk[at + 4..])),
            None => (chunk, None),
        };
        let complete = data.is_some_and(|d| d.ends_with(b"\r\n"));
        let data = data.map(|d| if complete { &d[..d.len() - 2] } else { d });
        let headers = PartHeaders::read(&decode(head));
        let size = data.map_or(0, <[u8]>::len) as i64;
        parts.push(Part {
            headers,
            size,
            complete,
            data,
        });
    }
    Some(parts)
}

/// `bytes.split(delimiter)`.
fn split<'a>(text: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for at in memmem::find_iter(text, delimiter) {
        if at < start {
            continue; // overlapping occurrences: split() takes them left to right
        }
        pieces.push(&text[start..at]);
        start = at + delimiter.len();
    }
    pieces.push(&text[start..]);
    pieces
}

/// The first `boundary="?([^";]{1,200})"?` in a content type (any case).
fn boundary(content_type: &str) -> Option<&str> {
    for (at, _) in content_type.char_indices() {
        let Some(taken) = starts_with_ignoring_case(&content_type[at..], "boundary=") else {
            continue;
        };
        let mut rest = &content_type[at + taken..];
        rest = rest.strip_prefix('"').unwrap_or(rest);
        let end = rest
            .char_indices()
            .take(200)
            .take_while(|&(_, ch)| ch != '"' && ch != ';')
            .last()
            .map(|(i, ch)| i + ch.len_utf8());
        if let Some(end) = end {
            return Some(&rest[..end]);
        }
    }
    None
}

/// `_part_headers`: name, filename and content type from a part's header block.
#[derive(Default)]
struct PartHeaders {
    name: Option<String>,
    filename: Option<String>,
    content_type: String,
}

impl PartHeaders {
    fn read(block: &str) -> PartHeaders {
        let mut headers = PartHeaders::default();
        for line in block.split("\r\n") {
            let prefix = |word: &str| {
                line.len() >= word.len()
                    && line.is_char_boundary(word.len())
                    && line[..word.len()].eq_ignore_ascii_case(word)
            };
            if prefix("content-disposition:") {
                for (is_name, value) in disposition_params(line) {
                    let value = strip(value).to_string();
                    if is_name {
                        headers.name = Some(value);
                    } else {
                        headers.filename = Some(value);
                    }
                }
            } else if prefix("content-type:") {
                let value = line.split_once(':').map_or("", |(_, v)| v);
                headers.content_type = strip(value).to_string();
            }
        }
        headers
    }
}

/// The matches of `;\s*(name|filename)\*?=(?:"((?:[^"\\]|\\.)*)"|([^;]*))`
/// (any case) in a header line, left to right: (is "name", raw value).
fn disposition_params(line: &str) -> Vec<(bool, &str)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = line[at..].find(';') {
        let semicolon = at + offset;
        match disposition_param(line, semicolon + 1) {
            Some((is_name, value, end)) => {
                found.push((is_name, value));
                at = end;
            }
            None => at = semicolon + 1,
        }
    }
    found
}

fn disposition_param(line: &str, from: usize) -> Option<(bool, &str, usize)> {
    let rest = &line[from..];
    let spaces: usize = rest
        .chars()
        .take_while(|&ch| crate::shapes::is_space(ch))
        .map(char::len_utf8)
        .sum();
    let mut at = from + spaces;
    let (is_name, taken) = match starts_with_ignoring_case(&line[at..], "name") {
        Some(taken) => (true, taken),
        None => (false, starts_with_ignoring_case(&line[at..], "filename")?),
    };
    at += taken;
    if line[at..].starts_with('*') {
        at += 1;
    }
    at = at + line[at..].strip_prefix('=').map(|_| 1)?;
    if let Some(end) = quoted_end(line, at) {
        return Some((is_name, &line[at + 1..end], end + 1));
    }
    let end = line[at..]
        .find(';')
        .map_or(line.len(), |offset| at + offset);
    Some((is_name, &line[at..end], end))
}

/// Where `"((?:[^"\\]|\\.)*)"` starting at `at` finds its closing quote.
fn quoted_end(line: &str, at: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some(i),
            b'\\' => match line[i + 1..].chars().next() {
                Some(ch) if ch != '\n' => i += 1 + ch.len_utf8(),
                _ => return None,
            },
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textual_types() {
        for yes in [
            "text/html",
            "application/json",
            "application/vnd.api+json",
            "APPLICATION/XML",
        ] {
            assert_eq!(is_textual(yes), Some(true), "{yes}");
        }
        for no in [
            "image/png",
            "application/octet-stream",
            "application/x+y",
            "",
        ] {
            assert_eq!(is_textual(no), Some(false), "{no}");
        }
    }

    #[test]
    fn part_headers() {
        let headers = PartHeaders::read(
            "Content-Disposition: form-data; NAME=\"a\\\"b\"; fıLENAME=x.png\r\ncontent-type:  image/png ",
        );
        assert_eq!(headers.name.as_deref(), Some("a\\\"b"));
        assert_eq!(headers.filename.as_deref(), Some("x.png"));
        assert_eq!(headers.content_type, "image/png");
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary("multipart/form-data; Boundary=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data; boundary=x;y"), Some("x"));
        assert_eq!(boundary("multipart/form-data"), None);
    }
}
