//! The gate for REQLOG_SENSITIVE_VALUE_PATTERNS: a pattern runs in Rust's
//! `regex` only when it lies in a small subset of Python's syntax whose
//! meaning is the same in both engines ("User patterns" in the
//! specification). Everything else runs in Python's `re`.
//!
//! A pattern in the subset is parsed here with Python's rules and written
//! out again as a byte-oriented Rust regex over ASCII text, every character
//! spelt as an escaped byte. Unicode-dependent pieces (`\d`, `\w`, `\s`,
//! `\b`, `.`, negated classes, case-insensitivity) agree between the engines
//! only on ASCII text, so such a pattern runs in Rust on ASCII text units
//! and in Python's `re` on the others.

use regex::bytes::{Regex, RegexBuilder};

/// Python's `re.IGNORECASE` and `re.UNICODE`: the only flags accepted.
const IGNORECASE: u32 = 2;
const UNICODE: u32 = 32;
const MAX_REPEAT: u32 = 1000;

/// A pattern the gate accepted.
pub struct NativePattern {
    pub regex: Regex,
    /// True when the pattern means the same on any text, not just ASCII.
    pub any_text: bool,
}

/// The Rust regex for `pattern` compiled with Python `flags`, or None when it
/// is outside the subset (the caller then keeps Python's `re` for it).
pub fn translate(pattern: &str, flags: u32) -> Option<(String, bool)> {
    if flags & !(IGNORECASE | UNICODE) != 0 || !pattern.is_ascii() {
        return None;
    }
    let (body, inline_i) = match pattern.strip_prefix("(?i)") {
        Some(rest) => (rest, true),
        None => (pattern, false),
    };
    let mut parser = Parser {
        src: body.as_bytes(),
        at: 0,
        ignore_case: inline_i || flags & IGNORECASE != 0,
        unicode_sensitive: false,
    };
    let node = parser.alternation()?;
    if parser.at != parser.src.len() || node.nullable() || !node.repeats_are_solid() {
        return None;
    }
    let any_text = !parser.unicode_sensitive && !parser.ignore_case;
    Some((format!("(?-u){}", node.emit()), any_text))
}

pub fn compile(pattern: &str, flags: u32) -> Option<NativePattern> {
    let (source, any_text) = translate(pattern, flags)?;
    let regex = RegexBuilder::new(&source)
        .unicode(false)
        .size_limit(1 << 20)
        .build()
        .ok()?;
    Some(NativePattern { regex, any_text })
}

/// A set of ASCII bytes: bit `b` stands for byte `b`.
type Set = u128;

enum Node {
    Set(Set),
    WordBoundary,
    Concat(Vec<Node>),
    Alternation(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
        lazy: bool,
    },
}

impl Node {
    /// Whether the node can match the empty string. Python and Rust step
    /// over empty matches differently, so a pattern that can is refused.
    fn nullable(&self) -> bool {
        match self {
            Node::Set(_) => false,
            Node::WordBoundary => true,
            Node::Concat(nodes) => nodes.iter().all(Node::nullable),
            Node::Alternation(nodes) => nodes.iter().any(Node::nullable),
            Node::Repeat { node, min, .. } => *min == 0 || node.nullable(),
        }
    }

    /// No repetition of something that can match the empty string: the two
    /// engines end such loops by different rules.
    fn repeats_are_solid(&self) -> bool {
        match self {
            Node::Set(_) | Node::WordBoundary => true,
            Node::Concat(nodes) | Node::Alternation(nodes) => {
                nodes.iter().all(Node::repeats_are_solid)
            }
            Node::Repeat { node, .. } => !node.nullable() && node.repeats_are_solid(),
        }
    }

    fn emit(&self) -> String {
        match self {
            Node::Set(set) => emit_set(*set),
            Node::WordBoundary => r"\b".to_string(),
            Node::Concat(nodes) => nodes
                .iter()
                .map(|node| format!("(?:{})", node.emit()))
                .collect(),
            Node::Alternation(nodes) => {
                let branches: Vec<String> = nodes.iter().map(Node::emit).collect();
                format!("(?:{})", branches.join("|"))
            }
            Node::Repeat {
                node,
                min,
                max,
                lazy,
            } => {
                let count = match max {
                    Some(max) => format!("{{{min},{max}}}"),
                    None => format!("{{{min},}}"),
                };
                format!("(?:{}){count}{}", node.emit(), if *lazy { "?" } else { "" })
            }
        }
    }
}

fn emit_set(set: Set) -> String {
    if set == 0 {
        return r"[^\x00-\xFF]".to_string(); // matches nothing
    }
    let mut out = String::from("[");
    let mut byte = 0u32;
    while byte < 128 {
        if set & (1 << byte) == 0 {
            byte += 1;
            continue;
        }
        let start = byte;
        while byte + 1 < 128 && set & (1 << (byte + 1)) != 0 {
            byte += 1;
        }
        out.push_str(&format!("\\x{start:02X}-\\x{byte:02X}"));
        byte += 1;
    }
    out.push(']');
    out
}

fn range(low: u8, high: u8) -> Set {
    (low..=high).fold(0, |set, byte| set | 1 << byte)
}

const ASCII: Set = u128::MAX;

fn digits() -> Set {
    range(b'0', b'9')
}

fn word() -> Set {
    digits() | range(b'A', b'Z') | range(b'a', b'z') | 1 << b'_'
}

/// Python's `\s` on ASCII text: the separators 0x1c-0x1f included.
fn space() -> Set {
    range(b'\t', b'\r') | range(0x1c, b' ')
}

/// Both cases of every ASCII letter in `set`.
fn fold_case(set: Set) -> Set {
    let letters = range(b'A', b'Z') | range(b'a', b'z');
    let upper = (set & range(b'a', b'z')) >> 32;
    let lower = (set & range(b'A', b'Z')) << 32;
    set | ((upper | lower) & letters)
}

struct Parser<'a> {
    src: &'a [u8],
    at: usize,
    ignore_case: bool,
    /// A piece whose meaning differs on non-ASCII text was seen.
    unicode_sensitive: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn alternation(&mut self) -> Option<Node> {
        let mut branches = vec![self.concatenation()?];
        while self.eat(b'|') {
            branches.push(self.concatenation()?);
        }
        Some(if branches.len() == 1 {
            branches.pop()?
        } else {
            Node::Alternation(branches)
        })
    }

    fn concatenation(&mut self) -> Option<Node> {
        let mut nodes = Vec::new();
        while let Some(byte) = self.peek() {
            if byte == b'|' || byte == b')' {
                break;
            }
            let atom = self.atom()?;
            nodes.push(self.quantified(atom)?);
        }
        Some(Node::Concat(nodes))
    }

    fn quantified(&mut self, node: Node) -> Option<Node> {
        let (min, max) = match self.peek() {
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'?') => (0, Some(1)),
            Some(b'{') => return self.counted(node),
            _ => return Some(node),
        };
        self.at += 1;
        self.finish_repeat(node, min, max)
    }

    /// `{n}`, `{n,}` or `{n,m}`; anything else after `{` (a literal brace for
    /// Python, or `{,m}`) is outside the subset.
    fn counted(&mut self, node: Node) -> Option<Node> {
        self.at += 1;
        let min = self.number()?;
        let max = if self.eat(b',') {
            if self.peek() == Some(b'}') {
                None
            } else {
                Some(self.number()?)
            }
        } else {
            Some(min)
        };
        if !self.eat(b'}') || max.is_some_and(|max| max < min) {
            return None;
        }
        self.finish_repeat(node, min, max)
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        let value: u32 = std::str::from_utf8(&self.src[start..self.at])
            .ok()?
            .parse()
            .ok()?;
        (value <= MAX_REPEAT).then_some(value)
    }

    fn finish_repeat(&mut self, node: Node, min: u32, max: Option<u32>) -> Option<Node> {
        let lazy = self.eat(b'?');
        if matches!(self.peek(), Some(b'*' | b'+' | b'?' | b'{')) {
            return None; // possessive (Python 3.11+) or a repeated repeat
        }
        Some(Node::Repeat {
            node: Box::new(node),
            min,
            max,
            lazy,
        })
    }

    fn atom(&mut self) -> Option<Node> {
        let byte = self.peek()?;
        self.at += 1;
        match byte {
            b'(' => self.group(),
            b'[' => self.class(),
            b'.' => {
                self.unicode_sensitive = true;
                Some(Node::Set(ASCII & !(1 << b'\n')))
            }
            b'\\' => self.escape(),
            b'^' | b'$' | b'*' | b'+' | b'?' | b'{' => None,
            _ => Some(self.literal(byte)),
        }
    }

    fn literal(&self, byte: u8) -> Node {
        let set = 1 << byte;
        Node::Set(if self.ignore_case {
            fold_case(set)
        } else {
            set
        })
    }

    /// `(...)`, `(?:...)` and `(?P<name>...)`; lookaround, backreferences,
    /// conditionals, atomic groups, comments and scoped flags are not in the subset.
    fn group(&mut self) -> Option<Node> {
        if self.eat(b'?') {
            if self.eat(b'P') && self.eat(b'<') {
                let name_len = self.src[self.at..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                self.at += name_len;
                if name_len == 0 || !self.eat(b'>') {
                    return None;
                }
            } else if !self.eat(b':') {
                return None;
            }
        }
        let inner = self.alternation()?;
        self.eat(b')').then_some(inner)
    }

    fn escape(&mut self) -> Option<Node> {
        let byte = self.peek()?;
        if byte == b'b' {
            self.at += 1;
            self.unicode_sensitive = true;
            return Some(Node::WordBoundary);
        }
        if let Some(set) = self.class_escape() {
            return Some(Node::Set(set));
        }
        let byte = self.escaped_byte()?;
        Some(self.literal(byte))
    }

    /// `\d \D \w \W \s \S` as ASCII sets.
    fn class_escape(&mut self) -> Option<Set> {
        let set = match self.peek()? {
            b'd' => digits(),
            b'D' => !digits(),
            b'w' => word(),
            b'W' => !word(),
            b's' => space(),
            b'S' => !space(),
            _ => return None,
        };
        self.at += 1;
        self.unicode_sensitive = true;
        Some(set)
    }

    /// The byte an escape other than a class stands for: `\t \n \r \f \v`,
    /// `\xHH` below 0x80, or escaped punctuation.
    fn escaped_byte(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        match byte {
            b't' => Some(b'\t'),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b'f' => Some(0x0c),
            b'v' => Some(0x0b),
            b'x' => {
                let hex = std::str::from_utf8(self.src.get(self.at..self.at + 2)?).ok()?;
                let value = u8::from_str_radix(hex, 16).ok()?;
                self.at += 2;
                (value < 0x80).then_some(value)
            }
            _ if !byte.is_ascii_alphanumeric() => Some(byte),
            _ => None, // \b in a class, \A, \Z, \B, \1, \u, \N, ...
        }
    }

    /// `[...]`: single bytes, ranges and class escapes. Brackets, `&&`, `--`,
    /// `~~` and `||` inside (set operations in Rust's syntax, literals with a
    /// FutureWarning in Python's) are left to Python.
    fn class(&mut self) -> Option<Node> {
        let negated = self.eat(b'^');
        let mut set: Set = 0;
        let mut first = true;
        loop {
            let byte = self.peek()?;
            if byte == b']' && !first {
                self.at += 1;
                break;
            }
            first = false;
            if byte == b'['
                || self.src[self.at..].starts_with(b"&&")
                || self.src[self.at..].starts_with(b"--")
            {
                return None;
            }
            if self.src[self.at..].starts_with(b"~~") || self.src[self.at..].starts_with(b"||") {
                return None;
            }
            set |= self.class_item()?;
        }
        if self.ignore_case {
            set = fold_case(set);
        }
        if negated {
            self.unicode_sensitive = true;
            set = !set;
        }
        Some(Node::Set(set))
    }

    fn class_item(&mut self) -> Option<Set> {
        let low = match self.peek()? {
            b'\\' => {
                self.at += 1;
                if let Some(set) = self.class_escape() {
                    return Some(set);
                }
                self.escaped_byte()?
            }
            byte => {
                self.at += 1;
                byte
            }
        };
        let is_range =
            self.peek() == Some(b'-') && self.src.get(self.at + 1).is_some_and(|b| *b != b']');
        if !is_range {
            return Some(1 << low);
        }
        self.at += 1;
        let high = match self.peek()? {
            b'\\' => {
                self.at += 1;
                self.escaped_byte()?
            }
            byte => {
                self.at += 1;
                byte
            }
        };
        (low <= high).then(|| range(low, high))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(pattern: &str) -> bool {
        compile(pattern, UNICODE).is_some()
    }

    #[test]
    fn subset() {
        for pattern in [
            r"\b\d{3}-\d{2}-\d{4}\b",
            r"ACME-[0-9]{4}",
            r"(?i)secret-\w+",
            r"[^\s@]+@[\w-]+\.\w+",
            r"a{2,}?b",
            r"(?P<x>ab)+c",
            r"[\]a-]x",
        ] {
            assert!(native(pattern), "{pattern}");
        }
        for pattern in [
            r"^a", r"a$", r"(?=a)b", r"(a)\1", r"a{,3}", r"é", r"\u00e9", r"a++", r"(?s).",
            r"[[a]", r"a*", r"\b", r"(a*)+b", r"\Bx", r"\Ax", r"a{x}", r"[a&&b]", r"(?i:a)b",
        ] {
            assert!(!native(pattern), "{pattern}");
        }
        assert!(compile(r"a", UNICODE | 8).is_none()); // re.MULTILINE
    }

    #[test]
    fn any_text_only_without_unicode_dependent_pieces() {
        assert!(compile(r"ACME-[0-9]{4}", UNICODE).unwrap().any_text);
        assert!(!compile(r"ACME-\d{4}", UNICODE).unwrap().any_text);
        assert!(!compile(r"ACME-[^x]", UNICODE).unwrap().any_text);
        assert!(!compile(r"(?i)acme", UNICODE).unwrap().any_text);
    }

    #[test]
    fn meaning() {
        let re = compile(r"(?i)k[^a-c]", UNICODE).unwrap().regex;
        assert!(re.is_match(b"Kd"));
        assert!(!re.is_match(b"kB"));
        let empty = compile(r"x[^\x00-\x7f]", UNICODE).unwrap().regex;
        assert!(!empty.is_match(b"xa"));
        let space = compile(r"a\sb", UNICODE).unwrap().regex;
        assert!(space.is_match(b"a\x1cb"));
    }
}
