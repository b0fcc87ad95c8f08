//! Entity queries: candidate selection from the id, type and spatial indexes, then exact
//! filtering (ids, idPattern, type expression, attrs, q, scopeQ, geo-query) in creation
//! order, with limit/offset and an optional total count.

use std::collections::BTreeSet;

use citybrain_ngsi::error::NgsiResult;
use citybrain_ngsi::filters::{ScopeQuery, TypeExpr, scopes_match, types_match};
use citybrain_ngsi::geo::{GeoQuery, LOCATION, parse_geometry};
use citybrain_ngsi::model::{AttrKind, Entity};
use citybrain_ngsi::query::{Query, matches};
use regex::Regex;
use rstar::AABB;

use crate::Broker;
use crate::codec::{Terms, peek_header};
use crate::tenant::TenantState;

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct EntityQuery {
    /// Entity ids (any of).
    pub ids: Vec<String>,
    /// Regular expression over ids.
    pub id_pattern: Option<Regex>,
    /// Type expression (expanded names).
    pub types: Option<TypeExpr>,
    /// Entities must have at least one of these attributes (expanded names).
    pub attrs: Vec<String>,
    /// The query language filter.
    pub q: Option<Query>,
    /// Scope filter.
    pub scope_q: Option<ScopeQuery>,
    /// Geo filter.
    pub geo: Option<GeoQuery>,
    /// Page size.
    pub limit: usize,
    /// Entities to skip.
    pub offset: usize,
    /// Whether to count all matches.
    pub count: bool,
}

/// One page of results.
#[derive(Debug, Clone, Default)]
pub struct QueryPage {
    /// The entities of the page, in a stable order.
    pub entities: Vec<Entity>,
    /// Total number of matches when counting was asked.
    pub total: Option<usize>,
}

impl EntityQuery {
    /// Whether `e` satisfies every filter.
    pub fn matches(&self, e: &Entity) -> bool {
        (self.ids.is_empty() || self.ids.contains(&e.id))
            && self.id_pattern.as_ref().is_none_or(|re| re.is_match(&e.id))
            && self.types.as_ref().is_none_or(|t| types_match(t, &e.types))
            && (self.attrs.is_empty() || self.attrs.iter().any(|a| e.attrs.contains_key(a)))
            && self.q.as_ref().is_none_or(|q| matches(q, e))
            && self.scope_q.as_ref().is_none_or(|s| scopes_match(s, &e.scope))
            && self.geo.as_ref().is_none_or(|g| geo_matches(g, e))
    }
}

fn geo_matches(g: &GeoQuery, e: &Entity) -> bool {
    let Some(list) = e.attrs.get(&g.property) else { return false };
    list.iter()
        .filter(|a| a.kind == AttrKind::GeoProperty)
        .filter_map(|a| parse_geometry(&a.value).ok())
        .any(|geom| g.matches(&geom))
}

/// Candidate slots for a query, in creation order.
enum Candidates<'a> {
    /// One index set, borrowed.
    Borrowed(&'a BTreeSet<u32>),
    /// A computed set.
    Owned(BTreeSet<u32>),
    /// Every entity.
    All,
}

fn candidates<'a>(q: &EntityQuery, s: &'a TenantState, terms: &Terms) -> Candidates<'a> {
    if !q.ids.is_empty() {
        return Candidates::Owned(q.ids.iter().filter_map(|id| s.slot_of(id)).collect());
    }
    // The spatial index is usually the most selective, so it wins over the type index.
    if let Some(g) = q.geo.as_ref().filter(|g| g.property == LOCATION)
        && let Some(rect) = g.search_box()
    {
        let env = AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]);
        return Candidates::Owned(
            s.geo.locate_in_envelope_intersecting(env).map(|e| e.data).collect(),
        );
    }
    if let Some(types) = &q.types {
        let atoms = types.atoms();
        if atoms.len() == 1 {
            static EMPTY: BTreeSet<u32> = BTreeSet::new();
            let set = terms.lookup(atoms[0]).and_then(|id| s.by_type.get(&id));
            return Candidates::Borrowed(set.unwrap_or(&EMPTY));
        }
        // Every match has at least one of the expression's types, so the union is a superset.
        let mut set = BTreeSet::new();
        for atom in atoms {
            if let Some(slots) = terms.lookup(atom).and_then(|id| s.by_type.get(&id)) {
                set.extend(slots.iter().copied());
            }
        }
        return Candidates::Owned(set);
    }
    Candidates::All
}

/// Cheap checks on the encoded header (id, types) before decoding the whole entity.
fn header_matches(q: &EntityQuery, s: &TenantState, slot: u32, terms: &Terms) -> bool {
    if q.ids.is_empty() && q.id_pattern.is_none() && q.types.is_none() {
        return true;
    }
    let Some((id, types)) = s.slot_bytes(slot).and_then(peek_header) else { return false };
    (q.ids.is_empty() || q.ids.contains(&id))
        && q.id_pattern.as_ref().is_none_or(|re| re.is_match(&id))
        && q.types.as_ref().is_none_or(|t| {
            t.eval(&mut |atom: &String| terms.lookup(atom).is_some_and(|tid| types.contains(&tid)))
        })
}

/// Term ids of the attributes the filters read (`attrs`, `q`, the geo-query's property), or
/// `None` when no filter reads attributes. Unknown names are left out: no entity has them.
fn filtered_attributes(q: &EntityQuery, terms: &Terms) -> Option<Vec<u32>> {
    if q.attrs.is_empty() && q.q.is_none() && q.geo.is_none() {
        return None;
    }
    let mut names: Vec<&str> = q.attrs.iter().map(String::as_str).collect();
    if let Some(query) = &q.q {
        names.extend(query.atoms().into_iter().map(|t| t.attr_iri.as_str()));
    }
    if let Some(g) = &q.geo {
        names.push(&g.property);
    }
    let mut ids: Vec<u32> = names.into_iter().filter_map(|n| terms.lookup(n)).collect();
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

/// A matching entity as the filters saw it: whole, or with only the filtered attributes.
pub(crate) struct Match {
    slot: u32,
    entity: Entity,
    complete: bool,
}

impl Match {
    /// The whole entity (decoding the rest of it if the filters only needed a part).
    fn into_entity(self, s: &TenantState, terms: &Terms) -> Option<Entity> {
        if self.complete { Some(self.entity) } else { s.decode_slot(self.slot, terms) }
    }
}

fn run(
    q: &EntityQuery,
    s: &TenantState,
    terms: &Terms,
    mut keep: impl FnMut(Match) -> bool,
) -> usize {
    let mut total = 0;
    let candidates = candidates(q, s, terms);
    // Slots drawn from one type's index have that type (a one-atom expression is the atom),
    // so the header need not be decoded again unless an id pattern is to be checked.
    let check_header = q.id_pattern.is_some() || !matches!(candidates, Candidates::Borrowed(_));
    // Filters that read attributes are tested on just those attributes; the rest of an
    // entity is decoded only when it is kept.
    let wanted = filtered_attributes(q, terms);
    let mut visit = |slot: u32| -> bool {
        if check_header && !header_matches(q, s, slot, terms) {
            return true;
        }
        let Some(entity) = s.decode_slot_with(slot, terms, wanted.as_deref()) else {
            return true;
        };
        if q.matches(&entity) {
            total += 1;
            return keep(Match { slot, entity, complete: wanted.is_none() });
        }
        true
    };
    match candidates {
        Candidates::Borrowed(set) => {
            for slot in set.iter().copied() {
                if !visit(slot) {
                    break;
                }
            }
        }
        Candidates::Owned(set) => {
            for slot in set {
                if !visit(slot) {
                    break;
                }
            }
        }
        Candidates::All => {
            for slot in s.all_slots() {
                if !visit(slot) {
                    break;
                }
            }
        }
    }
    total
}

impl Broker {
    /// Runs a query against one tenant.
    pub fn query_entities(&self, tenant: &str, q: &EntityQuery) -> NgsiResult<QueryPage> {
        self.read(tenant, |s, terms| {
            let mut page = Vec::new();
            let mut seen = 0usize;
            let total = run(q, s, terms, |m| {
                if seen >= q.offset
                    && page.len() < q.limit
                    && let Some(e) = m.into_entity(s, terms)
                {
                    page.push(e);
                }
                seen += 1;
                q.count || page.len() < q.limit
            });
            QueryPage { entities: page, total: q.count.then_some(total) }
        })
    }

    /// Ids of every entity matching `q` (limit and offset ignored).
    pub fn query_ids(&self, tenant: &str, q: &EntityQuery) -> NgsiResult<Vec<String>> {
        self.read(tenant, |s, terms| {
            let mut ids = Vec::new();
            run(q, s, terms, |m| {
                ids.push(m.entity.id);
                true
            });
            ids
        })
    }
}
