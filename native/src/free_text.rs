//! Free text: JSON fragments, value shapes, then `key: value` and
//! `key=value` pairs under sensitive keys ("Free text" in the specification).

use std::borrow::Cow;

use regex::Regex;

use crate::{Also, Masked, Masker, PatternHost, REDACTED};

/// Python's `str.isspace()` characters, as a regex class body.
const SPACE: &str = r"\t\n\x0B\x0C\r\x1C-\x1F \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}";
const KEY: &str = r"[A-Za-z0-9_.%\-\[\]]{1,96}";

/// The two pair patterns. Python writes the optional quote around the key
/// with a backreference, `(["']?)KEY\1`; the three branches here are the
/// same thing in the order Python tries them.
pub struct PairPatterns {
    colon: Regex,
    equals: Regex,
}

impl PairPatterns {
    pub fn new() -> PairPatterns {
        let key = format!(r#"(?:"({KEY})"|'({KEY})'|({KEY}))"#);
        let quoted = r#""[^"\n]*"|'[^'\n]*'"#;
        let colon = format!(r"{key}([{SPACE}]*:[ \t]*)({quoted}|[^{SPACE}&;,\{{\[][^\r\n&;,]*)");
        let equals =
            format!(r"{key}([{SPACE}]*=[{SPACE}]*)({quoted}|[^{SPACE}&;,\{{\[][^{SPACE}&;,]*)");
        PairPatterns {
            colon: Regex::new(&colon).expect("a fixed pattern"),
            equals: Regex::new(&equals).expect("a fixed pattern"),
        }
    }
}

impl Default for PairPatterns {
    fn default() -> Self {
        Self::new()
    }
}

impl Masker {
    pub fn scrub_free_text<'t>(&self, text: &'t str, host: &mut dyn PatternHost) -> Masked<'t> {
        let mut text = Cow::Borrowed(text);
        if text.contains(['{', '[']) {
            text = owned_if_changed(text.clone(), |unit| {
                self.mask_json(unit, &Also::default(), host)
            })?;
        }
        // Shapes first: "Authorization: Bearer x" must lose the token, not just "Bearer".
        let mut text = self.scrub(text, host)?;
        if text.contains(':') {
            text = self.mask_pairs_in_text(text, &self.pairs.colon);
        }
        if text.contains('=') {
            text = self.mask_pairs_in_text(text, &self.pairs.equals);
        }
        Ok(text)
    }

    /// Pairs are found left to right; after a pair whose key is not
    /// sensitive the search goes on right after its separator.
    fn mask_pairs_in_text<'t>(&self, text: Cow<'t, str>, pair: &Regex) -> Cow<'t, str> {
        let mut out = String::new();
        let mut copied = 0;
        let mut at = 0;
        let mut locations = pair.capture_locations();
        while pair.captures_read_at(&mut locations, &text, at).is_some() {
            let (key_start, key_end) = (1..=3)
                .find_map(|group| locations.get(group))
                .expect("one key branch");
            let (_, separator_end) = locations.get(4).expect("a separator");
            let (value_start, value_end) = locations.get(5).expect("a value");
            if self.is_sensitive_key(&unquote(&text[key_start..key_end])) {
                let quote = match text.as_bytes()[value_start] {
                    quote @ (b'"' | b'\'') => char::from(quote).to_string(),
                    _ => String::new(),
                };
                out.push_str(&text[copied..value_start]);
                out.push_str(&quote);
                out.push_str(REDACTED);
                out.push_str(&quote);
                copied = value_end;
                at = value_end;
            } else {
                at = separator_end;
            }
        }
        if copied == 0 {
            return text;
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

fn owned_if_changed<'t>(text: Cow<'t, str>, step: impl FnOnce(&str) -> Masked<'_>) -> Masked<'t> {
    Ok(match step(&text)? {
        Cow::Borrowed(_) => text,
        Cow::Owned(changed) => Cow::Owned(changed),
    })
}

/// Python's `urllib.parse.unquote`: `%XX` decoded, the bytes read as UTF-8
/// with replacement characters, anything else kept.
pub fn unquote(key: &str) -> Cow<'_, str> {
    if !key.contains('%') {
        return Cow::Borrowed(key);
    }
    let bytes = key.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok());
        match hex
            .filter(|_| bytes[i] == b'%')
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            Some(byte) if hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())) => {
                decoded.push(byte);
                i += 3;
            }
            _ => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
}
