//! Linked entity retrieval (`join=inline|flat`, `joinLevel`): relationships' target entities
//! are embedded in the relationship (`entity`) or appended to the result list.

use std::collections::HashSet;

use citybrain_broker::Broker;
use citybrain_ngsi::Context;
use citybrain_ngsi::model::Entity;
use citybrain_ngsi::query::{Links, Query};
use serde_json::Value;

use crate::entities::View;
use crate::http::{Media, Params};
use crate::problem::{ApiError, ApiResult};

/// How to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    /// Embed targets in the relationship.
    Inline(usize),
    /// Append targets to the result list.
    Flat(usize),
}

/// Reads `join`/`joinLevel` (`None` when no join is asked).
pub(crate) fn parse(p: &Params) -> ApiResult<Option<Join>> {
    let level = p.usize("joinLevel")?.unwrap_or(1).max(1);
    match p.get("join") {
        None | Some("@none") => Ok(None),
        Some("inline") => Ok(Some(Join::Inline(level))),
        Some("flat") => Ok(Some(Join::Flat(level))),
        Some(other) => {
            Err(ApiError::bad_data(format!("join must be flat, inline or @none, not '{other}'")))
        }
    }
}

/// Reads the `join`/`joinLevel` members of a Query body (types already checked by
/// `checks::check_query_body`).
pub(crate) fn from_query_body(json: &Value) -> ApiResult<Option<Join>> {
    let level = json.get("joinLevel").and_then(Value::as_u64).map_or(1, |l| l as usize);
    if level > crate::checks::MAX_JOIN_LEVEL {
        return Err(ApiError::bad_data(format!(
            "joinLevel {level} exceeds the maximum of {}",
            crate::checks::MAX_JOIN_LEVEL
        )));
    }
    match json.get("join").and_then(Value::as_str) {
        None | Some("@none") => Ok(None),
        Some("inline") => Ok(Some(Join::Inline(level))),
        Some("flat") => Ok(Some(Join::Flat(level))),
        Some(other) => {
            Err(ApiError::bad_data(format!("join must be flat, inline or @none, not '{other}'")))
        }
    }
}

/// Renders `roots` with the join applied. A linked entity is rendered with the view its
/// relationship's `rel{…}` projection gives (the plain view without one), and only the
/// relationships the projection keeps are followed.
pub(crate) fn render(
    broker: &Broker,
    tenant: &str,
    join: Join,
    roots: &[Entity],
    view: &View,
    ctx: &Context,
    media: Media,
) -> Vec<Value> {
    match join {
        Join::Inline(level) => {
            roots.iter().map(|e| inline(broker, tenant, e, level, view, ctx, media)).collect()
        }
        Join::Flat(level) => flat(broker, tenant, roots, level, view, ctx, media),
    }
}

/// Renders one retrieved entity with the join applied: the inline entity, or the flat list —
/// which is the bare entity when no linked entity was found (018_14_02: a retrieve answers
/// one entity unless there are linked entities to list beside it).
pub(crate) fn render_one(
    broker: &Broker,
    tenant: &str,
    join: Join,
    root: Entity,
    view: &View,
    ctx: &Context,
    media: Media,
) -> Value {
    let mut items = render(broker, tenant, join, std::slice::from_ref(&root), view, ctx, media);
    match join {
        Join::Flat(_) if items.len() > 1 => Value::Array(items),
        _ => items.swap_remove(0),
    }
}

fn flat(
    broker: &Broker,
    tenant: &str,
    roots: &[Entity],
    level: usize,
    view: &View,
    ctx: &Context,
    media: Media,
) -> Vec<Value> {
    let mut seen: HashSet<String> = roots.iter().map(|e| e.id.clone()).collect();
    let mut out: Vec<Value> = roots.iter().map(|e| view.render(e, ctx, media)).collect();
    let mut frontier: Vec<(Entity, View)> =
        roots.iter().map(|e| (e.clone(), view.clone())).collect();
    for _ in 0..level {
        let mut next = Vec::new();
        for (e, v) in &frontier {
            for (name, id) in e.relationship_targets() {
                if !v.keeps_attr(&name) || !seen.insert(id.clone()) {
                    continue;
                }
                if let Ok(t) = broker.retrieve_entity(tenant, &id) {
                    let linked_view = v.for_linked(&name);
                    out.push(linked_view.render(&t, ctx, media));
                    next.push((t, linked_view));
                }
            }
        }
        frontier = next;
    }
    out
}

fn inline(
    broker: &Broker,
    tenant: &str,
    e: &Entity,
    level: usize,
    view: &View,
    ctx: &Context,
    media: Media,
) -> Value {
    let mut out = view.render(e, ctx, media);
    if level == 0 {
        return out;
    }
    for (name, id) in e.relationship_targets() {
        let key = ctx.compact(&name);
        let Some(slot) = out.get_mut(&key) else { continue };
        let Ok(t) = broker.retrieve_entity(tenant, &id) else { continue };
        let linked = inline(broker, tenant, &t, level - 1, &view.for_linked(&name), ctx, media);
        citybrain_ngsi::render::attach_linked(slot, &id, linked, view.format);
    }
    out
}

/// Whether `q` has a term that queries into a linked entity (`rel{attr}`, clause 4.9
/// EXAMPLES 13/14); the broker's query cannot evaluate those, so they are decided here.
pub(crate) fn has_linked_terms(q: &Query) -> bool {
    citybrain_ngsi::query::has_linked_terms(q)
}

/// Whether `e` satisfies `q`, following relationships for `rel{attr}` terms (looked up in
/// the tenant, names expanded with the request's context).
pub(crate) fn linked_matches(
    broker: &Broker,
    tenant: &str,
    q: &Query,
    e: &Entity,
    ctx: &Context,
) -> bool {
    let links = Links {
        expand: &|s: &str| ctx.expand(s),
        entity: &|id: &str| broker.retrieve_entity(tenant, id).ok(),
    };
    citybrain_ngsi::query::matches_linked(q, e, &links)
}
