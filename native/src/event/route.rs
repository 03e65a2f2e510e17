//! Route parameters with sensitive names, masked in the path
//! (`mask_route_params`). The route is lined up with the path: a `path()`
//! route here, by the same leftmost, greedy-first search Python's `re` makes
//! of the pattern `request_fields.py` builds; a `re_path()` route (a Python regular
//! expression) is handed to the reference through the host.

use std::borrow::Cow;

use crate::keys::normalise;
use crate::{Masker, PatternHost, Stop, REDACTED};

/// Names that are secret only in paths: the user part of password-reset links.
const PATH_ONLY_SENSITIVE: [&str; 2] = ["uidb64", "uidb36"];

enum Piece<'a> {
    Literal(&'a str),
    /// `[^/]+`: a parameter whose value was not captured.
    Segment,
    /// The text a parameter captured, exactly; its index among the params.
    Exact(&'a str, usize),
}

impl Masker {
    fn sensitive_param(&self, name: &str) -> bool {
        self.is_sensitive_key(name) || PATH_ONLY_SENSITIVE.contains(&normalise(name).as_str())
    }

    /// `path` with the text of each sensitive route parameter replaced by
    /// the placeholder.
    pub fn mask_route_params<'t>(
        &self,
        path: &'t str,
        route: &str,
        params: &[(&str, &str)],
        host: &mut dyn PatternHost,
    ) -> Result<Cow<'t, str>, Stop> {
        let secret: Vec<&str> = params
            .iter()
            .filter(|(name, value)| !value.is_empty() && self.sensitive_param(name))
            .map(|(name, _)| *name)
            .collect();
        if secret.is_empty() {
            return Ok(Cow::Borrowed(path));
        }
        let Some(pieces) = path_route(route, params) else {
            return host.mask_route(path, route, params).map(Cow::Owned);
        };
        let Some(captured) = search(path, &pieces) else {
            let mut masked = path.to_string();
            for (name, value) in params {
                if !value.is_empty() && secret.contains(name) {
                    masked = masked.replace(value, REDACTED);
                }
            }
            return Ok(Cow::Owned(masked));
        };
        let mut spans: Vec<(usize, usize)> = captured
            .iter()
            .filter(|(index, _)| secret.contains(&params[*index].0))
            .map(|&(_, span)| span)
            .collect();
        spans.sort_unstable();
        let mut out = String::with_capacity(path.len());
        let mut copied = 0;
        for (start, end) in spans {
            out.push_str(&path[copied..start]);
            out.push_str(REDACTED);
            copied = end;
        }
        out.push_str(&path[copied..]);
        Ok(Cow::Owned(out))
    }
}

/// The pieces of a `path()` route (`<converter:name>` parameters and
/// literal text); None for what the reference must line up: a regular
/// expression route, or a parameter name that is not a plain identifier or
/// appears twice.
fn path_route<'a>(route: &'a str, params: &[(&'a str, &'a str)]) -> Option<Vec<Piece<'a>>> {
    if route.starts_with('^') || route.contains("(?P<") {
        return None;
    }
    let mut pieces = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut literal_start = 0;
    let mut at = 0;
    while at < route.len() {
        let parameter = route[at..].strip_prefix('<').and_then(|rest| {
            rest.find('>')
                .filter(|&end| end > 0)
                .map(|end| &rest[..end])
        });
        let Some(content) = parameter else {
            at += route[at..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        if literal_start < at {
            pieces.push(Piece::Literal(&route[literal_start..at]));
        }
        let name = match content.find(':') {
            Some(colon) if colon > 0 && colon + 1 < content.len() => &content[colon + 1..],
            _ => content,
        };
        // The last value given for a name is the one captured (dict(params)).
        match params.iter().rposition(|(param, _)| *param == name) {
            Some(index) => {
                let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !name.as_bytes()[0].is_ascii_digit();
                if !plain || names.contains(&name) {
                    return None; // Python's re refuses or reads it otherwise
                }
                names.push(name);
                pieces.push(Piece::Exact(params[index].1, index));
            }
            None => pieces.push(Piece::Segment),
        }
        at += content.len() + 2;
        literal_start = at;
    }
    if literal_start < route.len() {
        pieces.push(Piece::Literal(&route[literal_start..]));
    }
    Some(pieces)
}

/// The first match of the pieces in `path`, leftmost and then greedy-first
/// as a backtracking engine finds it: the span each exact piece took.
fn search(path: &str, pieces: &[Piece<'_>]) -> Option<Vec<(usize, (usize, usize))>> {
    let mut starts = path.char_indices().map(|(at, _)| at).chain([path.len()]);
    starts.find_map(|start| {
        let mut captured = Vec::new();
        match_at(path, start, pieces, &mut captured).then_some(captured)
    })
}

fn match_at(
    path: &str,
    at: usize,
    pieces: &[Piece<'_>],
    captured: &mut Vec<(usize, (usize, usize))>,
) -> bool {
    let Some((piece, rest)) = pieces.split_first() else {
        return true;
    };
    match piece {
        Piece::Literal(text) | Piece::Exact(text, _) => {
            if !path[at..].starts_with(text) {
                return false;
            }
            let end = at + text.len();
            if let Piece::Exact(_, index) = piece {
                captured.push((*index, (at, end)));
            }
            if match_at(path, end, rest, captured) {
                return true;
            }
            if matches!(piece, Piece::Exact(..)) {
                captured.pop();
            }
            false
        }
        Piece::Segment => {
            let run = path[at..].find('/').unwrap_or(path.len() - at);
            let mut ends: Vec<usize> = path[at..at + run]
                .char_indices()
                .map(|(offset, ch)| at + offset + ch.len_utf8())
                .collect();
            ends.reverse(); // greedy: the longest first
            ends.into_iter()
                .any(|end| match_at(path, end, rest, captured))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_up_path_routes() {
        let params = [("uidb64", "MQ"), ("token", "cbv6")];
        let pieces = path_route("reset/<uidb64>/<token>/", &params).unwrap();
        let found = search("/reset/MQ/cbv6/", &pieces).unwrap();
        assert_eq!(found, [(0, (7, 9)), (1, (10, 14))]);
        assert!(path_route("^reset/(?P<token>.+)/$", &params).is_none());
        let pieces = path_route("a/<x>/<token>/", &params).unwrap();
        assert_eq!(search("/a/b/c/cbv6/", &pieces), None);
        assert_eq!(search("/a/b/cbv6/", &pieces).unwrap(), [(1, (5, 9))]);
    }
}
