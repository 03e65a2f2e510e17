//! Sensitive key names ("Keys" in docs/masking.md's specification).

use aho_corasick::{AhoCorasick, AhoCorasickKind};

/// The sensitive names, normalised. The tables live in one place,
/// `django_reqlog/masking.py`, which hands them to the core.
#[derive(Default)]
pub struct Names {
    /// Secret anywhere inside a key (REQLOG_SENSITIVE_FIELDS among them).
    pub parts: Vec<String>,
    /// Secret as the whole key or as its last word.
    pub last_words: Vec<String>,
    /// Secret at the end of a run-together key ("oauth", "dbpwd").
    pub endings: Vec<String>,
    /// Secret only as the whole key.
    pub whole_keys: Vec<String>,
}

/// The key rules of "Keys" in the specification.
pub struct KeyRules {
    parts: AhoCorasick,
    /// Whole keys and last words, by length: what a normalised key may equal.
    exact: Vec<Vec<Vec<u8>>>,
    /// Last words, by length.
    last_words: Vec<Vec<Vec<u8>>>,
    endings: Vec<Vec<u8>>,
}

/// `names` grouped by length.
fn by_length<'a>(names: impl Iterator<Item = &'a String>) -> Vec<Vec<Vec<u8>>> {
    let mut grouped: Vec<Vec<Vec<u8>>> = Vec::new();
    for name in names {
        if grouped.len() <= name.len() {
            grouped.resize(name.len() + 1, Vec::new());
        }
        grouped[name.len()].push(name.as_bytes().to_vec());
    }
    grouped
}

/// The names of one length.
fn of_length(groups: &[Vec<Vec<u8>>], len: usize) -> &[Vec<u8>] {
    groups.get(len).map_or(&[][..], Vec::as_slice)
}

/// Byte for byte, without a call to memcmp: these are a few bytes long.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

impl KeyRules {
    pub fn new(names: Names) -> KeyRules {
        let parts = names.parts.iter().filter(|part| !part.is_empty());
        // Keys are short: a plain DFA without a prefilter searches them fastest.
        let parts = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(parts)
            .expect("short literal names");
        KeyRules {
            parts,
            exact: by_length(names.whole_keys.iter().chain(&names.last_words)),
            last_words: by_length(names.last_words.iter()),
            endings: names
                .endings
                .iter()
                .map(|e| e.as_bytes().to_vec())
                .collect(),
        }
    }

    pub fn is_sensitive(&self, key: &str) -> bool {
        let mut buffer = [0u8; 64];
        let long;
        let norm: &[u8] = if key.len() <= buffer.len() && key.is_ascii() {
            let mut len = 0;
            for &byte in key.as_bytes() {
                buffer[len] = byte | if byte.is_ascii_uppercase() { 0x20 } else { 0 };
                len += usize::from(byte.is_ascii_alphanumeric());
            }
            &buffer[..len]
        } else {
            long = normalise(key);
            long.as_bytes()
        };
        if norm.is_empty() {
            return false;
        }
        if of_length(&self.exact, norm.len())
            .iter()
            .any(|name| same(name, norm))
        {
            return true;
        }
        let last = norm[norm.len() - 1];
        let ends_with = |ending: &Vec<u8>| {
            ending.last() == Some(&last)
                && ending.len() <= norm.len()
                && same(ending, &norm[norm.len() - ending.len()..])
        };
        if self.endings.iter().any(ends_with) {
            return true;
        }
        if let Some(word) = last_word(key.as_bytes()) {
            let lower = |w: &[u8], name: &[u8]| w.iter().zip(name).all(|(a, b)| (a | 0x20) == *b);
            if of_length(&self.last_words, word.len())
                .iter()
                .any(|name| lower(word, name))
            {
                return true;
            }
        }
        self.parts.is_match(norm)
    }
}

/// Lower case (Unicode's full mapping, as Python's `str.lower`), then only
/// ASCII letters and digits: "İD" and "\u{212a}ey" normalise to "id" and "key".
pub fn normalise(key: &str) -> String {
    let mut norm = String::with_capacity(key.len());
    for ch in key.chars() {
        if ch.is_ascii() {
            if ch.is_ascii_alphanumeric() {
                norm.push(ch.to_ascii_lowercase());
            }
        } else {
            norm.extend(ch.to_lowercase().filter(char::is_ascii_alphanumeric));
        }
    }
    norm
}

/// The last match of `[A-Z]+(?![a-z])|[A-Z]?[a-z]+` in `key`: separators and
/// camelCase humps both split words ("userPin", "HTTPServer" -> "Server").
fn last_word(key: &[u8]) -> Option<&[u8]> {
    let mut last = None;
    let mut i = 0;
    while i < key.len() {
        let run_end = |from: usize, test: fn(&u8) -> bool| {
            from + key[from..].iter().take_while(|b| test(b)).count()
        };
        if key[i].is_ascii_uppercase() {
            let upper_end = run_end(i, u8::is_ascii_uppercase);
            let followed_by_lower = key.get(upper_end).is_some_and(u8::is_ascii_lowercase);
            let end = if !followed_by_lower {
                upper_end
            } else if upper_end - i > 1 {
                upper_end - 1 // "HTTPServer": "HTTP", then "Server"
            } else {
                run_end(i + 1, u8::is_ascii_lowercase) // "Pin"
            };
            last = Some(&key[i..end]);
            i = end;
        } else if key[i].is_ascii_lowercase() {
            let end = run_end(i, u8::is_ascii_lowercase);
            last = Some(&key[i..end]);
            i = end;
        } else {
            i += 1;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_the_python_regex() {
        assert_eq!(last_word(b"userPin"), Some(&b"Pin"[..]));
        assert_eq!(last_word(b"HTTPServer"), Some(&b"Server"[..]));
        assert_eq!(last_word(b"USER_PIN"), Some(&b"PIN"[..]));
        assert_eq!(last_word(b"pin2"), Some(&b"pin"[..]));
        assert_eq!(last_word(b"X"), Some(&b"X"[..]));
        assert_eq!(last_word(b"42"), None);
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }

    #[test]
    fn names() {
        let rules = KeyRules::new(Names {
            parts: strings(&["password", "apikey", "iban"]),
            last_words: strings(&["auth", "pin"]),
            endings: strings(&["auth"]),
            whole_keys: strings(&["code", "key"]),
        });
        for key in [
            "password",
            "X-Api-Key",
            "userPin",
            "oauth",
            "code",
            "customer.iban",
            "\u{212a}ey",
        ] {
            assert!(rules.is_sensitive(key), "{key}");
        }
        for key in ["author", "spin", "country_code", "userpin", "", "é", "keys"] {
            assert!(!rules.is_sensitive(key), "{key}");
        }
    }
}
