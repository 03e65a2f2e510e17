//! Python's string operations as `request_fields.py` uses them: caps counted in
//! characters, `str.strip()`, and the few case-insensitive comparisons.

use std::borrow::Cow;

use crate::shapes::is_space;

/// Path, query, user agent and other single values are capped at this many characters.
pub const MAX_TEXT_FIELD: usize = 8 * 1024;

/// `text[:count]`: the first `count` characters.
pub fn head(text: &str, count: usize) -> &str {
    if text.len() <= count {
        return text;
    }
    if text.is_ascii() {
        return &text[..count];
    }
    match text.char_indices().nth(count) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// `_cap`: the text, or its first `limit` characters followed by "…".
pub fn cap(text: &str, limit: usize) -> Cow<'_, str> {
    let kept = head(text, limit);
    if kept.len() == text.len() {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("{kept}…"))
    }
}

/// `_cap` of a value that may already be owned.
pub fn cap_cow(text: Cow<'_, str>, limit: usize) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(borrowed) => cap(borrowed, limit),
        Cow::Owned(owned) => match cap(&owned, limit) {
            Cow::Borrowed(_) => Cow::Owned(owned),
            Cow::Owned(capped) => Cow::Owned(capped),
        },
    }
}

/// `_cap_bytes`: at most `limit` bytes of UTF-8, the "…" included.
pub fn cap_bytes(text: Cow<'_, str>, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit - "…".len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// `str.strip()`.
pub fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// One or more ASCII digits.
pub fn is_port(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `_port_number`: one to five ASCII digits, at most 65535.
pub fn port_number(text: &str) -> Option<i64> {
    if !is_port(text) || text.len() > 5 {
        return None;
    }
    let port: i64 = text.parse().ok()?;
    (port <= 65535).then_some(port)
}

/// Whether `ch` matches the ASCII letter `letter` in a Python regular
/// expression compiled with `re.IGNORECASE`: besides the two ASCII cases,
/// "i" also takes U+0130 and U+0131, "k" the Kelvin sign, "s" the long s.
pub fn matches_ignoring_case(ch: char, letter: u8) -> bool {
    if ch.is_ascii() {
        return (ch as u8).eq_ignore_ascii_case(&letter);
    }
    matches!(
        (letter.to_ascii_lowercase(), ch),
        (b'i', '\u{130}' | '\u{131}') | (b'k', '\u{212a}') | (b's', '\u{17f}')
    )
}

/// If `text` starts with `word` under `re.IGNORECASE`, the byte length taken.
pub fn starts_with_ignoring_case(text: &str, word: &str) -> Option<usize> {
    let mut taken = 0;
    let mut chars = text.chars();
    for letter in word.bytes() {
        let ch = chars.next()?;
        if !matches_ignoring_case(ch, letter) {
            return None;
        }
        taken += ch.len_utf8();
    }
    Some(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_characters() {
        assert_eq!(cap("abc", 2), "ab…");
        assert_eq!(cap("éé", 2), "éé");
        assert_eq!(cap("ééé", 2), "éé…");
        assert_eq!(head("aé", 1), "a");
        assert_eq!(cap_bytes(Cow::Borrowed("ééé"), 5), "é…");
        assert_eq!(cap_bytes(Cow::Borrowed("aéé"), 5), "aéé");
        assert_eq!(cap_bytes(Cow::Borrowed("aéé"), 4), "a…");
    }

    #[test]
    fn ports() {
        assert_eq!(port_number("0080"), Some(80));
        assert_eq!(port_number("65536"), None);
        assert_eq!(port_number("²"), None);
        assert_eq!(port_number(""), None);
    }

    #[test]
    fn case_folding_like_python_re() {
        assert_eq!(starts_with_ignoring_case("FıLEname=", "filename"), Some(9));
        assert_eq!(starts_with_ignoring_case("nam", "name"), None);
    }
}
