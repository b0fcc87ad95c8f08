//! Entity filters other than `q`: type expressions (`type=(A;B)|C`, `,` is OR), `scopeQ`
//! (`/Madrid/#`, `/+/Gardens`) and `idPattern`.

use regex::Regex;

use crate::error::{NgsiError, NgsiResult};
use crate::expr::{Expr, parse_expr, plain_token};
use crate::parse::is_valid_name;

/// A type expression over expanded type IRIs.
pub type TypeExpr = Expr<String>;

/// Parses a type expression, expanding each name with `expand`.
pub fn parse_type_expr(text: &str, expand: &dyn Fn(&str) -> String) -> NgsiResult<TypeExpr> {
    parse_expr(text, "type", true, &mut |rest: &str| {
        let (token, used) = plain_token(rest, b";|,()");
        if token.is_empty() || !is_valid_name(&token) {
            return Err(NgsiError::bad_data(format!("'{token}' is not a valid type name")));
        }
        Ok((expand(&token), used))
    })
}

/// Whether an entity with `types` matches `expr`.
pub fn types_match(expr: &TypeExpr, types: &[String]) -> bool {
    expr.eval(&mut |t: &String| types.iter().any(|x| x == t))
}

/// A parsed `scopeQ`.
pub type ScopeQuery = Expr<Vec<String>>;

/// Parses `scopeQ`.
pub fn parse_scope_q(text: &str) -> NgsiResult<ScopeQuery> {
    parse_expr(text, "scopeQ", true, &mut |rest: &str| {
        let (token, used) = plain_token(rest, b";|,()");
        let Some(path) = token.strip_prefix('/') else {
            return Err(NgsiError::bad_data(format!("scope '{token}' must start with '/'")));
        };
        let segments: Vec<String> = path.split('/').map(str::to_string).collect();
        let hash_last =
            segments.iter().position(|s| s == "#").is_none_or(|i| i == segments.len() - 1);
        if !hash_last || segments.iter().any(|s| s.is_empty() && segments.len() > 1) {
            return Err(NgsiError::bad_data(format!("'{token}' is not a valid scope pattern")));
        }
        Ok((segments, used))
    })
}

/// Whether any of `scopes` matches the query.
pub fn scopes_match(q: &ScopeQuery, scopes: &[String]) -> bool {
    q.eval(&mut |pattern: &Vec<String>| scopes.iter().any(|s| scope_matches(pattern, s)))
}

fn scope_matches(pattern: &[String], scope: &str) -> bool {
    let segments: Vec<&str> = scope.trim_start_matches('/').split('/').collect();
    let mut i = 0;
    for p in pattern {
        match p.as_str() {
            "#" => return true,
            "+" => {
                if i >= segments.len() {
                    return false;
                }
            }
            exact => {
                if segments.get(i) != Some(&exact) {
                    return false;
                }
            }
        }
        i += 1;
    }
    i == segments.len()
}

/// Compiles an `idPattern` (a regular expression over entity ids).
pub fn parse_id_pattern(text: &str) -> NgsiResult<Regex> {
    let invalid = |why: String| {
        NgsiError::bad_data(format!("idPattern '{text}' is not a valid regular expression: {why}"))
    };
    if has_stacked_quantifier(text) {
        // The regex crate reads `a**` as `(a*)*`; the common regex dialects (POSIX ERE,
        // Java, JavaScript, Python) reject a quantifier applied to a quantifier, and so does
        // the conformance suite (019_03_02).
        return Err(invalid("a quantifier follows another quantifier".into()));
    }
    Regex::new(text).map_err(|e| invalid(e.to_string()))
}

/// What the previous regex token was, for spotting a quantifier applied to a quantifier.
#[derive(Clone, Copy, PartialEq)]
enum LastToken {
    Other,
    Quantifier,
    /// A quantifier made lazy by `?`.
    LazyQuantifier,
}

/// Whether `pattern` has a repetition operator (`*`, `+`, `?`, `{n,m}`) directly after
/// another one, other than the single `?` that makes a quantifier lazy.
fn has_stacked_quantifier(pattern: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let mut last = LastToken::Other;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                i += 2;
                last = LastToken::Other;
                continue;
            }
            '[' => {
                i = class_end(&chars, i);
                last = LastToken::Other;
            }
            '*' | '+' => {
                if last != LastToken::Other {
                    return true;
                }
                last = LastToken::Quantifier;
            }
            '?' => {
                last = match last {
                    LastToken::Other => LastToken::Quantifier,
                    LastToken::Quantifier => LastToken::LazyQuantifier,
                    LastToken::LazyQuantifier => return true,
                };
            }
            '{' => match repetition_end(&chars, i) {
                Some(end) => {
                    if last != LastToken::Other {
                        return true;
                    }
                    i = end;
                    last = LastToken::Quantifier;
                }
                None => last = LastToken::Other,
            },
            _ => last = LastToken::Other,
        }
        i += 1;
    }
    false
}

/// The index of the `]` closing the character class opened at `start` (nested classes and
/// escapes included), or the last index when it is unclosed.
fn class_end(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    let mut depth = 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len().saturating_sub(1)
}

/// The index of the `}` of a counted repetition `{n}`, `{n,}` or `{n,m}` opened at `start`.
fn repetition_end(chars: &[char], start: usize) -> Option<usize> {
    let close = start + chars[start..].iter().position(|c| *c == '}')?;
    let inner: String = chars[start + 1..close].iter().collect();
    let (low, high) = inner.split_once(',').unwrap_or((&inner, "0"));
    let counts = |s: &str| s.trim().chars().all(|c| c.is_ascii_digit());
    (!low.trim().is_empty() && counts(low) && counts(high)).then_some(close)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_expressions() {
        let id = |s: &str| s.to_string();
        let e = parse_type_expr("(A;B)|C", &id).unwrap();
        assert!(types_match(&e, &["A".into(), "B".into()]));
        assert!(types_match(&e, &["C".into()]));
        assert!(!types_match(&e, &["A".into()]));
        let e = parse_type_expr("A,B", &id).unwrap();
        assert!(types_match(&e, &["B".into()]));
        assert!(parse_type_expr("A;", &id).is_err());
        assert!(parse_type_expr("A B", &id).is_err());
    }

    #[test]
    fn id_patterns_reject_a_quantifier_on_a_quantifier() {
        for bad in ["invalid_entity_id_pattern**", "a+*", "a{2}*", "a???", "a*{2}", "("] {
            assert!(parse_id_pattern(bad).is_err(), "{bad}");
        }
        for good in ["urn:ngsi-ld:Vehicle:1.*", "a*?", "a??", "a{2}?", "[*+]+", r"a\*+", "(?i)x+"] {
            assert!(parse_id_pattern(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn scope_queries() {
        let check =
            |q: &str, scope: &str| scopes_match(&parse_scope_q(q).unwrap(), &[scope.to_string()]);
        assert!(check("/Madrid", "/Madrid"));
        assert!(!check("/Madrid", "/Madrid/Gardens"));
        assert!(check("/Madrid/#", "/Madrid/Gardens/Retiro"));
        assert!(check("/Madrid/#", "/Madrid"));
        assert!(check("/+/Gardens", "/Madrid/Gardens"));
        assert!(check("/#", "/Anything"));
        assert!(check("/A,/Madrid", "/Madrid"));
        assert!(!check("/A;/Madrid", "/Madrid"));
        assert!(parse_scope_q("Madrid").is_err());
        assert!(parse_scope_q("/a/#/b").is_err());
    }
}
