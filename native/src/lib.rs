//! The compiled masking core of django-reqlog.
//!
//! It implements the specification in docs/masking.md, as
//! `django_reqlog/masking.py` (the reference) does; the Python test suite
//! checks that both give the same output. The core is plain Rust: the PyO3
//! bindings live in `python.rs`, behind the default `python` feature.

use std::borrow::Cow;

pub mod free_text;
pub mod json;
pub mod keys;
pub mod pattern;
pub mod shapes;

#[cfg(feature = "python")]
mod python;

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

/// Runs the user patterns that stay in Python's `re`.
pub trait PatternHost {
    /// `re.sub("[REDACTED]", text)` with pattern number `index`; None if it raised.
    fn sub(&mut self, index: usize, text: &str) -> Option<String>;
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

    fn key_is_masked(&self, key: &str, also: &Also) -> bool {
        also.everything || also.names.iter().any(|name| name == key) || self.keys.is_sensitive(key)
    }

    /// Where the value shapes match in `text`: see [`Spans`].
    pub fn spans(&self, text: &str) -> Spans {
        let mut spans = shapes::card_chains(text);
        for find in [shapes::find_bearer, shapes::find_jwt] {
            let mut from = 0;
            while let Some((start, end)) = find(text, from) {
                spans.push((start, end));
                from = end;
            }
        }
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

/// Where, in one text, the value shapes match (for card numbers: the digit
/// chains long enough to hold one), as disjoint spans in order. A unit of
/// that text without escapes (a key, string or number) can match a shape on
/// its own only where one of these spans meets it: its neighbours in the
/// text are quotes or JSON punctuation, which no shape takes in, so a match
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
