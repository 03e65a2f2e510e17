//! JSON masked in the text as sent ("JSON" in the specification): one pass
//! over the tokens that masks values and checks, on the way, whether the
//! text is a valid document (strict mode) or not (lenient mode).

use std::borrow::Cow;

use memchr::memchr;

use crate::{
    class, concat, read_word, string_stops, Also, Hints, Masked, Masker, PatternHost, Stop,
};

/// Deeper documents are masked in lenient mode.
const MAX_DEPTH: usize = 128;
/// JSON documents inside JSON strings are masked by key down to this depth.
const NESTED_DEPTH: u32 = 2;
const PLACEHOLDER: &str = "\"[REDACTED]\"";

pub struct Walk<'a> {
    pub masker: &'a Masker,
    pub also: &'a Also,
    pub host: &'a mut dyn PatternHost,
}

enum Token {
    /// A string followed by a colon; `end` is after the closing quote.
    Key {
        end: usize,
        escaped: bool,
        hints: Hints,
    },
    String {
        end: usize,
        closed: bool,
        escaped: bool,
        hints: Hints,
    },
    Open,
    Close,
    Word {
        end: usize,
    },
}

/// The text stitched together from slices of the input and replacements.
struct Output<'t> {
    text: &'t str,
    out: String,
    copied: usize,
}

impl Output<'_> {
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        if self.out.capacity() == 0 {
            self.out.reserve(self.text.len() + 64);
        }
        self.out.push_str(&self.text[self.copied..start]);
        self.out.push_str(with);
        self.copied = end;
    }
}

impl Walk<'_> {
    pub fn mask<'t>(&mut self, text: &'t str, depth: u32) -> Masked<'t> {
        let bytes = text.as_bytes();
        let mut output = Output {
            text,
            out: String::new(),
            copied: 0,
        };
        let mut changed = false;
        let mut check = Validator::default();
        let (mut level, mut deepest) = (0usize, 0usize);
        let mut pending = false; // the next value belongs to a masked key
        let mut hidden: Option<(usize, usize)> = None; // a masked container: (start, level)
        let mut spans = self.masker.user_spans(text);
        let mut keys_seen: Vec<(&str, bool)> = Vec::new(); // keys repeat: "id", "qty", ...
        let mut at = 0;
        while let Some(start) = next_token(bytes, at) {
            let (token, next) = match bytes[start] {
                b',' => {
                    check.comma();
                    at = start + 1;
                    continue;
                }
                b':' => {
                    check.valid = false; // a colon after anything but a key
                    at = start + 1;
                    continue;
                }
                b'{' | b'[' => {
                    level += 1;
                    deepest = deepest.max(level);
                    check.open(bytes[start]);
                    (Token::Open, start + 1)
                }
                b'}' | b']' => {
                    level = level.saturating_sub(1);
                    check.close(bytes[start]);
                    (Token::Close, start + 1)
                }
                b'"' => string_token(bytes, start, &mut check),
                _ => {
                    let mut end = start + 1;
                    while end < bytes.len() && !is_delimiter(bytes[end]) {
                        end += 1;
                    }
                    check.word(&bytes[start..end]);
                    (Token::Word { end }, end)
                }
            };
            at = next;
            if let Some((hidden_start, hidden_level)) = hidden {
                if matches!(token, Token::Close) && level < hidden_level {
                    output.replace(hidden_start, next, PLACEHOLDER);
                    changed = true;
                    hidden = None;
                }
                continue;
            }
            let value_of_masked_key = std::mem::take(&mut pending);
            let replacement = match token {
                Token::Open if value_of_masked_key => {
                    hidden = Some((start, level));
                    None
                }
                Token::String { end, .. } | Token::Word { end } if value_of_masked_key => {
                    Some((end, PLACEHOLDER.to_string()))
                }
                Token::Key {
                    end,
                    escaped,
                    hints,
                } => {
                    let body = &text[start + 1..end - 1];
                    if escaped {
                        let key = decode(body)?;
                        pending = self.masker.key_is_masked(&key, self.also);
                        let masked = self.masker.scrub(Cow::Borrowed(&key), self.host)?;
                        string_text(true, &key, &masked, true).map(|new| (end, new))
                    } else {
                        pending = match seen_key(&keys_seen, body) {
                            Some(masked) => masked,
                            None => {
                                let masked = self.masker.key_is_masked(body, self.also);
                                if keys_seen.len() < 16 {
                                    keys_seen.push((body, masked));
                                }
                                masked
                            }
                        };
                        if self
                            .masker
                            .unit_may_change(body, hints, start + 1, &mut spans)
                        {
                            let masked = self.masker.scrub(Cow::Borrowed(body), self.host)?;
                            string_text(false, body, &masked, true).map(|new| (end, new))
                        } else {
                            None
                        }
                    }
                }
                Token::String {
                    end,
                    closed,
                    escaped,
                    hints,
                } => {
                    let body = &text[start + 1..if closed { end - 1 } else { end }];
                    let nested = depth < NESTED_DEPTH && opens_document(body);
                    let plain = !escaped && !nested;
                    if plain
                        && !self
                            .masker
                            .unit_may_change(body, hints, start + 1, &mut spans)
                    {
                        None
                    } else {
                        self.mask_string(body, closed, escaped, depth)?
                            .map(|new| (end, new))
                    }
                }
                Token::Word { end } => {
                    let word = &text[start..end];
                    let hints = Hints::of(word.as_bytes());
                    if is_number(word.as_bytes())
                        && !self.masker.unit_may_change(word, hints, start, &mut spans)
                    {
                        None
                    } else {
                        self.mask_word(word)?.map(|new| (end, new))
                    }
                }
                Token::Open | Token::Close => None,
            };
            if let Some((end, new)) = replacement {
                output.replace(start, end, &new);
                changed = true;
            }
        }
        if let Some((hidden_start, _)) = hidden {
            output.replace(hidden_start, bytes.len(), PLACEHOLDER); // never closed: masked to the end
            changed = true;
        }
        let masked = if changed {
            output.out.push_str(&text[output.copied..]);
            Cow::Owned(output.out)
        } else {
            Cow::Borrowed(text)
        };
        if check.is_valid() && deepest <= MAX_DEPTH {
            return Ok(masked);
        }
        self.masker.scrub(masked, self.host)
    }

    /// A string value; a JSON document inside it is masked as a document.
    fn mask_string(
        &mut self,
        body: &str,
        closed: bool,
        escaped: bool,
        depth: u32,
    ) -> Result<Option<String>, Stop> {
        let value = if escaped {
            decode(body)?
        } else {
            Cow::Borrowed(body)
        };
        if depth < NESTED_DEPTH && opens_document(&value) {
            let masked = self.mask(&value, depth + 1)?;
            return Ok(string_text(true, &value, &masked, closed));
        }
        let masked = self.masker.scrub(Cow::Borrowed(&value), self.host)?;
        Ok(string_text(escaped, &value, &masked, closed))
    }

    /// A number whose digits hold a secret shape becomes a quoted
    /// placeholder; in text that is not JSON, other words are free text.
    fn mask_word(&mut self, word: &str) -> Result<Option<String>, Stop> {
        if matches!(word, "true" | "false" | "null") {
            return Ok(None);
        }
        if is_number(word.as_bytes()) {
            let masked = self.masker.scrub_text(word, self.host)?;
            return Ok((masked != word).then(|| PLACEHOLDER.to_string()));
        }
        let masked = self.masker.scrub_free_text(word, self.host)?;
        Ok((masked != word).then(|| masked.into_owned()))
    }
}

/// Whether a string's text, after JSON whitespace, starts a document.
fn opens_document(value: &str) -> bool {
    value
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with(['{', '['])
}

/// The verdict on a key met before in the same document.
fn seen_key(seen: &[(&str, bool)], key: &str) -> Option<bool> {
    let same = |known: &str| {
        known.len() == key.len() && known.bytes().zip(key.bytes()).all(|(a, b)| a == b)
    };
    seen.iter()
        .find(|(known, _)| same(known))
        .map(|&(_, masked)| masked)
}

/// The string's new text, or None when masking changed nothing. Without
/// escapes the masked text goes between the quotes as it is; otherwise it is
/// encoded again.
#[allow(clippy::ptr_arg)] // a borrowed result is an unchanged one
fn string_text(encode: bool, value: &str, masked: &Cow<'_, str>, closed: bool) -> Option<String> {
    let masked = match masked {
        Cow::Borrowed(_) => return None,
        Cow::Owned(masked) if masked == value => return None,
        Cow::Owned(masked) => masked,
    };
    let mut text = if encode {
        encode_string(masked)
    } else {
        concat(&["\"", masked, "\""])
    };
    if !closed {
        text.pop();
    }
    Some(text)
}

fn is_json_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_delimiter(byte: u8) -> bool {
    is_json_space(byte) || matches!(byte, b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"')
}

fn next_token(bytes: &[u8], from: usize) -> Option<usize> {
    match bytes.get(from) {
        Some(&byte) if byte > b' ' => return Some(from),
        None => return None,
        _ => {}
    }
    let mut i = from;
    while i < bytes.len() {
        if !is_json_space(bytes[i]) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A string starting at `start`, and whether a colon follows (a key).
fn string_token(bytes: &[u8], start: usize, check: &mut Validator) -> (Token, usize) {
    let (end, closed, escaped, valid, hints) = scan_string(bytes, start);
    if closed {
        if let Some(colon) = next_token(bytes, end).filter(|&i| bytes[i] == b':') {
            check.key(valid);
            return (
                Token::Key {
                    end,
                    escaped,
                    hints,
                },
                colon + 1,
            );
        }
    }
    check.value(valid && closed);
    (
        Token::String {
            end,
            closed,
            escaped,
            hints,
        },
        end,
    )
}

/// (end, closed, has escapes, valid JSON string, hints) for the string at
/// `start`. Eight bytes are read at a time, past the string's end too while
/// the text goes on: only the bytes before the first stop are counted.
fn scan_string(bytes: &[u8], start: usize) -> (usize, bool, bool, bool, Hints) {
    let (mut escaped, mut valid) = (false, true);
    let mut hints = Hints::default();
    let mut i = start + 1;
    loop {
        let stop = if i + 8 <= bytes.len() {
            let word = read_word(bytes, i);
            let stops = string_stops(word);
            let clean = stops.trailing_zeros() as usize / 8;
            hints.take_word(word, clean);
            i += clean;
            if stops == 0 {
                continue;
            }
            i
        } else {
            while i < bytes.len()
                && class::OF[usize::from(bytes[i])] & (class::STOP | class::CONTROL) == 0
            {
                hints.take(class::OF[usize::from(bytes[i])]);
                i += 1;
            }
            if i == bytes.len() {
                return (i, false, escaped, false, hints);
            }
            i
        };
        match bytes[stop] {
            b'"' => return (stop + 1, true, escaped, valid, hints),
            b'\\' => {
                escaped = true;
                match bytes.get(stop + 1) {
                    None => return (bytes.len(), false, true, false, hints),
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => valid &= hex4(bytes, stop + 2).is_some(),
                    Some(_) => valid = false,
                }
                i = stop + 2;
            }
            control => {
                valid = false; // JSON forbids them unescaped
                hints.take(class::OF[usize::from(control)]);
                i = stop + 1;
            }
        }
    }
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// A JSON string's contents with its escapes decoded; an escape JSON does
/// not define (or one cut short) is kept as written. A lone surrogate
/// cannot be a Rust string: the call is declined.
pub fn decode(body: &str) -> Result<Cow<'_, str>, Stop> {
    let bytes = body.as_bytes();
    let Some(first) = memchr(b'\\', bytes) else {
        return Ok(Cow::Borrowed(body));
    };
    let mut out = String::with_capacity(body.len());
    let (mut copied, mut at) = (0, first);
    loop {
        out.push_str(&body[copied..at]);
        let (decoded, next) = match bytes.get(at + 1) {
            Some(b'"') => ('"', at + 2),
            Some(b'\\') => ('\\', at + 2),
            Some(b'/') => ('/', at + 2),
            Some(b'b') => ('\u{8}', at + 2),
            Some(b'f') => ('\u{c}', at + 2),
            Some(b'n') => ('\n', at + 2),
            Some(b'r') => ('\r', at + 2),
            Some(b't') => ('\t', at + 2),
            Some(b'u') if hex4(bytes, at + 2).is_some() => unicode_escape(bytes, at)?,
            _ => ('\\', at + 1),
        };
        out.push(decoded);
        copied = next;
        match memchr(b'\\', &bytes[next..]) {
            Some(offset) => at = next + offset,
            None => break,
        }
    }
    out.push_str(&body[copied..]);
    Ok(Cow::Owned(out))
}

/// `\uXXXX` at `at`, joined with a following low surrogate escape.
fn unicode_escape(bytes: &[u8], at: usize) -> Result<(char, usize), Stop> {
    let unit = hex4(bytes, at + 2).ok_or(Stop::Decline)?;
    if (0xD800..0xDC00).contains(&unit) && bytes.get(at + 6..at + 8) == Some(b"\\u") {
        if let Some(low @ 0xDC00..=0xDFFF) = hex4(bytes, at + 8) {
            let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            return Ok((char::from_u32(code).ok_or(Stop::Decline)?, at + 12));
        }
    }
    Ok((char::from_u32(unit).ok_or(Stop::Decline)?, at + 6))
}

/// JSON string text as Python's `json.dumps(s, ensure_ascii=False)` writes it.
pub fn encode_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\0'..='\u{1f}' => out.push_str(&format!("\\u{:04x}", ch as u32)),
            _ => out.push(ch),
        }
    }
    out.push('"');
    out
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
fn is_number(word: &[u8]) -> bool {
    let digits = |from: usize| {
        word[from.min(word.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(word.first() == Some(&b'-'));
    match word.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(i),
        _ => return false,
    }
    if word.get(i) == Some(&b'.') {
        let fraction = digits(i + 1);
        if fraction == 0 {
            return false;
        }
        i += 1 + fraction;
    }
    if matches!(word.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(word.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exponent = digits(i);
        if exponent == 0 {
            return false;
        }
        i += exponent;
    }
    i == word.len()
}

/// Whether the tokens form one RFC 8259 document, as Python's `json.loads`
/// (NaN and Infinity refused) would find it.
struct Validator {
    stack: Vec<u8>,
    state: State,
    valid: bool,
}

impl Default for Validator {
    fn default() -> Self {
        Validator {
            stack: Vec::new(),
            state: State::Value,
            valid: true,
        }
    }
}

#[derive(PartialEq, Clone, Copy)]
enum State {
    Value,
    FirstKeyOrEnd,
    Key,
    FirstValueOrEnd,
    CommaOrEnd,
    Done,
}

impl Validator {
    fn expect(&mut self, ok: bool) {
        self.valid &= ok;
    }

    fn in_value_position(&self) -> bool {
        matches!(self.state, State::Value | State::FirstValueOrEnd)
    }

    fn after_value(&mut self) {
        self.state = if self.stack.is_empty() {
            State::Done
        } else {
            State::CommaOrEnd
        };
    }

    fn value(&mut self, ok: bool) {
        self.expect(ok && self.in_value_position());
        self.after_value();
    }

    fn word(&mut self, word: &[u8]) {
        self.value(is_number(word) || matches!(word, b"true" | b"false" | b"null"));
    }

    fn key(&mut self, ok: bool) {
        self.expect(ok && matches!(self.state, State::FirstKeyOrEnd | State::Key));
        self.state = State::Value;
    }

    fn open(&mut self, bracket: u8) {
        self.expect(self.in_value_position());
        self.stack.push(bracket);
        self.state = if bracket == b'{' {
            State::FirstKeyOrEnd
        } else {
            State::FirstValueOrEnd
        };
    }

    fn close(&mut self, bracket: u8) {
        let opener = if bracket == b'}' { b'{' } else { b'[' };
        let state_ok = match self.state {
            State::CommaOrEnd => true,
            State::FirstKeyOrEnd => bracket == b'}',
            State::FirstValueOrEnd => bracket == b']',
            _ => false,
        };
        let popped = self.stack.pop();
        self.expect(state_ok && popped == Some(opener));
        self.after_value();
    }

    fn comma(&mut self) {
        self.expect(self.state == State::CommaOrEnd);
        self.state = match self.stack.last() {
            Some(b'{') => State::Key,
            _ => State::Value,
        };
    }

    fn is_valid(&self) -> bool {
        self.valid && self.state == State::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for good in [
            "0",
            "-0",
            "12",
            "1.5",
            "1e5",
            "-2.5E-3",
            "123456789012345678901234567890",
        ] {
            assert!(is_number(good.as_bytes()), "{good}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "1e+", "+1", "0x1", "1_000"] {
            assert!(!is_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn decoding() {
        assert_eq!(decode(r"pass\u0077ord").unwrap(), "password");
        assert_eq!(decode(r"a\x\n\\u0041").unwrap(), "a\\x\n\\u0041");
        assert_eq!(decode(r"\ud83d\ude00").unwrap(), "\u{1f600}");
        assert!(decode(r"\ud83d").is_err());
        assert_eq!(decode(r"cut\u00").unwrap(), r"cut\u00");
    }

    #[test]
    fn encoding_matches_python() {
        assert_eq!(
            encode_string("a\"\\\n\u{1}\u{7f}é\u{2028}"),
            "\"a\\\"\\\\\\n\\u0001\u{7f}é\u{2028}\""
        );
    }
}
