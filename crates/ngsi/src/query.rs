//! The NGSI-LD query language (`q`, clause 4.9): parser and evaluator.
//!
//! A term is an attribute path, optionally followed by an operator and a value:
//! `speed>50`, `brand=="Mercedes","BMW"`, `temperature==20..30`, `name~="(?i)tower"`,
//! `address[city]=="Berlin"` (into a value), `speed.observedAt>=2020-01-01T00:00:00Z`
//! (metadata or sub-attribute), or just `speed` (exists) and `!speed` (does not exist).

use std::cmp::Ordering;

use regex::Regex;
use serde_json::Value;

use crate::error::{NgsiError, NgsiResult};
use crate::expr::{Expr, parse_expr};
use crate::model::{AttrKind, Attribute, Entity};
use crate::time::{format_datetime, parse_datetime};

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `~=` (regular expression)
    Match,
    /// `!~=`
    NotMatch,
}

/// A literal on the right of an operator.
#[derive(Debug, Clone)]
pub enum Lit {
    /// A number.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// A string (quoted, or an unquoted URI/DateTime); the second field is its expansion as
    /// a vocabulary term.
    Str(String, String),
}

/// The value side of a term.
#[derive(Debug, Clone)]
pub enum Rhs {
    /// One value.
    One(Lit),
    /// Any of several values (`==a,b`).
    List(Vec<Lit>),
    /// An inclusive range (`==a..b`).
    Range(Lit, Lit),
    /// A regular expression.
    Pattern(Regex),
}

/// One query term.
#[derive(Debug, Clone)]
pub struct Term {
    /// The attribute name as written.
    pub attr: String,
    /// Its expansion.
    pub attr_iri: String,
    /// Dot path after the attribute: metadata names or expanded sub-attribute names.
    pub path: Vec<String>,
    /// Bracket path into the value.
    pub compound: Vec<String>,
    /// Operator and value; `None` tests existence.
    pub cond: Option<(Op, Rhs)>,
    /// `!attr`: the attribute must not exist.
    pub negated: bool,
    /// Whether a string value is also tried in its expanded form against a VocabProperty
    /// (`expandValues`, clause 4.9 EXAMPLE 12); see [`limit_value_expansion`].
    pub expand_values: bool,
}

/// A parsed `q`.
pub type Query = Expr<Term>;

const METADATA: [&str; 5] = ["observedAt", "createdAt", "modifiedAt", "unitCode", "datasetId"];

/// Keeps the expansion of query values (clause 4.9 EXAMPLE 12) for the attributes named by
/// `expandValues` (expanded names) only: every other term compares its value literally, so
/// `category==commercial` does not match the stored vocabulary IRI unless `category` is listed.
pub fn limit_value_expansion(q: &mut Query, expand_values: &[String]) {
    q.for_each_atom_mut(&mut |t: &mut Term| {
        t.expand_values = expand_values.contains(&t.attr_iri);
    });
}

/// Parses `q`; `expand` turns terms (attribute names, vocabulary values) into IRIs.
pub fn parse_q(text: &str, expand: &dyn Fn(&str) -> String) -> NgsiResult<Query> {
    if text.trim().is_empty() {
        return Err(NgsiError::bad_data("q is empty"));
    }
    parse_expr(text, "q", false, &mut |rest: &str| parse_term(rest, expand))
}

fn parse_term(text: &str, expand: &dyn Fn(&str) -> String) -> NgsiResult<(Term, usize)> {
    let mut pos = 0;
    let negated = text.starts_with('!') && !text.starts_with("!=");
    if negated {
        pos += 1;
    }
    let bytes = text.as_bytes();
    let start = pos;
    while pos < bytes.len() && !b"=!<>~;|()".contains(&bytes[pos]) {
        pos += 1;
    }
    let path_text = &text[start..pos];
    if path_text.is_empty() {
        return Err(NgsiError::bad_data("expected an attribute name"));
    }
    let (attr, path, compound) = split_path(path_text, expand)?;
    let op = match &text[pos..] {
        r if r.starts_with("==") => Some((Op::Eq, 2)),
        r if r.starts_with("!~=") => Some((Op::NotMatch, 3)),
        r if r.starts_with("!=") => Some((Op::Ne, 2)),
        r if r.starts_with(">=") => Some((Op::Ge, 2)),
        r if r.starts_with("<=") => Some((Op::Le, 2)),
        r if r.starts_with("~=") => Some((Op::Match, 2)),
        r if r.starts_with('>') => Some((Op::Gt, 1)),
        r if r.starts_with('<') => Some((Op::Lt, 1)),
        r if r.is_empty() || r.starts_with([';', '|', ')']) => None,
        _ => return Err(NgsiError::bad_data(format!("unknown operator after '{path_text}'"))),
    };
    let attr_iri = expand(&attr);
    let mut term =
        Term { attr, attr_iri, path, compound, cond: None, negated, expand_values: true };
    let Some((op, len)) = op else { return Ok((term, pos)) };
    if negated {
        return Err(NgsiError::bad_data("'!' only negates an attribute's existence"));
    }
    pos += len;
    let (rhs, used) = parse_rhs(&text[pos..], op, expand)?;
    term.cond = Some((op, rhs));
    Ok((term, pos + used))
}

fn split_path(
    text: &str,
    expand: &dyn Fn(&str) -> String,
) -> NgsiResult<(String, Vec<String>, Vec<String>)> {
    let (head, brackets) = match text.find('[') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let mut compound = Vec::new();
    let mut rest = brackets;
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').and_then(|r| r.split_once(']'));
        let Some((name, after)) = inner else {
            return Err(NgsiError::bad_data(format!("unbalanced brackets in '{text}'")));
        };
        compound.push(name.to_string());
        rest = after;
    }
    let parts: Vec<&str> =
        if head.contains("://") { vec![head] } else { head.split('.').collect() };
    if parts.iter().any(|p| p.is_empty()) {
        return Err(NgsiError::bad_data(format!("empty name in attribute path '{text}'")));
    }
    let attr = parts[0].to_string();
    let path = parts[1..]
        .iter()
        .map(|p| if METADATA.contains(p) { (*p).to_string() } else { expand(p) })
        .collect();
    Ok((attr, path, compound))
}

fn parse_rhs(text: &str, op: Op, expand: &dyn Fn(&str) -> String) -> NgsiResult<(Rhs, usize)> {
    if matches!(op, Op::Match | Op::NotMatch) {
        let (pattern, used) = if text.starts_with('"') {
            let (s, n) = quoted(text)?;
            (s, n)
        } else {
            raw_regex(text)
        };
        let re = Regex::new(&pattern)
            .map_err(|e| NgsiError::bad_data(format!("invalid pattern '{pattern}': {e}")))?;
        return Ok((Rhs::Pattern(re), used));
    }
    let mut values = Vec::new();
    let mut pos = 0;
    let mut range = false;
    loop {
        let rest = &text[pos..];
        let (lit, used) = if rest.starts_with('"') {
            let (s, n) = quoted(rest)?;
            (Lit::Str(s.clone(), expand(&s)), n)
        } else {
            let end = rest.find([';', '|', ')', ',']).unwrap_or(rest.len());
            let raw = &rest[..end];
            let raw = match raw.find("..") {
                Some(i) if !range && values.is_empty() => {
                    range = true;
                    &raw[..i]
                }
                _ => raw,
            };
            if raw.is_empty() || raw.starts_with(['=', '<', '>', '!', '~', '(']) {
                return Err(NgsiError::bad_data("missing or malformed value after operator"));
            }
            (literal(raw, expand), raw.len())
        };
        values.push(lit);
        pos += used;
        if range && values.len() == 1 {
            if !text[pos..].starts_with("..") {
                return Err(NgsiError::bad_data("malformed range"));
            }
            pos += 2;
            continue;
        }
        if text[pos..].starts_with(',') && !range {
            pos += 1;
            continue;
        }
        break;
    }
    let rhs = if range {
        if values.len() != 2 || !matches!(op, Op::Eq | Op::Ne) {
            return Err(NgsiError::bad_data("a range needs == or != and two bounds"));
        }
        let hi = values.pop().unwrap_or(Lit::Num(0.0));
        let lo = values.pop().unwrap_or(Lit::Num(0.0));
        Rhs::Range(lo, hi)
    } else if values.len() > 1 {
        if !matches!(op, Op::Eq | Op::Ne) {
            return Err(NgsiError::bad_data("a list of values needs == or !="));
        }
        Rhs::List(values)
    } else {
        Rhs::One(values.pop().unwrap_or(Lit::Num(0.0)))
    };
    Ok((rhs, pos))
}

fn quoted(text: &str) -> NgsiResult<(String, usize)> {
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            '"' => return Ok((out, i + 1)),
            c => out.push(c),
        }
    }
    Err(NgsiError::bad_data("unterminated string in q"))
}

fn raw_regex(text: &str) -> (String, usize) {
    let mut depth = 0i32;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return (text[..i].to_string(), i),
            ')' => depth -= 1,
            ';' | '|' if depth == 0 => return (text[..i].to_string(), i),
            _ => {}
        }
    }
    (text.to_string(), text.len())
}

fn literal(raw: &str, expand: &dyn Fn(&str) -> String) -> Lit {
    match raw {
        "true" => Lit::Bool(true),
        "false" => Lit::Bool(false),
        _ => match raw.parse::<f64>() {
            Ok(n) if n.is_finite() => Lit::Num(n),
            _ => Lit::Str(raw.to_string(), expand(raw)),
        },
    }
}

/// Whether `entity` satisfies `q`.
pub fn matches(q: &Query, entity: &Entity) -> bool {
    q.eval(&mut |term: &Term| eval_term(term, entity))
}

/// Whether `q` has a term that queries into a linked entity (`rel{attr}`, clause 4.9
/// EXAMPLES 13/14); such terms need [`matches_linked`].
pub fn has_linked_terms(q: &Query) -> bool {
    // Walked without collecting: subscriptions ask this on every change they are matched to.
    match q {
        Expr::And(items) | Expr::Or(items) => items.iter().any(has_linked_terms),
        Expr::Atom(t) => t.attr.contains('{'),
    }
}

/// What evaluating `rel{attr}` terms needs: the query's context (to expand the names inside
/// the braces, which the parser keeps as written) and a way to look a target entity up.
pub struct Links<'a> {
    /// Expands a term with the query's context.
    pub expand: &'a dyn Fn(&str) -> String,
    /// The entity with this id, if it exists.
    pub entity: &'a dyn Fn(&str) -> Option<Entity>,
}

/// How many relationships one term may follow (`a{b{c}}` follows two): the deepest
/// `joinLevel` a request may ask for, so a query reaches as far as a join shows.
pub const MAX_LINK_DEPTH: usize = 10;

/// Whether `entity` satisfies `q`, following relationships for `rel{attr}` terms: the term
/// holds when one target of `rel` (of the hinted type, with `rel{Type:attr}`) satisfies the
/// inner term, and a negated `!rel{attr}` holds when none does.
pub fn matches_linked(q: &Query, entity: &Entity, links: &Links<'_>) -> bool {
    q.eval(&mut |term: &Term| linked_term(term, entity, links, 0))
}

fn linked_term(term: &Term, entity: &Entity, links: &Links<'_>, depth: usize) -> bool {
    let Some((rel, rest)) = term.attr.split_once('{') else {
        return eval_term(term, entity);
    };
    let Some(inner) = rest.strip_suffix('}') else { return false };
    if depth >= MAX_LINK_DEPTH || !term.path.is_empty() || !term.compound.is_empty() {
        return false;
    }
    let (hint, inner) = match inner.split_once(':') {
        Some((ty, attr)) if !inner.contains("://") && !ty.contains('{') => {
            (Some((links.expand)(ty)), attr)
        }
        _ => (None, inner),
    };
    let Ok(Expr::Atom(mut inner_term)) = parse_q(inner, links.expand) else { return false };
    inner_term.cond = term.cond.clone();
    inner_term.expand_values = term.expand_values;
    let rel_iri = (links.expand)(rel);
    let found = entity
        .relationship_targets()
        .into_iter()
        .filter(|(name, _)| *name == rel_iri)
        .filter_map(|(_, id)| (links.entity)(&id))
        .filter(|target| hint.as_ref().is_none_or(|h| target.types.contains(h)))
        .any(|target| linked_term(&inner_term, &target, links, depth + 1));
    if term.negated { !found } else { found }
}

fn eval_term(term: &Term, entity: &Entity) -> bool {
    let Some(instances) = entity.attrs.get(&term.attr_iri) else { return term.negated };
    if term.negated {
        return false;
    }
    instances.iter().any(|attr| {
        let mut values = Vec::new();
        collect_values(attr, &term.path, &term.compound, &mut values);
        match &term.cond {
            None => !values.is_empty(),
            Some((op, _))
                if term.path.is_empty()
                    && matches!(attr.kind, AttrKind::Relationship | AttrKind::ListRelationship)
                    && !matches!(op, Op::Eq | Op::Ne) =>
            {
                // Relationships only compare for (in)equality (clause 4.9).
                false
            }
            Some((op, rhs)) => {
                let vocab = term.expand_values
                    && attr.kind == AttrKind::VocabProperty
                    && term.path.is_empty();
                test(&values, *op, rhs, vocab)
            }
        }
    })
}

fn collect_values(attr: &Attribute, path: &[String], compound: &[String], out: &mut Vec<Value>) {
    if let Some((first, rest)) = path.split_first() {
        let meta = match first.as_str() {
            "observedAt" => attr.observed_at.map(|t| Value::String(format_datetime(t))),
            "createdAt" => Some(Value::String(format_datetime(attr.created_at))),
            "modifiedAt" => Some(Value::String(format_datetime(attr.modified_at))),
            "unitCode" => attr.unit_code.clone().map(Value::String),
            "datasetId" => attr.dataset_id.clone().map(Value::String),
            _ => None,
        };
        if let Some(v) = meta {
            out.push(v);
        } else if let Some(sub) = attr.sub.get(first) {
            collect_values(sub, rest, compound, out);
        }
        return;
    }
    let base = match attr.kind {
        AttrKind::ListRelationship => Value::Array(
            attr.value
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.get("object").cloned().unwrap_or_else(|| v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => attr.value.clone(),
    };
    let mut target = &base;
    for (i, key) in compound.iter().enumerate() {
        if key == "*" && attr.kind == AttrKind::LanguageProperty && i == 0 {
            // `attr[*]` on a LanguageProperty: the value in any language (clause 4.9).
            if let Value::Object(map) = target {
                out.extend(map.values().flat_map(flatten));
            }
            return;
        }
        match target.get(key.as_str()) {
            Some(v) => target = v,
            None => return,
        }
    }
    let target = unwrap_value(target);
    match (attr.kind, compound.is_empty(), target) {
        (AttrKind::LanguageProperty, true, Value::Object(map)) => {
            out.extend(map.values().flat_map(flatten));
        }
        (_, _, Value::Array(items)) => out.extend(items.iter().map(|v| unwrap_value(v).clone())),
        (_, _, v) => out.push(v.clone()),
    }
}

fn flatten(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn unwrap_value(v: &Value) -> &Value {
    v.get("@value").unwrap_or(v)
}

fn test(values: &[Value], op: Op, rhs: &Rhs, vocab: bool) -> bool {
    match op {
        Op::Ne => !values.is_empty() && !values.iter().any(|v| eq_rhs(v, rhs, vocab)),
        Op::Eq => values.iter().any(|v| eq_rhs(v, rhs, vocab)),
        Op::Match | Op::NotMatch => {
            let Rhs::Pattern(re) = rhs else { return false };
            let hit = values.iter().any(|v| v.as_str().is_some_and(|s| re.is_match(s)));
            (op == Op::Match) == hit && (op == Op::Match || !values.is_empty())
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            let Rhs::One(lit) = rhs else { return false };
            values.iter().any(|v| {
                compare(v, lit, vocab).is_some_and(|o| match op {
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                    Op::Lt => o == Ordering::Less,
                    _ => o != Ordering::Greater,
                })
            })
        }
    }
}

fn eq_rhs(v: &Value, rhs: &Rhs, vocab: bool) -> bool {
    match rhs {
        Rhs::One(lit) => compare(v, lit, vocab) == Some(Ordering::Equal),
        Rhs::List(lits) => lits.iter().any(|l| compare(v, l, vocab) == Some(Ordering::Equal)),
        Rhs::Range(lo, hi) => {
            compare(v, lo, vocab).is_some_and(|o| o != Ordering::Less)
                && compare(v, hi, vocab).is_some_and(|o| o != Ordering::Greater)
        }
        Rhs::Pattern(_) => false,
    }
}

fn compare(v: &Value, lit: &Lit, vocab: bool) -> Option<Ordering> {
    match (v, lit) {
        (Value::Number(n), Lit::Num(x)) => n.as_f64()?.partial_cmp(x),
        (Value::Bool(b), Lit::Bool(x)) => Some(b.cmp(x)),
        (Value::String(s), Lit::Str(raw, expanded)) => {
            if vocab && s == expanded {
                return Some(Ordering::Equal);
            }
            match (parse_datetime(s), parse_datetime(raw)) {
                (Some(a), Some(b)) if looks_like_time(raw) => Some(a.cmp(&b)),
                _ => Some(s.as_str().cmp(raw.as_str())),
            }
        }
        (Value::String(s), Lit::Num(x)) => s.parse::<f64>().ok()?.partial_cmp(x).filter(|_| false),
        _ => None,
    }
}

fn looks_like_time(s: &str) -> bool {
    s.len() >= 10 && s.as_bytes()[4] == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::parse::parse_entity;
    use serde_json::json;

    fn entity() -> Entity {
        parse_entity(
            &json!({
                "id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle",
                "speed": {"type": "Property", "value": 80, "observedAt": "2020-09-01T12:00:00Z",
                          "accuracy": {"type": "Property", "value": 0.9}},
                "brand": {"type": "Property", "value": "Mercedes"},
                "address": {"type": "Property", "value": {"city": "Berlin", "zip": "10115"}},
                "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:7"},
                "tags": {"type": "Property", "value": ["a", "b"]},
                "electric": {"type": "Property", "value": false},
                "name": {"type": "LanguageProperty", "languageMap": {"en": "Car", "fr": "Voiture"}}
            }),
            &Context::core(),
            0,
        )
        .unwrap()
    }

    fn check(q: &str, expected: bool) {
        let ctx = Context::core();
        let parsed = parse_q(q, &|t| ctx.expand(t)).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(matches(&parsed, &entity()), expected, "q={q}");
    }

    #[test]
    fn evaluates_the_query_language() {
        let cases = [
            ("speed>50", true),
            ("speed>=80", true),
            ("speed<80", false),
            ("speed==80", true),
            ("speed!=80", false),
            ("speed==70..90", true),
            ("speed==81..90", false),
            ("brand==\"Mercedes\"", true),
            ("brand==\"BMW\",\"Mercedes\"", true),
            ("brand!=\"BMW\"", true),
            ("brand~=\"^Mer\"", true),
            ("brand~=(?i)mercedes", true),
            ("brand!~=\"^Mer\"", false),
            ("address[city]==\"Berlin\"", true),
            ("address[zip]==\"0\"", false),
            ("owner==urn:ngsi-ld:Person:7", true),
            ("owner==\"urn:ngsi-ld:Person:8\"", false),
            ("tags==\"b\"", true),
            ("electric==false", true),
            ("speed", true),
            ("colour", false),
            ("!colour", true),
            ("!speed", false),
            ("speed.observedAt>=2020-09-01T00:00:00Z", true),
            ("speed.observedAt<2020-01-01T00:00:00Z", false),
            ("speed.accuracy>0.5", true),
            ("speed>90|brand==\"Mercedes\"", true),
            ("speed>90;brand==\"Mercedes\"", false),
            ("(speed>90|speed<100);electric==false", true),
            ("name==\"Voiture\"", true),
            ("name[en]==\"Car\"", true),
        ];
        for (q, expected) in cases {
            check(q, expected);
        }
    }

    #[test]
    fn rejects_malformed_queries() {
        let ctx = Context::core();
        for q in [
            "",
            "speed>",
            "speed=>5",
            "(speed>5",
            "speed>5;",
            "speed~=\"(\"",
            "a[b",
            "speed>1..2",
            "speed==\"x",
        ] {
            assert!(parse_q(q, &|t| ctx.expand(t)).is_err(), "accepted {q}");
        }
    }

    #[test]
    fn linked_terms_follow_relationships_to_the_looked_up_entity() {
        let ctx = Context::core();
        let person = parse_entity(
            &json!({"id": "urn:ngsi-ld:Person:7", "type": "Person", "age": 40}),
            &ctx,
            0,
        )
        .unwrap();
        let lookup = |id: &str| (id == person.id).then(|| person.clone());
        let links = Links { expand: &|t: &str| ctx.expand(t), entity: &lookup };
        let cases = [
            ("owner{age}>30", true),
            ("owner{age}>50", false),
            ("owner{Person:age}==40", true),
            ("owner{Robot:age}==40", false),
            ("!owner{height}", true),
            ("!owner{age}", false),
            ("speed>50;owner{age}<50", true),
            ("brand{age}>30", false),
        ];
        for (q, expected) in cases {
            let parsed = parse_q(q, &|t| ctx.expand(t)).unwrap();
            assert!(has_linked_terms(&parsed), "{q}");
            assert_eq!(matches_linked(&parsed, &entity(), &links), expected, "q={q}");
        }
    }
}
