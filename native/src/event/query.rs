//! Query strings and form bodies as Python's `parse_qsl(text,
//! keep_blank_values=True)` reads them and `urlencode(pairs,
//! safe="[]/:,")` writes them again.

use std::borrow::Cow;

use crate::free_text::unquote;
use crate::{Also, Masker, PatternHost, Stop, REDACTED};

use super::text::{cap, head, MAX_TEXT_FIELD};

/// `parse_qsl(text, keep_blank_values=True)`.
pub fn parse_qsl(text: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    text.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (unquote_plus(name), unquote_plus(value))
        })
        .collect()
}

fn unquote_plus(text: &str) -> Cow<'_, str> {
    if text.contains('+') {
        return Cow::Owned(unquote(&text.replace('+', " ")).into_owned());
    }
    unquote(text)
}

/// `quote_plus(text, safe="[]/:,")`, appended to `out`.
pub fn quote_plus(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~[]/:,".contains(&byte) {
            out.push(byte as char);
        } else if byte == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 15)] as char);
        }
    }
}

impl Masker {
    /// Form or query pairs, masked by key and by value, encoded again.
    pub fn mask_form(
        &self,
        text: &str,
        also: &Also,
        host: &mut dyn PatternHost,
    ) -> Result<String, Stop> {
        let mut out = String::with_capacity(text.len() + 16);
        for (index, (key, value)) in parse_qsl(text).into_iter().enumerate() {
            if index > 0 {
                out.push('&');
            }
            quote_plus(&mut out, &key);
            out.push('=');
            if self.key_is_masked(&key, also) {
                quote_plus(&mut out, REDACTED);
            } else {
                quote_plus(&mut out, &self.scrub_value(&value, host)?);
            }
        }
        Ok(out)
    }

    /// `_mask_query`: a query string (or a URL fragment), capped.
    pub fn mask_query(&self, query: &str, host: &mut dyn PatternHost) -> Result<String, Stop> {
        if query.is_empty() {
            return Ok(String::new());
        }
        let masked = self.mask_form(head(query, MAX_TEXT_FIELD * 2), &Also::default(), host)?;
        Ok(match cap(&masked, MAX_TEXT_FIELD) {
            Cow::Borrowed(_) => masked,
            Cow::Owned(capped) => capped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_python() {
        let pairs = parse_qsl("a=1&&b&c=x+y%20z&=&d=%C3%A9&e=%zz&f=a=b");
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(
            pairs,
            [
                ("a", "1"),
                ("b", ""),
                ("c", "x y z"),
                ("", ""),
                ("d", "é"),
                ("e", "%zz"),
                ("f", "a=b")
            ]
        );
    }

    #[test]
    fn quotes_like_python() {
        let mut out = String::new();
        quote_plus(&mut out, "a b/[c]:,~é\"=&");
        assert_eq!(out, "a+b/[c]:,~%C3%A9%22%3D%26");
    }
}
