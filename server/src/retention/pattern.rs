//! Doublestar patterns, as Harbor's retention selectors use them (bmatcuk/doublestar):
//! `*` is any run of characters without `/`, `?` one such character, `**` anything including
//! `/` (`a/**/b` also matches `a/b`, `**/b` matches `b`, `a/**` matches `a`), `[abc]`, `[a-z]`,
//! `[!a]` or `[^a]` a class, `{x,y}` alternatives (nested allowed), `\` escapes. Commas outside
//! braces separate alternatives too, as in Harbor's "comma-separated list" of patterns.
//!
//! Matching runs in O(pattern × text) over a set of reachable positions, so no pattern can
//! make it backtrack exponentially (the fuzz target checks this).

use std::fmt;

/// The longest pattern accepted.
pub const MAX_LEN: usize = 1024;
/// The most alternatives a pattern may expand to.
pub const MAX_ALTERNATIVES: usize = 256;

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Empty.
    #[error("the pattern is empty")]
    Empty,
    /// Longer than [`MAX_LEN`].
    #[error("the pattern is longer than {MAX_LEN} characters")]
    TooLong,
    /// `{` without `}` or the reverse.
    #[error("unbalanced braces in the pattern")]
    Braces,
    /// `[` without `]`.
    #[error("unclosed character class in the pattern")]
    Class,
    /// A trailing `\`.
    #[error("the pattern ends with an escape character")]
    Escape,
    /// More than [`MAX_ALTERNATIVES`].
    #[error("the pattern expands to more than {MAX_ALTERNATIVES} alternatives")]
    TooManyAlternatives,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    One,
    Star,
    Globstar,
    /// `/**/`: a `/`, any directories, a `/` (or just one `/`).
    DirGlob,
    /// `**/` at the start: nothing, or anything ending in `/`.
    Lead,
    /// `/**` at the end: nothing, or anything starting with `/`.
    Trail,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Raw tokens before brace expansion.
#[derive(Debug, Clone)]
enum Raw {
    Tok(Tok),
    Open,
    Comma,
    Close,
}

/// A compiled pattern.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    alternatives: Vec<Vec<Tok>>,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn lex(s: &str) -> Result<Vec<Raw>, PatternError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '\\' => Raw::Tok(Tok::Lit(chars.next().ok_or(PatternError::Escape)?)),
            '*' => Raw::Tok(Tok::Star),
            '?' => Raw::Tok(Tok::One),
            '{' => Raw::Open,
            '}' => Raw::Close,
            ',' => Raw::Comma,
            '[' => {
                let negated = matches!(chars.peek(), Some('!' | '^'));
                if negated {
                    chars.next();
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let c = chars.next().ok_or(PatternError::Class)?;
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    let lo = if c == '\\' { chars.next().ok_or(PatternError::Class)? } else { c };
                    let mut hi = lo;
                    if chars.peek() == Some(&'-') {
                        let mut look = chars.clone();
                        look.next();
                        if let Some(&h) = look.peek()
                            && h != ']'
                        {
                            chars.next();
                            let h = chars.next().ok_or(PatternError::Class)?;
                            hi = if h == '\\' { chars.next().ok_or(PatternError::Class)? } else { h };
                        }
                    }
                    ranges.push((lo, hi));
                }
                Raw::Tok(Tok::Class { negated, ranges })
            }
            c => Raw::Tok(Tok::Lit(c)),
        });
    }
    Ok(out)
}

/// Expands `raw[*pos..]` up to a `,` or `}` at this level into its alternatives.
fn expand_seq(raw: &[Raw], pos: &mut usize) -> Result<Vec<Vec<Tok>>, PatternError> {
    let mut alts: Vec<Vec<Tok>> = vec![Vec::new()];
    while let Some(r) = raw.get(*pos) {
        match r {
            Raw::Comma | Raw::Close => break,
            Raw::Tok(t) => {
                for a in &mut alts {
                    a.push(t.clone());
                }
                *pos += 1;
            }
            Raw::Open => {
                *pos += 1;
                let mut group = Vec::new();
                loop {
                    group.extend(expand_seq(raw, pos)?);
                    match raw.get(*pos) {
                        Some(Raw::Comma) => *pos += 1,
                        Some(Raw::Close) => {
                            *pos += 1;
                            break;
                        }
                        _ => return Err(PatternError::Braces),
                    }
                }
                if alts.len().saturating_mul(group.len()) > MAX_ALTERNATIVES {
                    return Err(PatternError::TooManyAlternatives);
                }
                alts = alts
                    .iter()
                    .flat_map(|a| {
                        group.iter().map(move |g| {
                            let mut n = a.clone();
                            n.extend(g.iter().cloned());
                            n
                        })
                    })
                    .collect();
            }
        }
    }
    Ok(alts)
}

/// Folds `**` runs into their path-aware forms.
fn finish(toks: Vec<Tok>) -> Vec<Tok> {
    let mut merged: Vec<Tok> = Vec::with_capacity(toks.len());
    for t in toks {
        match (merged.last_mut(), &t) {
            (Some(last @ Tok::Star), Tok::Star) => *last = Tok::Globstar,
            (Some(Tok::Globstar), Tok::Star) => {}
            _ => merged.push(t),
        }
    }
    let mut out: Vec<Tok> = Vec::with_capacity(merged.len());
    let mut i = 0;
    while i < merged.len() {
        let slash = |k: usize| merged.get(k) == Some(&Tok::Lit('/'));
        if merged[i] == Tok::Globstar {
            let before = out.last() == Some(&Tok::Lit('/'));
            let after = slash(i + 1);
            if before && after {
                out.pop();
                out.push(Tok::DirGlob);
                i += 2;
                continue;
            }
            if i == 0 && after {
                out.push(Tok::Lead);
                i += 2;
                continue;
            }
            if before && i + 1 == merged.len() {
                out.pop();
                out.push(Tok::Trail);
                i += 1;
                continue;
            }
        }
        out.push(merged[i].clone());
        i += 1;
    }
    out
}

impl std::str::FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(PatternError::TooLong);
        }
        let raw = lex(s)?;
        let mut pos = 0;
        let mut alternatives = Vec::new();
        loop {
            alternatives.extend(expand_seq(&raw, &mut pos)?);
            if alternatives.len() > MAX_ALTERNATIVES {
                return Err(PatternError::TooManyAlternatives);
            }
            match raw.get(pos) {
                None => break,
                Some(Raw::Comma) => pos += 1,
                Some(_) => return Err(PatternError::Braces),
            }
        }
        let alternatives = alternatives.into_iter().map(finish).collect();
        Ok(Self { source: s.to_owned(), alternatives })
    }
}

fn class_matches(negated: bool, ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != negated
}

fn matches_one(toks: &[Tok], text: &[char]) -> bool {
    let n = text.len();
    let mut cur = vec![false; n + 1];
    cur[0] = true;
    let mut next = vec![false; n + 1];
    for t in toks {
        next.iter_mut().for_each(|b| *b = false);
        match t {
            Tok::Lit(c) => {
                for j in 0..n {
                    next[j + 1] = cur[j] && text[j] == *c;
                }
            }
            Tok::One => {
                for j in 0..n {
                    next[j + 1] = cur[j] && text[j] != '/';
                }
            }
            Tok::Class { negated, ranges } => {
                for j in 0..n {
                    next[j + 1] = cur[j] && text[j] != '/' && class_matches(*negated, ranges, text[j]);
                }
            }
            Tok::Star => {
                for j in 0..=n {
                    next[j] = cur[j] || (j > 0 && next[j - 1] && text[j - 1] != '/');
                }
            }
            Tok::Globstar => {
                let mut seen = false;
                for j in 0..=n {
                    seen |= cur[j];
                    next[j] = seen;
                }
            }
            Tok::DirGlob => {
                // Some reachable i < j with text[i] == '/', and text[j - 1] == '/'.
                let mut open = false;
                for j in 1..=n {
                    open |= cur[j - 1] && text[j - 1] == '/';
                    next[j] = open && text[j - 1] == '/';
                }
            }
            Tok::Lead => {
                let mut seen = false;
                for j in 0..=n {
                    next[j] = cur[j] || (seen && text[j - 1] == '/');
                    seen |= cur[j];
                }
            }
            Tok::Trail => {
                let mut open = false;
                for j in 0..=n {
                    next[j] = cur[j] || open;
                    if j < n {
                        open |= cur[j] && text[j] == '/';
                    }
                }
            }
        }
        std::mem::swap(&mut cur, &mut next);
        if !cur.iter().any(|&b| b) {
            return false;
        }
    }
    cur[n]
}

impl Pattern {
    /// Whether `text` matches any alternative.
    pub fn matches(&self, text: &str) -> bool {
        if self.source == "**" {
            return true;
        }
        let chars: Vec<char> = text.chars().collect();
        self.alternatives.iter().any(|a| matches_one(a, &chars))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        p.parse::<Pattern>().unwrap_or_else(|e| panic!("{p}: {e}")).matches(s)
    }

    #[test]
    fn doublestar_semantics() {
        let table: &[(&str, &str, bool)] = &[
            ("**", "", true),
            ("**", "a/b/c", true),
            ("*", "nginx", true),
            ("*", "library/nginx", false),
            ("library/*", "library/nginx", true),
            ("library/*", "library/a/b", false),
            ("library/**", "library/a/b", true),
            ("library/**", "library", true),
            ("library/**", "libraryx", false),
            ("**/nginx", "nginx", true),
            ("**/nginx", "a/b/nginx", true),
            ("**/nginx", "xnginx", false),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "a/xb", false),
            ("v*", "v1.0", true),
            ("v*", "latest", false),
            ("v?", "v1", true),
            ("v?", "v12", false),
            ("v[0-9]*", "v3-beta", true),
            ("v[0-9]*", "vx", false),
            ("v[!0-9]*", "vx", true),
            ("v[^0-9]*", "v1", false),
            ("{latest,stable}", "stable", true),
            ("{latest,stable}", "edge", false),
            ("latest,stable", "latest", true),
            ("latest,v*", "v2", true),
            ("release-{1.{0,1},2}*", "release-1.1.3", true),
            ("release-{1.{0,1},2}*", "release-1.2", false),
            ("release-{1.{0,1},2}*", "release-2", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("*-dev", "feature-x-dev", true),
            ("*.*.*", "1.2.3", true),
            ("*.*.*", "1.2", false),
            ("[]]", "]", true),
            ("[a-]", "-", true),
            ("x{,y}", "x", true),
            ("x{,y}", "xy", true),
        ];
        for &(p, s, want) in table {
            assert_eq!(m(p, s), want, "{p:?} against {s:?}");
        }
    }

    #[test]
    fn bad_patterns_are_refused() {
        for (p, e) in [
            ("", PatternError::Empty),
            ("{a,b", PatternError::Braces),
            ("a}", PatternError::Braces),
            ("[ab", PatternError::Class),
            ("ab\\", PatternError::Escape),
        ] {
            assert_eq!(p.parse::<Pattern>().expect_err("refused"), e, "{p:?}");
        }
        let bomb = "{a,b}".repeat(12);
        assert_eq!(bomb.parse::<Pattern>().expect_err("refused"), PatternError::TooManyAlternatives);
        assert_eq!("a".repeat(MAX_LEN + 1).parse::<Pattern>().expect_err("refused"), PatternError::TooLong);
    }

    #[test]
    fn no_exponential_backtracking() {
        let p: Pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b".parse().expect("valid");
        let text = "a".repeat(200);
        let started = std::time::Instant::now();
        assert!(!p.matches(&text));
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
    }
}
