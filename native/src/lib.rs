//! The compiled masking core of django-reqlog.
//!
//! It implements the specification in docs/masking.md, as
//! `django_reqlog/masking.py` (the reference) does; the Python test suite
//! checks that both give the same output. The core is plain Rust: the PyO3
//! bindings live in `python.rs`, behind the default `python` feature.

use std::borrow::Cow;

pub mod event;
pub mod free_text;
pub mod json;
pub mod keys;
pub mod line;
pub mod pattern;
pub mod shapes;

#[cfg(feature = "python")]
mod python;
#[cfg(feature = "python")]
mod python_events;

pub const REDACTED: &str = "[REDACTED]";

/// Why a call stopped without an answer.
#[derive(Debug)]
pub enum Stop {
    /// Input the core does not handle (a lone surrogate escape): the caller
    /// masks it with the reference implementation instead.
    Decline,
    /// A user pattern run by the host (Python's `re`) raised.
    Host,
}

pub type Masked<'t> = Result<Cow<'t, str>, Stop>;

/// Runs what stays in Python: the user patterns Python's `re` keeps, and
/// route parameters lined up with a route that is a regular expression.
pub trait PatternHost {
    /// `re.sub("[REDACTED]", text)` with pattern number `index`; None if it raised.
    fn sub(&mut self, index: usize, text: &str) -> Option<String>;

    /// `mask_route_params(path, route, params)` in Python.
    fn mask_route(
        &mut self,
        _path: &str,
        _route: &str,
        _params: &[(&str, &str)],
    ) -> Result<String, Stop> {
        Err(Stop::Decline)
    }
}

enum Engine {
    Rust(pattern::NativePattern),
    Python,
}

/// Which keys are masked besides the sensitive ones: the view's
/// sensitive_post_parameters ("__ALL__": every key).
#[derive(Default)]
pub struct Also {
    pub names: Vec<String>,
    pub everything: bool,
}

impl Also {
    pub fn new(names: Vec<String>) -> Also {
        let everything = names.iter().any(|name| name == "__ALL__");
        Also { names, everything }
    }
}

/// The masking rules for one configuration of the settings.
pub struct Masker {
    keys: keys::KeyRules,
    patterns: Vec<Engine>,
    pairs: free_text::PairPatterns,
}

impl Masker {
    /// `names`: the sensitive key names; `patterns`:
    /// REQLOG_SENSITIVE_VALUE_PATTERNS with their Python flags.
    pub fn new(names: keys::Names, patterns: &[(String, u32)]) -> Masker {
        let patterns = patterns
            .iter()
            .map(|(source, flags)| {
                pattern::compile(source, *flags).map_or(Engine::Python, Engine::Rust)
            })
            .collect();
        Masker {
            keys: keys::KeyRules::new(names),
            patterns,
            pairs: free_text::PairPatterns::new(),
        }
    }

    /// "rust" (any text), "rust-ascii" (ASCII text; Python's `re` for the
    /// rest) or "python", for each user pattern.
    pub fn engines(&self) -> Vec<&'static str> {
        let name = |engine: &Engine| match engine {
            Engine::Rust(native) if native.any_text => "rust",
            Engine::Rust(_) => "rust-ascii",
            Engine::Python => "python",
        };
        self.patterns.iter().map(name).collect()
    }

    pub fn is_sensitive_key(&self, key: &str) -> bool {
        self.keys.is_sensitive(key)
    }

    pub fn key_is_masked(&self, key: &str, also: &Also) -> bool {
        also.everything || also.names.iter().any(|name| name == key) || self.keys.is_sensitive(key)
    }

    /// Where the Rust-run user patterns match in `text`: see [`Spans`].
    pub fn user_spans(&self, text: &str) -> Spans {
        let mut spans = Vec::new();
        for engine in &self.patterns {
            if let Engine::Rust(native) = engine {
                spans.extend(
                    native
                        .regex
                        .find_iter(text.as_bytes())
                        .map(|m| (m.start(), m.end())),
                );
            }
        }
        let python = self
            .patterns
            .iter()
            .any(|engine| matches!(engine, Engine::Python));
        let ascii_only = self
            .patterns
            .iter()
            .any(|engine| matches!(engine, Engine::Rust(native) if !native.any_text));
        Spans::new(spans, python, ascii_only)
    }

    /// Whether the value shapes may change `unit`, the slice of a document
    /// at `start` (without escapes) whose bytes `hints` describes. A
    /// built-in shape needs, in the unit itself: 13 digits (a card), a
    /// whitespace character in 14 bytes or more (a bearer word, whitespace
    /// and 8 token characters), or "eyJ" in 15 bytes or more (a JWT).
    #[inline]
    pub fn unit_may_change(
        &self,
        unit: &str,
        hints: Hints,
        start: usize,
        user: &mut Spans,
    ) -> bool {
        hints.digits >= 13
            || (hints.space && unit.len() >= 14)
            || (unit.len() >= 15 && unit.as_bytes().windows(3).any(|w| w == b"eyJ"))
            || user.may_match(unit, start)
    }

    /// The value shapes, in order, each on the result of the one before.
    pub fn scrub<'t>(&self, text: Cow<'t, str>, host: &mut dyn PatternHost) -> Masked<'t> {
        let mut text = then(then(text, shapes::bearer), shapes::jwt);
        for (index, engine) in self.patterns.iter().enumerate() {
            text = match engine {
                Engine::Rust(native) if native.any_text || text.is_ascii() => {
                    then(text, |unit| replace_all(&native.regex, unit))
                }
                _ => match host.sub(index, &text) {
                    None => return Err(Stop::Host),
                    Some(masked) if masked != *text => Cow::Owned(masked),
                    Some(_) => text,
                },
            };
        }
        Ok(then(text, shapes::cards))
    }

    pub fn scrub_text<'t>(&self, text: &'t str, host: &mut dyn PatternHost) -> Masked<'t> {
        self.scrub(Cow::Borrowed(text), host)
    }

    pub fn mask_json<'t>(
        &self,
        text: &'t str,
        also: &Also,
        host: &mut dyn PatternHost,
    ) -> Masked<'t> {
        json::Walk {
            masker: self,
            also,
            host,
        }
        .mask(text, 0)
    }

    /// One form, query or multipart value: a JSON document in it is masked
    /// by key, anything else as free text.
    pub fn scrub_value<'t>(&self, text: &'t str, host: &mut dyn PatternHost) -> Masked<'t> {
        if text
            .trim_start_matches(shapes::is_space)
            .starts_with(['{', '['])
        {
            return self.mask_json(text, &Also::default(), host);
        }
        self.scrub_free_text(text, host)
    }
}

/// What the bytes of a unit hold that the built-in shapes need.
#[derive(Default, Clone, Copy)]
pub struct Hints {
    pub digits: usize,
    /// A byte that is, or may begin, a whitespace character.
    pub space: bool,
}

/// Byte classes for reading JSON strings: where a string's text stops (a
/// quote or a backslash) and what the text holds on the way.
pub mod class {
    pub const STOP: u8 = 1;
    pub const DIGIT: u8 = 2;
    /// ASCII whitespace, or a byte of a character that may be whitespace.
    pub const SPACE: u8 = 4;
    pub const CONTROL: u8 = 8;

    pub static OF: [u8; 256] = {
        let mut table = [0u8; 256];
        let mut byte = 0;
        while byte < 256 {
            let b = byte as u8;
            table[byte] = match b {
                b'"' | b'\\' => STOP,
                b'0'..=b'9' => DIGIT,
                b' ' | 0x1c..=0x1f => SPACE,
                0x09..=0x0d => SPACE | CONTROL,
                0x00..=0x1f => CONTROL,
                0x80..=0xff => SPACE,
                _ => 0,
            };
            byte += 1;
        }
        table
    };
}

impl Hints {
    pub fn of(bytes: &[u8]) -> Hints {
        let mut hints = Hints::default();
        for &byte in bytes {
            hints.take(class::OF[usize::from(byte)]);
        }
        hints
    }

    /// Counts the first `count` bytes of `word` (all eight at most): the
    /// digits exactly, any byte at or below a space or beyond ASCII as a
    /// possible space. (A borrow may flag a byte above one at or below a
    /// space, which is then counted as a space already.)
    #[inline]
    pub fn take_word(&mut self, word: u64, count: usize) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let kept = if count >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * count)) - 1
        };
        let low7 = word & !HIGH;
        let at_least_0 = low7.wrapping_add(ONES * (0x80 - 0x30));
        let past_9 = low7.wrapping_add(ONES * (0x80 - 0x3a));
        let digits = (at_least_0 & !past_9 & !word & HIGH & kept) >> 7;
        // The bytes' sum in the top byte (no popcount instruction needed).
        self.digits += (digits.wrapping_mul(ONES) >> 56) as usize;
        self.space |= ((word.wrapping_sub(ONES * 0x21) & !word) | word) & HIGH & kept != 0;
    }

    /// Counts one byte of the given class.
    #[inline]
    pub fn take(&mut self, class: u8) {
        self.digits += usize::from(class & class::DIGIT != 0);
        self.space |= class & class::SPACE != 0;
    }
}

/// Where, in one text, the user patterns run in Rust match, as disjoint
/// spans in order. A unit of that text without escapes (a key, string or
/// number) can match such a pattern on its own only where one of these
/// spans meets it: its neighbours in the text are quotes or JSON
/// punctuation, which the patterns of the subset cannot look at, so a match
/// inside the unit is a match in the text, and a left-to-right search over
/// the text reports a match overlapping it. User patterns run by Python are
/// not searched for here: with one of them every unit is scrubbed.
pub struct Spans {
    spans: Vec<(usize, usize)>,
    /// Units are asked about in order: spans before this one end before them.
    next: usize,
    python_patterns: bool,
    ascii_only_patterns: bool,
}

impl Spans {
    fn new(
        mut spans: Vec<(usize, usize)>,
        python_patterns: bool,
        ascii_only_patterns: bool,
    ) -> Spans {
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Spans {
            spans: merged,
            next: 0,
            python_patterns,
            ascii_only_patterns,
        }
    }

    /// Whether `unit`, the slice of the text at `start`, needs the value
    /// shapes; units come in order. A pattern that runs in Rust on ASCII text
    /// only runs in Python on a non-ASCII unit, so such a unit always does.
    #[inline]
    pub fn may_match(&mut self, unit: &str, start: usize) -> bool {
        if self.python_patterns || (self.ascii_only_patterns && !unit.is_ascii()) {
            return true;
        }
        let end = start + unit.len();
        while self.next < self.spans.len() && self.spans[self.next].1 <= start {
            self.next += 1;
        }
        self.next < self.spans.len() && self.spans[self.next].0 < end
    }
}

/// Eight bytes of `bytes` from `at`, as a little-endian word.
#[inline]
pub fn read_word(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// High bits set in the bytes of `word` that are a quote, a backslash or a
/// control character; the lowest is exact (a borrow only flags bytes above
/// a true one).
#[inline]
pub fn string_stops(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    (word.wrapping_sub(ONES * 0x20)
        | quote.wrapping_sub(ONES) & !quote
        | backslash.wrapping_sub(ONES) & !backslash)
        & !word
        & HIGH
}

/// The pieces joined, in one allocation (`format!` costs more for short text).
pub fn concat(pieces: &[&str]) -> String {
    let mut out = String::with_capacity(pieces.iter().map(|piece| piece.len()).sum());
    for piece in pieces {
        out.push_str(piece);
    }
    out
}

/// Applies `step` to the text, keeping the owned string when it changes nothing.
fn then<'t>(text: Cow<'t, str>, step: impl for<'a> Fn(&'a str) -> Cow<'a, str>) -> Cow<'t, str> {
    match text {
        Cow::Borrowed(unit) => step(unit),
        Cow::Owned(unit) => match step(&unit) {
            Cow::Borrowed(_) => Cow::Owned(unit),
            Cow::Owned(changed) => Cow::Owned(changed),
        },
    }
}

fn replace_all<'a>(regex: &regex::bytes::Regex, unit: &'a str) -> Cow<'a, str> {
    match regex.replace_all(unit.as_bytes(), regex::bytes::NoExpand(REDACTED.as_bytes())) {
        Cow::Borrowed(_) => Cow::Borrowed(unit),
        // Only ASCII bytes are ever matched, so the text stays UTF-8.
        Cow::Owned(bytes) => Cow::Owned(
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
    }
}
