//! Request checks of Query Entities (clause 5.7.2.4) that the entity query builder does not
//! make: the too-wide guard counts `attrs` and `q` only with a non-system attribute, Linked
//! Entity selections (`attr{…}`) need `join` and may not go deeper than `joinLevel`, and a
//! context source filter (`csf`) must be a valid filter.

use citybrain_ngsi::Context;
use citybrain_ngsi::parse::is_uri;
use citybrain_ngsi::query::parse_q;
use serde_json::Value;

use crate::http::Params;
use crate::problem::{ApiError, ApiResult};

/// System attribute names (clause 4.8), which alone do not narrow a query.
pub(crate) const SYSTEM_ATTRS: [&str; 4] = ["createdAt", "modifiedAt", "deletedAt", "observedAt"];

/// Deepest joinLevel accepted.
pub(crate) const MAX_JOIN_LEVEL: usize = 10;

/// Deepest `{…}` nesting in `text`, outside quoted strings (a regular expression such as
/// `name~="a{2}"` is not a linked entity selection).
fn linked_depth(text: &str) -> usize {
    let (mut depth, mut max, mut quoted) = (0usize, 0usize, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '{' => {
                depth += 1;
                max = max.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Why a too-wide query is refused.
pub(crate) const TOO_WIDE: &str = "a query needs type, attrs or q naming a non-system attribute, \
     a geo-query, local=true, idPattern or scopeQ (id alone does not narrow it)";

/// Whether a query names none of the selectors that narrow it (clauses 5.7.2.4 and 5.7.4.4):
/// an entity type selector, `attrs` or `q` naming at least one attribute that is not a system
/// attribute, a geo-query, or local scope. `idPattern` and `scopeQ` are accepted as well; a
/// list of entity ids alone is not (conformance 019_03_05, 021_24), and neither are `id` and
/// `type` in `attrs`, which are entity members rather than attributes (019_03_03).
pub(crate) fn too_wide(p: &Params, ctx: &Context) -> bool {
    let narrows = ["type", "idPattern", "scopeQ", "georel"].iter().any(|k| p.get(k).is_some())
        || p.get("local") == Some("true");
    let not_an_attribute =
        |name: &str| SYSTEM_ATTRS.contains(&name) || CORE_MEMBERS.contains(&name);
    let real_attrs = p.list("attrs").iter().any(|a| !not_an_attribute(a));
    let real_q = match p.get("q") {
        // An unparsable q narrows here; parsing it later reports the syntax error.
        Some(text) => match parse_q(text, &|t| ctx.expand(t)) {
            Ok(q) => q.atoms().iter().any(|t| !SYSTEM_ATTRS.contains(&t.attr.as_str())),
            Err(_) => true,
        },
        None => false,
    };
    !narrows && !real_attrs && !real_q
}

/// Entity members that `attrs` may name but that are not attributes.
const CORE_MEMBERS: [&str; 2] = ["id", "type"];

/// Checks a GET /entities request before it is turned into a query.
pub(crate) fn check_entity_query(p: &Params, ctx: &Context) -> ApiResult<()> {
    let join = p.get("join").is_some();
    let level = match p.usize("joinLevel")? {
        Some(l) if l > MAX_JOIN_LEVEL => {
            return Err(ApiError::bad_data(format!(
                "joinLevel {l} exceeds the maximum of {MAX_JOIN_LEVEL}"
            )));
        }
        Some(l) => l,
        None => 1,
    };
    for name in ["q", "pick", "omit", "attrs"] {
        let Some(value) = p.get(name) else { continue };
        let depth = linked_depth(value);
        if depth > 0 && !join {
            return Err(ApiError::bad_data(format!(
                "'{name}' selects a linked entity (attr{{…}}) but no join is given"
            )));
        }
        if depth > level {
            return Err(ApiError::bad_data(format!(
                "'{name}' goes {depth} linked entities deep, more than joinLevel {level}"
            )));
        }
    }
    if let Some(csf) = p.get("csf") {
        parse_q(csf, &|t| ctx.expand(t))
            .map_err(|e| ApiError::bad_data(format!("csf is not a valid filter: {}", e.detail)))?;
    }
    if too_wide(p, ctx) {
        return Err(ApiError::bad_data(TOO_WIDE));
    }
    Ok(())
}

/// Checks the members of a Query body (clause 5.2.23, Table 5.2.23-1) for
/// POST /entityOperations/query: no empty `entities`/`attrs`/`pick`/`omit` arrays, string
/// members are strings, `joinLevel` is a positive integer, and `temporalQ` belongs to the
/// temporal operation only.
pub(crate) fn check_query_body(json: &Value) -> ApiResult<()> {
    for name in ["entities", "attrs", "pick", "omit"] {
        match json.get(name) {
            None => {}
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(ApiError::bad_data(format!("'{name}' must not be an empty array")));
            }
            Some(Value::Array(_)) => {}
            Some(Value::String(_)) if name != "entities" => {}
            Some(other) => {
                return Err(ApiError::bad_data(format!("'{name}' must be an array, not {other}")));
            }
        }
    }
    for name in ["q", "scopeQ", "csf", "lang", "join", "containedBy"] {
        if let Some(v) = json.get(name)
            && !v.is_string()
        {
            return Err(ApiError::bad_data(format!("'{name}' must be a string, not {v}")));
        }
    }
    if let Some(level) = json.get("joinLevel")
        && level.as_u64().is_none_or(|l| l == 0)
    {
        return Err(ApiError::bad_data(format!(
            "joinLevel must be a positive integer, not {level}"
        )));
    }
    if json.get("temporalQ").is_some() {
        return Err(ApiError::bad_data(
            "temporalQ belongs to /temporal/entityOperations/query only",
        ));
    }
    Ok(())
}

/// A `pick`/`omit` body member (array or comma separated string) as a parameter value.
pub(crate) fn projection_list(v: &Value) -> String {
    match v {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// One EntitySelector of a Query body (clause 5.2.33, Table 5.2.33-1), checked.
pub(crate) struct Selector<'a> {
    /// The selected ids (a string or an array of strings, each a URI).
    pub(crate) ids: Vec<String>,
    /// The id pattern, if any (ignored when ids are given).
    pub(crate) id_pattern: Option<&'a str>,
    /// The mandatory type expression.
    pub(crate) type_expr: &'a str,
}

/// Checks an EntitySelector: `type` is a mandatory string, `id` a URI or an array of URIs,
/// `idPattern` a string.
pub(crate) fn entity_selector(sel: &Value) -> ApiResult<Selector<'_>> {
    let Some(obj) = sel.as_object() else {
        return Err(ApiError::bad_data(format!("an entity selector must be an object, not {sel}")));
    };
    let type_expr = match obj.get("type") {
        Some(Value::String(t)) if !t.is_empty() => t.as_str(),
        Some(other) => {
            return Err(ApiError::bad_data(format!(
                "an entity selector's type must be a non-empty string, not {other}"
            )));
        }
        None => return Err(ApiError::bad_data("an entity selector needs a type member")),
    };
    let id_list: Vec<&Value> = match obj.get("id") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    let mut ids = Vec::with_capacity(id_list.len());
    for id in id_list {
        match id.as_str() {
            Some(s) if is_uri(s) => ids.push(s.to_string()),
            _ => {
                return Err(ApiError::bad_data(format!(
                    "an entity selector's id must be a URI or an array of URIs, found {id}"
                )));
            }
        }
    }
    let id_pattern = match obj.get("idPattern") {
        None => None,
        Some(Value::String(p)) => Some(p.as_str()),
        Some(other) => {
            return Err(ApiError::bad_data(format!(
                "an entity selector's idPattern must be a string, not {other}"
            )));
        }
    };
    Ok(Selector { ids, id_pattern, type_expr })
}
