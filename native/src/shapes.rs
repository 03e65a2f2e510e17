//! The built-in value shapes ("Value shapes" in the specification): bearer,
//! token and basic credentials, JWTs and card numbers. Each returns the text
//! with its matches replaced, borrowed when nothing matched.

use std::borrow::Cow;

use memchr::memmem;

use crate::REDACTED;

/// Replaces the spans `find(text, from)` reports, left to right.
fn replace_spans<'a>(
    text: &'a str,
    mut find: impl FnMut(&str, usize) -> Option<(usize, usize)>,
) -> Cow<'a, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some((start, end)) = find(text, from) {
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
        from = end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The characters Python's `str.isspace()` accepts.
pub fn is_space(ch: char) -> bool {
    matches!(ch, '\t'..='\r' | '\x1c'..='\x20' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}')
        || matches!(
            ch,
            '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
        )
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"._~+/=-".contains(&byte)
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// `Bearer x`, `token x`, `Basic x`: the word in ASCII letters of any case,
/// not preceded by an ASCII letter, digit or underscore, then whitespace,
/// then 8 or more token characters.
pub fn bearer(text: &str) -> Cow<'_, str> {
    replace_spans(text, find_bearer)
}

/// The first bearer-shaped span at or after `from`.
pub fn find_bearer(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let (mut next_b, mut next_t) = (None, None);
    let mut at = from;
    loop {
        // The next "b" or "t" of either case: where a scheme word can start.
        if next_b.is_none_or(|b| b < at) {
            next_b = memchr::memchr2(b'b', b'B', &bytes[at..]).map(|i| at + i);
        }
        if next_t.is_none_or(|t| t < at) {
            next_t = memchr::memchr2(b't', b'T', &bytes[at..]).map(|i| at + i);
        }
        let start = match (next_b, next_t) {
            (Some(b), Some(t)) => b.min(t),
            (Some(found), None) | (None, Some(found)) => found,
            (None, None) => return None,
        };
        if let Some(end) = bearer_at(text, bytes, start) {
            return Some((start, end));
        }
        at = start + 1;
    }
}

fn bearer_at(text: &str, bytes: &[u8], start: usize) -> Option<usize> {
    let second = bytes.get(start + 1).map_or(0, |b| b | 0x20);
    if !matches!(
        (bytes[start] | 0x20, second),
        (b'b', b'e' | b'a') | (b't', b'o')
    ) {
        return None;
    }
    let word_len = [b"bearer".as_slice(), b"token", b"basic"]
        .iter()
        .find(|word| {
            bytes.len() >= start + word.len()
                && bytes[start..start + word.len()].eq_ignore_ascii_case(word)
        })?
        .len();
    if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
        return None;
    }
    let spaces: usize = text[start + word_len..]
        .chars()
        .take_while(|ch| is_space(*ch))
        .map(char::len_utf8)
        .sum();
    if spaces == 0 {
        return None;
    }
    let value_start = start + word_len + spaces;
    let value_len = bytes[value_start..]
        .iter()
        .take_while(|b| is_token_byte(**b))
        .count();
    (value_len >= 8).then_some(value_start + value_len)
}

/// `eyJ` and two dot-separated base64url segments of 5+ characters, then a
/// third (possibly empty) one.
pub fn jwt(text: &str) -> Cow<'_, str> {
    replace_spans(text, find_jwt)
}

/// The first JWT-shaped span at or after `from`.
pub fn find_jwt(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut at = from;
    while let Some(found) = memmem::find(&bytes[at..], b"eyJ") {
        let start = at + found;
        if let Some(end) = jwt_at(bytes, start) {
            return Some((start, end));
        }
        at = start + 1;
    }
    None
}

fn jwt_at(bytes: &[u8], start: usize) -> Option<usize> {
    let run = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| is_base64url(**b))
            .count()
    };
    let mut end = start + 3;
    let first = run(end);
    if first < 5 || bytes.get(end + first) != Some(&b'.') {
        return None;
    }
    end += first + 1;
    let second = run(end);
    if second < 5 || bytes.get(end + second) != Some(&b'.') {
        return None;
    }
    end += second + 1;
    Some(end + run(end))
}

/// Card numbers: in every chain of ASCII digit groups joined by single spaces
/// or hyphens that holds 13 or more digits, the longest run of whole groups
/// from each group on with 13-19 digits passing the Luhn check.
pub fn cards(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let (end, digits) = chain_at(bytes, i);
        if digits >= 13 {
            if let Some(masked) = mask_chain(text, &chain_groups(bytes, i)) {
                out.push_str(&text[copied..i]);
                out.push_str(&masked);
                copied = end;
            }
        }
        i = end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// (end, number of digits) of the chain of digit groups joined by single
/// spaces or hyphens that starts at `start`.
fn chain_at(bytes: &[u8], start: usize) -> (usize, usize) {
    let (mut end, mut digits) = (start, 0);
    loop {
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
            digits += 1;
        }
        let joined = end + 1 < bytes.len()
            && matches!(bytes[end], b' ' | b'-')
            && bytes[end + 1].is_ascii_digit();
        if !joined {
            return (end, digits);
        }
        end += 1;
    }
}

/// The (start, end) of each digit group of the chain starting at `start`.
fn chain_groups(bytes: &[u8], start: usize) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut at = start;
    loop {
        let end = at
            + bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        groups.push((at, end));
        let joined = end + 1 < bytes.len()
            && matches!(bytes[end], b' ' | b'-')
            && bytes[end + 1].is_ascii_digit();
        if !joined {
            return groups;
        }
        at = end + 1;
    }
}

fn mask_chain(text: &str, groups: &[(usize, usize)]) -> Option<String> {
    let mut out = String::new();
    let mut changed = false;
    let mut index = 0;
    while index < groups.len() {
        let (start, end) = groups[index];
        let after = match longest_card(text.as_bytes(), groups, index) {
            Some(last) => {
                out.push_str(REDACTED);
                changed = true;
                last + 1
            }
            None => {
                out.push_str(&text[start..end]);
                index + 1
            }
        };
        if after < groups.len() {
            let separator_at = groups[after - 1].1;
            out.push_str(&text[separator_at..separator_at + 1]);
        }
        index = after;
    }
    changed.then_some(out)
}

fn longest_card(bytes: &[u8], groups: &[(usize, usize)], first: usize) -> Option<usize> {
    let mut digits: Vec<u8> = Vec::with_capacity(19);
    let mut found = None;
    for (index, &(start, end)) in groups.iter().enumerate().skip(first) {
        digits.extend_from_slice(&bytes[start..end]);
        if digits.len() > 19 {
            break;
        }
        if digits.len() >= 13 && luhn_ok(&digits) {
            found = Some(index);
        }
    }
    found
}

fn luhn_ok(digits: &[u8]) -> bool {
    let total: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, digit)| {
            let value = u32::from(digit - b'0');
            match (index % 2, value) {
                (0, _) => value,
                (_, 0..=4) => value * 2,
                _ => value * 2 - 9,
            }
        })
        .sum();
    total % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_words() {
        assert_eq!(
            bearer("Authorization: Bearer abcdefgh1"),
            "Authorization: [REDACTED]"
        );
        assert_eq!(bearer("TOKEN\u{3000}abcdefgh"), "[REDACTED]");
        assert_eq!(bearer("xtoken abcdefghij"), "xtoken abcdefghij");
        assert_eq!(bearer("étoken abcdefghij"), "é[REDACTED]");
        assert_eq!(bearer("token abcdefg"), "token abcdefg");
    }

    #[test]
    fn jwts() {
        assert_eq!(jwt("a eyJhbGciO.eyJzdWIi.sig b"), "a [REDACTED] b");
        assert_eq!(jwt("eyJeyJhbGciO.eyJzdWIi."), "[REDACTED]");
        assert_eq!(jwt("eyJabcd.efghi.j"), "eyJabcd.efghi.j");
    }

    #[test]
    fn card_numbers() {
        assert_eq!(cards("card 4111 1111 1111 1111 ok"), "card [REDACTED] ok");
        assert_eq!(cards("qty 2 4111-1111-1111-1111"), "qty 2 [REDACTED]");
        assert_eq!(cards("4111 1111 1111 1112"), "4111 1111 1111 1112");
        assert_eq!(cards("12 4111111111111111 7"), "12 [REDACTED] 7");
        assert_eq!(cards("41111111111111110000"), "41111111111111110000");
        assert_eq!(cards("0.4111111111111111"), "0.[REDACTED]");
    }
}
