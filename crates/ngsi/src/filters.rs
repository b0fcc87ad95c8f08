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
    Regex::new(text).map_err(|e| {
        NgsiError::bad_data(format!("idPattern '{text}' is not a valid regular expression: {e}"))
    })
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
