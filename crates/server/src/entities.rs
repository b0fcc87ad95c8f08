//! `/entities` handlers: create, retrieve, query, replace, merge, delete, purge, and the
//! attribute operations under `/entities/{id}/attrs`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citybrain_broker::{EntityQuery, UpdateResult};
use citybrain_ngsi::Context;
use citybrain_ngsi::filters::{parse_id_pattern, parse_scope_q, parse_type_expr};
use citybrain_ngsi::geo::{GeoQuery, LOCATION};
use citybrain_ngsi::model::{AttrKind, Entity};
use citybrain_ngsi::parse::{
    attribute_name, holds_null, is_uri, parse_entity, parse_fragment, parse_instance,
};
use citybrain_ngsi::query::parse_q;
use citybrain_ngsi::render::{Format, RenderOptions, render_entity, render_feature};
use citybrain_ngsi::render_stream::EntityJson;
use citybrain_ngsi::time::now_micros;
use serde_json::{Value, json};

use crate::contexts::RequestContext;
use crate::http::{Media, Options, Params, body_type, negotiate, parse_json};
use crate::problem::{ApiError, ApiResult};
use crate::projection::Member;
use crate::render_cache;
use crate::respond::{self, no_content};
use crate::{AppState, header_value, tenant_of};

const RETRIEVE_PARAMS: &[&str] = &[
    "attrs",
    "pick",
    "omit",
    "options",
    "format",
    "lang",
    "geometryProperty",
    "local",
    "join",
    "joinLevel",
    "datasetId",
    "containedBy",
    "entityMap",
    "via",
    "type",
];
pub(crate) const QUERY_PARAMS: &[&str] = &[
    "id",
    "type",
    "idPattern",
    "attrs",
    "pick",
    "omit",
    "q",
    "scopeQ",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "geometryProperty",
    "csf",
    "limit",
    "offset",
    "count",
    "options",
    "format",
    "lang",
    "local",
    "datasetId",
    "join",
    "joinLevel",
    "containedBy",
    "entityMap",
    "orderBy",
    "orderFrom",
    "collation",
    "collect",
    "expandValues",
    "doNotCompact",
];

/// Default and maximum page sizes.
pub(crate) const DEFAULT_LIMIT: usize = 20;
pub(crate) const MAX_LIMIT: usize = 1000;

fn check_id(id: &str) -> ApiResult<()> {
    if is_uri(id) {
        Ok(())
    } else {
        Err(ApiError::bad_data(format!("entity id '{id}' is not a URI")))
    }
}

/// Owned rendering choices derived from the parameters.
#[derive(Clone)]
pub(crate) struct View {
    pub(crate) format: Format,
    pub(crate) sys_attrs: bool,
    pub(crate) attrs: Option<Vec<String>>,
    pub(crate) omit: Vec<String>,
    pub(crate) pick_core: Option<(bool, bool)>,
    pub(crate) lang: Option<String>,
    pub(crate) geometry_property: String,
    /// `rel{…}` in pick/omit: the view of the entities `rel` links to (expanded `rel`).
    pub(crate) linked: Vec<(String, View)>,
    /// `attrs` names a system attribute (`createdAt`, …), which no entity lists as an
    /// attribute, so an unmatched `attrs` does not mean nothing was selected.
    pub(crate) attrs_name_system: bool,
}

impl View {
    pub(crate) fn from_params(p: &Params, ctx: &Context) -> ApiResult<View> {
        let opts = Options::parse(p)?;
        let attrs_raw = p.list("attrs");
        let attrs: Option<Vec<String>> =
            (!attrs_raw.is_empty()).then(|| attrs_raw.iter().map(|n| ctx.expand(n)).collect());
        let pick = projection_members(p, "pick")?;
        let omit = projection_members(p, "omit")?;
        if !pick.is_empty() && !omit.is_empty() {
            return Err(ApiError::bad_data("pick and omit cannot be used together"));
        }
        // Clause 4.21: pick/omit replace attrs, they are not combined with it.
        if attrs.is_some() && (!pick.is_empty() || !omit.is_empty()) {
            return Err(ApiError::bad_data("pick or omit cannot be used together with attrs"));
        }
        let geometry_property =
            p.get("geometryProperty").map_or_else(|| LOCATION.to_string(), |g| ctx.expand(g));
        let base = View {
            format: opts.format,
            sys_attrs: opts.sys_attrs,
            attrs,
            omit: Vec::new(),
            pick_core: None,
            lang: p.get("lang").map(str::to_string),
            geometry_property,
            linked: Vec::new(),
            attrs_name_system: attrs_raw
                .iter()
                .any(|a| crate::checks::SYSTEM_ATTRS.contains(&a.as_str())),
        };
        Ok(if !pick.is_empty() {
            base.project(&pick, true, ctx)
        } else if !omit.is_empty() {
            base.project(&omit, false, ctx)
        } else {
            base
        })
    }

    /// The same representation without any projection.
    pub(crate) fn plain(&self) -> View {
        View {
            attrs: None,
            omit: Vec::new(),
            pick_core: None,
            linked: Vec::new(),
            attrs_name_system: false,
            ..self.clone()
        }
    }

    /// This view with a `pick` (or `omit`) of `members` applied. `rel{…}` projects the entities
    /// linked through `rel`; with pick it also keeps `rel`, with omit it leaves `rel` in place.
    fn project(mut self, members: &[Member], pick: bool, ctx: &Context) -> View {
        let core = |n: &str| n == "id" || n == "type" || (!pick && n == "scope");
        let mut picked = Vec::new();
        let (mut keep_id, mut keep_type) = (false, false);
        for m in members {
            let name = if core(&m.name) { m.name.clone() } else { ctx.expand(&m.name) };
            if let Some(inner) = &m.linked {
                self.linked.push((name.clone(), self.plain().project(inner, pick, ctx)));
                if !pick {
                    continue;
                }
            }
            match (pick, name.as_str()) {
                (true, "id") => keep_id = true,
                (true, "type") => keep_type = true,
                (true, _) => picked.push(name),
                (false, _) => self.omit.push(name),
            }
        }
        if pick {
            self.attrs = Some(picked);
            self.pick_core = Some((keep_id, keep_type));
        }
        self
    }

    /// The view of the entities linked through the (expanded) relationship `rel`.
    pub(crate) fn for_linked(&self, rel: &str) -> View {
        self.linked
            .iter()
            .find(|(name, _)| name == rel)
            .map_or_else(|| self.plain(), |(_, v)| v.clone())
    }

    /// Whether the attribute `name` (expanded) survives the projection.
    pub(crate) fn keeps_attr(&self, name: &str) -> bool {
        self.attrs.as_ref().is_none_or(|a| a.iter().any(|n| n == name))
            && !self.omit.iter().any(|n| n == name)
    }

    /// Whether pick or omit is given.
    pub(crate) fn projects(&self) -> bool {
        self.pick_core.is_some() || !self.omit.is_empty() || !self.linked.is_empty()
    }

    /// Whether nothing of an entity with these attributes is selected: `attrs` matches none
    /// of them, or pick/omit leave no member (clauses 5.7.1.4 / 5.7.3.4: ResourceNotFound).
    pub(crate) fn selects_nothing<'a>(
        &self,
        mut attr_names: impl Iterator<Item = &'a String>,
        has_scope: bool,
    ) -> bool {
        let attr_kept = attr_names.any(|n| self.keeps_attr(n));
        if self.pick_core.is_none() && self.attrs.is_some() {
            return !attr_kept && !self.attrs_name_system;
        }
        let (pick_id, pick_type) = self.pick_core.unwrap_or((true, true));
        let omitted = |n: &str| self.omit.iter().any(|o| o == n);
        let id_kept = pick_id && !omitted("id");
        let type_kept = pick_type && !omitted("type");
        let scope_kept = has_scope && self.pick_core.is_none() && !omitted("scope");
        !(id_kept || type_kept || scope_kept || attr_kept)
    }

    /// Query results (clause 4.21): an entity of which pick/omit leave nothing is left out
    /// rather than listed as `{}`.
    pub(crate) fn drop_unselected(&self, entities: &mut Vec<Entity>) {
        if self.projects() {
            entities.retain(|e| !self.selects_nothing(e.attrs.keys(), !e.scope.is_empty()));
        }
    }

    /// [`View::selects_nothing`] for a stored entity, as a ResourceNotFound error.
    pub(crate) fn check_selects(&self, e: &Entity) -> ApiResult<()> {
        if self.selects_nothing(e.attrs.keys(), !e.scope.is_empty()) {
            return Err(nothing_selected(&e.id));
        }
        Ok(())
    }

    pub(crate) fn options<'a>(&'a self, ctx: &'a Context) -> RenderOptions<'a> {
        RenderOptions {
            ctx,
            format: self.format,
            sys_attrs: self.sys_attrs,
            attrs: self.attrs.as_deref(),
            omit: &self.omit,
            pick_core: self.pick_core,
            lang: self.lang.as_deref(),
        }
    }

    /// The body of one entity rendered in `media`; JSON and JSON-LD are written straight
    /// to bytes.
    pub(crate) fn entity_body(
        &self,
        e: &Entity,
        rctx: &RequestContext,
        media: Media,
        headers: &HeaderMap,
    ) -> respond::JsonBody {
        if media == Media::GeoJson {
            return respond::json_body(media, rctx, self.render(e, &rctx.ctx, media), headers);
        }
        let o = self.options(&rctx.ctx);
        let ctx = respond::inline_context(media, rctx, headers);
        respond::streamed_body(media, rctx, headers, &EntityJson::new(e, &o, ctx.as_ref()))
    }

    /// The body of a list of entities rendered in `media` (a FeatureCollection for GeoJSON).
    pub(crate) fn list_body(
        &self,
        entities: &[Entity],
        rctx: &RequestContext,
        media: Media,
        headers: &HeaderMap,
    ) -> respond::JsonBody {
        if media == Media::GeoJson {
            let features: Vec<Value> =
                entities.iter().map(|e| self.render(e, &rctx.ctx, media)).collect();
            let body = json!({"type": "FeatureCollection", "features": features});
            return respond::json_body(media, rctx, body, headers);
        }
        let o = self.options(&rctx.ctx);
        let ctx = respond::inline_context(media, rctx, headers);
        let items: Vec<EntityJson<'_>> =
            entities.iter().map(|e| EntityJson::new(e, &o, ctx.as_ref())).collect();
        respond::streamed_body(media, rctx, headers, &items)
    }

    pub(crate) fn render(&self, e: &Entity, ctx: &Context, media: Media) -> Value {
        let o = self.options(ctx);
        if media == Media::GeoJson {
            render_feature(e, &o, &self.geometry_property)
        } else {
            Value::Object(render_entity(e, &o))
        }
    }
}

/// The members of a `pick`/`omit` projection (clause 4.21), repeated parameters joined.
fn projection_members(p: &Params, name: &str) -> ApiResult<Vec<Member>> {
    let mut members = Vec::new();
    for value in p.all(name) {
        members.extend(crate::projection::parse(name, value)?);
    }
    Ok(members)
}

/// ResourceNotFound for an entity of which attrs/pick/omit leave nothing.
pub(crate) fn nothing_selected(id: &str) -> ApiError {
    ApiError::kind(
        citybrain_ngsi::ErrorKind::ResourceNotFound,
        format!("entity '{id}' has nothing left after attrs/pick/omit"),
    )
}

/// POST /entities
pub(crate) async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    let bt = body_type(&headers, false)?;
    let tenant = tenant_of(&headers)?;
    let json = crate::http::parse_json_object(&body, "the entity")?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let entity = parse_entity(&json, &rctx.ctx, now_micros())?;
    let id = entity.id.clone();
    st.broker.create_entity(&tenant, entity).await?;
    let mut resp = StatusCode::CREATED.into_response();
    resp.headers_mut()
        .insert(header::LOCATION, header_value(&format!("/ngsi-ld/v1/entities/{id}")));
    Ok(resp)
}

/// PUT/PATCH `/entities/` (or `/entities`): the entity id is missing (400, not 405).
pub(crate) async fn empty_id() -> ApiResult<Response> {
    Err(ApiError::bad_data("the entity id in the path is empty"))
}

/// GET /entities/{id}
pub(crate) async fn retrieve(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), RETRIEVE_PARAMS)?;
    Options::parse_or(&p, citybrain_ngsi::ErrorKind::InvalidRequest)?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson, Media::GeoJson])?;
    check_id(&id)?;
    check_retrieve(&p, media)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let view = View::from_params(&p, &rctx.ctx)?;
    let join = crate::join::parse(&p)?;
    let map_flag = p.flag("entityMap")?;
    let version = preferred_version(&headers);
    let datasets = crate::datasets::selected(&p);
    if join.is_none() && p.get("type").is_none() && version.is_none() && datasets.is_none() {
        let mut resp =
            retrieve_rendered(&st, &tenant, &id, q.as_deref(), &headers, &view, &rctx, media)?
                .response(StatusCode::OK);
        if let Some(u) = st.maps.for_retrieve(&tenant, &headers, map_flag, &id) {
            u.mark(&mut resp, false);
        }
        return Ok(resp);
    }
    let mut entity = st.broker.retrieve_entity(&tenant, &id)?;
    check_type_selector(&entity, &p, &rctx.ctx)?;
    view.check_selects(&entity)?;
    if let Some(wanted) = &datasets {
        crate::datasets::keep_instances(&mut entity, wanted);
    }
    let body = match join {
        Some(j) => crate::join::render_one(&st.broker, &tenant, j, entity, &view, &rctx.ctx, media),
        None => view.render(&entity, &rctx.ctx, media),
    };
    let mut body = body;
    let altered = version.as_ref().is_some_and(|(_, v)| downgrade(&mut body, *v));
    let status = if altered { StatusCode::NON_AUTHORITATIVE_INFORMATION } else { StatusCode::OK };
    let mut resp = respond::json(status, media, &rctx, body, &headers);
    if let Some((text, _)) = version {
        resp.headers_mut().insert("Preference-Applied", header_value(&format!("ngsi-ld={text}")));
    }
    if let Some(u) = st.maps.for_retrieve(&tenant, &headers, map_flag, &id) {
        u.mark(&mut resp, false);
    }
    Ok(resp)
}

/// The specification version a consumer can interpret (clause 4.3.6.8), from
/// `Prefer: ngsi-ld=<major>.<minor>` (RFC 7240): the text as sent and the parsed pair.
fn preferred_version(headers: &HeaderMap) -> Option<(String, (u32, u32))> {
    headers.get_all("Prefer").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split([',', ';']).find_map(|pref| {
            let text = pref.trim().strip_prefix("ngsi-ld=")?.trim_matches('"');
            let (major, minor) = text.split_once('.')?;
            Some((text.to_string(), (major.parse().ok()?, minor.parse().ok()?)))
        })
    })
}

/// Amends a rendered entity for a consumer of an earlier specification version (clause
/// 4.3.6.8, Table 4.3.6.8-1): a VocabProperty (introduced in 1.8) is reformatted as a
/// Property holding the vocab term as its value. Returns whether anything changed.
fn downgrade(body: &mut Value, version: (u32, u32)) -> bool {
    if version >= (1, 8) {
        return false;
    }
    let Some(obj) = body.as_object_mut() else { return false };
    let mut altered = false;
    for attr in obj.values_mut() {
        let instances: Vec<&mut Value> = match attr {
            Value::Array(items) => items.iter_mut().collect(),
            other => vec![other],
        };
        for inst in instances {
            let Some(inst) = inst.as_object_mut() else { continue };
            if inst.get("type").and_then(Value::as_str) == Some("VocabProperty") {
                inst.insert("type".into(), Value::String("Property".into()));
                if let Some(v) = inst.remove("vocab") {
                    inst.insert("value".into(), v);
                }
                altered = true;
            }
        }
    }
    altered
}

/// Clause 5.7.1.4 request checks of a retrieve: `geometryProperty` only with a GeoJSON
/// response, and a Linked Entity projection (`attr{…}`) only together with `join`.
fn check_retrieve(p: &Params, media: Media) -> ApiResult<()> {
    check_geometry_property(p, media)?;
    if p.get("join").is_none() && p.get("pick").is_some_and(|v| v.contains('{')) {
        return Err(ApiError::bad_data(
            "pick selects a linked entity (attr{…}) but no join is given",
        ));
    }
    Ok(())
}

/// Clauses 5.7.1.4 / 5.7.2.4: `geometryProperty` only with a GeoJSON response (5711_01,
/// 019_27_01).
fn check_geometry_property(p: &Params, media: Media) -> ApiResult<()> {
    if p.get("geometryProperty").is_some() && media != Media::GeoJson {
        return Err(ApiError::bad_data(
            "geometryProperty needs the Accept header application/geo+json",
        ));
    }
    Ok(())
}

/// One entity rendered as asked, from the render cache while the entity is unchanged.
#[allow(clippy::too_many_arguments)]
fn retrieve_rendered(
    st: &AppState,
    tenant: &str,
    id: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    view: &View,
    rctx: &RequestContext,
    media: Media,
) -> ApiResult<respond::JsonBody> {
    let key = render_cache::key(tenant, id, query, headers);
    let stamp = st.broker.entity_stamp(tenant, id)?;
    if let Some(hit) = st.renders.get(&key, stamp, &rctx.ctx) {
        return Ok(hit);
    }
    let (entity, stamp) = st.broker.retrieve_stamped(tenant, id)?;
    // Only answers that select something are cached, so a hit needs no such check.
    view.check_selects(&entity)?;
    let body = view.entity_body(&entity, rctx, media, headers);
    st.renders.put(key, stamp, rctx.ctx.clone(), body.clone());
    Ok(body)
}

/// The `type` value selecting every entity type (Table 6.4.3.2-1: local is then implied and
/// may not be set to false; conformance 019_26).
const ALL_TYPES: &str = "*";

/// Builds an [`EntityQuery`] from GET parameters.
pub(crate) fn entity_query(
    p: &Params,
    ctx: &Context,
    require_filter: bool,
) -> ApiResult<EntityQuery> {
    let expand = |t: &str| ctx.expand(t);
    let ids = p.list("id");
    for id in &ids {
        check_id(id)?;
    }
    let all_types = p.get("type") == Some(ALL_TYPES);
    if all_types && p.get("local") == Some("false") {
        return Err(ApiError::bad_data(
            "type=* implies local=true; it cannot be combined with local=false",
        ));
    }
    let types = match p.get("type") {
        Some(ALL_TYPES) | None => None,
        Some(t) => Some(parse_type_expr(t, &expand)?),
    };
    let id_pattern = p.get("idPattern").map(parse_id_pattern).transpose()?;
    let attrs: Vec<String> = p.list("attrs").iter().map(|a| ctx.expand(a)).collect();
    let mut q = p.get("q").map(|q| parse_q(q, &expand)).transpose()?;
    if let Some(q) = q.as_mut() {
        let listed: Vec<String> = p.list("expandValues").iter().map(|a| ctx.expand(a)).collect();
        citybrain_ngsi::query::limit_value_expansion(q, &listed);
    }
    let scope_q = p.get("scopeQ").map(parse_scope_q).transpose()?;
    let geo = geo_query(
        p.get("georel"),
        p.get("geometry"),
        p.get("coordinates").map(|c| Value::String(c.to_string())),
        p.get("geoproperty"),
        ctx,
    )?;
    let limit = p.usize("limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::kind(
            citybrain_ngsi::ErrorKind::TooManyResults,
            format!("limit {limit} exceeds the maximum of {MAX_LIMIT}"),
        ));
    }
    let count = p.flag("count")?;
    if limit == 0 && !count {
        return Err(ApiError::bad_data("limit=0 is only allowed together with count=true"));
    }
    let query = EntityQuery {
        ids,
        id_pattern,
        types,
        attrs,
        q,
        scope_q,
        geo,
        limit,
        offset: p.usize("offset")?.unwrap_or(0),
        count,
    };
    let local = p.get("local") == Some("true") || all_types;
    let unrestricted = query.ids.is_empty()
        && query.id_pattern.is_none()
        && query.types.is_none()
        && query.attrs.is_empty()
        && query.q.is_none()
        && query.scope_q.is_none()
        && query.geo.is_none();
    if require_filter && unrestricted && !local {
        return Err(ApiError::bad_data(
            "a query needs at least one of type, id, idPattern, attrs, q, scopeQ or a geo-query",
        ));
    }
    Ok(query)
}

/// Builds a geo-query from its three (or four) parameters; all or none must be given.
pub(crate) fn geo_query(
    georel: Option<&str>,
    geometry: Option<&str>,
    coordinates: Option<Value>,
    geoproperty: Option<&str>,
    ctx: &Context,
) -> ApiResult<Option<GeoQuery>> {
    match (georel, geometry, coordinates) {
        (None, None, None) => Ok(None),
        (Some(rel), Some(geom), Some(coords)) => {
            let prop = geoproperty.map_or_else(|| LOCATION.to_string(), |g| ctx.expand(g));
            Ok(Some(GeoQuery::new(rel, geom, &coords, prop)?))
        }
        _ => Err(ApiError::bad_data("a geo-query needs georel, geometry and coordinates together")),
    }
}

/// GET /entities
pub(crate) async fn query(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), QUERY_PARAMS)?;
    let media = negotiate(&headers, &[Media::Json, Media::LdJson, Media::GeoJson])?;
    check_geometry_property(&p, media)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    crate::checks::check_entity_query(&p, &rctx.ctx)?;
    let view = View::from_params(&p, &rctx.ctx)?;
    let mut query = entity_query(&p, &rctx.ctx, true)?;
    let join = crate::join::parse(&p)?;
    let map_flag = p.flag("entityMap")?;
    let ordering = crate::order::Ordering::from_params(&p, &rctx.ctx)?;
    let (mut page, map_use) = if crate::entity_maps::EntityMaps::requested(&headers, map_flag) {
        crate::entity_maps::query_page(&st, &tenant, &headers, map_flag, &mut query)?
    } else {
        (ordered_page(&st, &tenant, &query, ordering.as_ref(), &rctx.ctx)?, None)
    };
    view.drop_unselected(&mut page.entities);
    if let Some(wanted) = crate::datasets::selected(&p) {
        page.entities
            .iter_mut()
            .for_each(|e| crate::datasets::keep_instances(e, wanted.as_slice()));
    }
    let mut resp = if let Some(j) = join {
        let items =
            crate::join::render(&st.broker, &tenant, j, &page.entities, &view, &rctx.ctx, media);
        let mut resp = respond::json(StatusCode::OK, media, &rctx, Value::Array(items), &headers);
        if let Some(total) = page.total {
            resp.headers_mut().insert("NGSILD-Results-Count", header_value(&total.to_string()));
        }
        resp
    } else {
        query_response(&page, &view, &rctx, media, &headers, &query, q.as_deref())
    };
    if let Some(u) = map_use {
        u.mark(&mut resp, true);
    }
    Ok(resp)
}

/// One page of a query. With an ordering, or a `q` querying into linked entities (which
/// the broker cannot decide), every candidate is fetched, filtered and sorted here before
/// the page is cut.
pub(crate) fn ordered_page(
    st: &AppState,
    tenant: &str,
    query: &EntityQuery,
    ordering: Option<&crate::order::Ordering>,
    ctx: &Context,
) -> ApiResult<citybrain_broker::QueryPage> {
    let linked_q = query.q.as_ref().filter(|q| crate::join::has_linked_terms(q));
    if ordering.is_none() && linked_q.is_none() {
        return Ok(st.broker.query_entities(tenant, query)?);
    }
    let all = EntityQuery {
        limit: usize::MAX,
        offset: 0,
        count: false,
        q: if linked_q.is_some() { None } else { query.q.clone() },
        ..query.clone()
    };
    let mut entities = st.broker.query_entities(tenant, &all)?.entities;
    if let Some(q) = linked_q {
        entities.retain(|e| crate::join::linked_matches(&st.broker, tenant, q, e, ctx));
    }
    if let Some(ordering) = ordering {
        ordering.sort(&mut entities);
    }
    let total = entities.len();
    let page = entities.into_iter().skip(query.offset).take(query.limit).collect();
    Ok(citybrain_broker::QueryPage { entities: page, total: query.count.then_some(total) })
}

/// Renders a page of entities with count and pagination headers.
pub(crate) fn query_response(
    page: &citybrain_broker::QueryPage,
    view: &View,
    rctx: &RequestContext,
    media: Media,
    headers: &HeaderMap,
    query: &EntityQuery,
    raw_query: Option<&str>,
) -> Response {
    let mut resp = view.list_body(&page.entities, rctx, media, headers).response(StatusCode::OK);
    if let Some(total) = page.total {
        resp.headers_mut().insert("NGSILD-Results-Count", header_value(&total.to_string()));
    }
    let base: Vec<&str> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("offset=") && !kv.starts_with("limit="))
        .collect();
    let more = page.total.map_or(page.entities.len() == query.limit && query.limit > 0, |t| {
        query.offset + query.limit < t
    });
    let at = respond::Page { limit: query.limit, offset: query.offset, more };
    respond::page_links(&mut resp, "/ngsi-ld/v1/entities", &base, at, media);
    resp
}

/// DELETE /entities (purge)
pub(crate) async fn purge(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(
        q.as_deref(),
        &["type", "id", "idPattern", "q", "scopeQ", "keep", "drop", "local", "attrs"],
    )?;
    // The all-types wildcard belongs to the query operations; a purge names its types.
    if p.get("type") == Some(ALL_TYPES) {
        return Err(ApiError::bad_data(
            "type=* selects entities for queries only, not for a purge",
        ));
    }
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    let mut query = entity_query(&p, &rctx.ctx, true)?;
    query.limit = usize::MAX;
    st.broker.purge(&tenant, query).await?;
    Ok(no_content())
}

/// PUT /entities/{id}
pub(crate) async fn replace(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local"])?;
    let bt = body_type(&headers, false)?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let fragment = parse_fragment(&json, &rctx.ctx, now_micros())?;
    if fragment.id.as_deref().is_some_and(|b| b != id) {
        return Err(ApiError::bad_data("the body's id differs from the URL's"));
    }
    let types = match fragment.types {
        Some(t) => t,
        None => st.broker.retrieve_entity(&tenant, &id)?.types,
    };
    let entity = Entity {
        id,
        types,
        scope: fragment.scope.unwrap_or_default(),
        created_at: 0,
        modified_at: 0,
        expires_at: fragment.expires_at.flatten(),
        attrs: fragment.attrs,
    };
    st.broker.replace_entity(&tenant, entity).await?;
    Ok(no_content())
}

/// PATCH /entities/{id} (merge)
pub(crate) async fn merge(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let _ = Params::parse(q.as_deref(), &["local", "options", "format"])?;
    let bt = body_type(&headers, true)?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let fragment = parse_fragment(&json, &rctx.ctx, now_micros())?;
    if fragment.id.as_deref().is_some_and(|b| b != id) {
        return Err(ApiError::bad_data("the body's id differs from the URL's"));
    }
    st.broker.merge_entity(&tenant, &id, fragment).await?;
    Ok(no_content())
}

/// DELETE /entities/{id}
pub(crate) async fn delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["local", "type"])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    if let Some(t) = p.get("type") {
        // Clause 5.6.6.4: with a type selector, only an entity of that type is deleted.
        let rctx = st.contexts.for_headers(&headers).await?;
        let entity = st.broker.retrieve_entity(&tenant, &id)?;
        if !p.list("type").iter().any(|t| entity.types.contains(&rctx.ctx.expand(t))) {
            return Err(ApiError::kind(
                citybrain_ngsi::ErrorKind::ResourceNotFound,
                format!("entity '{id}' is not of type '{t}'"),
            ));
        }
    }
    st.broker.delete_entity(&tenant, &id).await?;
    Ok(no_content())
}

/// The Entity type selector of clause 4.17 on a single-entity operation (`?type=`, clauses
/// 5.6.2–5.6.5, 5.7.1): the target must carry one of the listed types, otherwise
/// `ResourceNotFound`.
fn check_type_selector(entity: &Entity, p: &Params, ctx: &Context) -> ApiResult<()> {
    match p.get("type") {
        Some(t) if !p.list("type").iter().any(|t| entity.types.contains(&ctx.expand(t))) => {
            Err(ApiError::kind(
                citybrain_ngsi::ErrorKind::ResourceNotFound,
                format!("entity '{}' is not of type '{t}'", entity.id),
            ))
        }
        _ => Ok(()),
    }
}

/// Applies the type selector before a write: reads the target and checks its types.
fn gate_type(st: &AppState, tenant: &str, id: &str, p: &Params, ctx: &Context) -> ApiResult<()> {
    if p.get("type").is_none() {
        return Ok(());
    }
    check_type_selector(&st.broker.retrieve_entity(tenant, id)?, p, ctx)
}

/// `scope` is an entity member, not an attribute: partial update and replace of
/// `attrs/scope` are refused (clause 5.6.4.4, 5.6.19.4).
fn refuse_scope(attr: &str, op: &str) -> ApiResult<()> {
    if attr == "scope" {
        return Err(ApiError::bad_data(format!(
            "the target attribute is scope, which {op} cannot change; use Update or Append \
             Entity Attributes"
        )));
    }
    Ok(())
}

fn update_response(r: UpdateResult, ctx: &Context) -> Response {
    if r.not_updated.is_empty() {
        return no_content();
    }
    let body = json!({
        "updated": r.updated.iter().map(|n| ctx.compact(n)).collect::<Vec<_>>(),
        "notUpdated": r.not_updated.iter().map(|(n, why)| json!({"attributeName": ctx.compact(n), "reason": why})).collect::<Vec<_>>(),
    });
    let mut resp = (StatusCode::MULTI_STATUS, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, header_value("application/json"));
    resp
}

/// POST /entities/{id}/attrs
pub(crate) async fn append(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["options", "local", "type"])?;
    let opts = Options::parse(&p)?;
    let bt = body_type(&headers, false)?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let fragment = parse_fragment(&json, &rctx.ctx, now_micros())?;
    gate_type(&st, &tenant, &id, &p, &rctx.ctx)?;
    let r = st.broker.append_attrs(&tenant, &id, fragment, opts.no_overwrite).await?;
    Ok(update_response(r, &rctx.ctx))
}

/// PATCH /entities/{id}/attrs
pub(crate) async fn update(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["options", "local", "type"])?;
    let bt = body_type(&headers, true)?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let json = parse_json(&body)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let fragment = parse_fragment(&json, &rctx.ctx, now_micros())?;
    gate_type(&st, &tenant, &id, &p, &rctx.ctx)?;
    let r = st.broker.update_attrs(&tenant, &id, fragment).await?;
    Ok(update_response(r, &rctx.ctx))
}

async fn attr_body(
    st: &AppState,
    headers: &HeaderMap,
    attr: &str,
    body: &[u8],
    merge_patch: bool,
) -> ApiResult<(RequestContext, String, citybrain_ngsi::Attribute)> {
    let bt = body_type(headers, merge_patch)?;
    let mut json = parse_json(body)?;
    let rctx = st.contexts.for_body(headers, &json, bt).await?;
    if let Value::Object(map) = &mut json {
        map.remove("@context");
    }
    let name = attribute_name(attr, &rctx.ctx)?;
    let instance = parse_instance(attr, &json, &rctx.ctx, now_micros())?;
    Ok((rctx, name, instance))
}

/// PATCH /entities/{id}/attrs/{attr}
pub(crate) async fn patch_attr(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, attr)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["local", "type"])?;
    check_id(&id)?;
    refuse_scope(&attr, "Partial Attribute Update")?;
    let tenant = tenant_of(&headers)?;
    // Clause 5.5.4: a null inside a compound value only deletes in a merge, not here.
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body)
        && map.get("value").is_some_and(|v| v.is_object() && holds_null(v))
    {
        return Err(ApiError::bad_data(
            "the NGSI-LD null 'urn:ngsi-ld:null' inside a Property value is only allowed \
             in a merge (clause 5.5.4)",
        ));
    }
    let bt = body_type(&headers, true)?;
    let mut json = parse_json(&body)?;
    let rctx = st.contexts.for_body(&headers, &json, bt).await?;
    let Value::Object(members) = &mut json else {
        return Err(ApiError::bad_data("the attribute fragment must be a JSON object"));
    };
    members.remove("@context");
    if members.is_empty() {
        return Err(ApiError::bad_data("the attribute fragment is empty"));
    }
    let name = attribute_name(&attr, &rctx.ctx)?;
    gate_type(&st, &tenant, &id, &p, &rctx.ctx)?;
    let explicit_kind = members.contains_key("type");
    let has_value = AttrKind::ALL.iter().any(|k| members.contains_key(k.value_member()));
    if !explicit_kind && !has_value {
        // Only sub-attributes or metadata: they merge into the target, whose type and
        // value stay as they are (clause 5.6.4, merge-patch).
        let entity = st.broker.retrieve_entity(&tenant, &id)?;
        let dataset = members.get("datasetId").and_then(Value::as_str);
        if let Some(target) = entity.instance(&name, dataset) {
            members.insert("type".into(), json!(target.kind.name()));
            members.insert(target.kind.value_member().into(), target.value.clone());
        }
    }
    let instance = parse_instance(&attr, &json, &rctx.ctx, now_micros())?;
    st.broker.patch_attr(&tenant, &id, &name, instance, explicit_kind).await?;
    Ok(no_content())
}

/// PUT /entities/{id}/attrs/{attr}
pub(crate) async fn replace_attr(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, attr)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["local", "type"])?;
    check_id(&id)?;
    refuse_scope(&attr, "Replace Attribute")?;
    let tenant = tenant_of(&headers)?;
    let (rctx, name, instance) = attr_body(&st, &headers, &attr, &body, false).await?;
    gate_type(&st, &tenant, &id, &p, &rctx.ctx)?;
    st.broker.replace_attr(&tenant, &id, &name, instance).await?;
    Ok(no_content())
}

/// DELETE /entities/{id}/attrs/{attr}
pub(crate) async fn delete_attr(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, attr)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["datasetId", "deleteAll", "local", "type"])?;
    check_id(&id)?;
    let tenant = tenant_of(&headers)?;
    let rctx = st.contexts.for_headers(&headers).await?;
    gate_type(&st, &tenant, &id, &p, &rctx.ctx)?;
    if attr == "scope" {
        st.broker.delete_scope(&tenant, &id).await?;
        return Ok(no_content());
    }
    let name = attribute_name(&attr, &rctx.ctx)?;
    let all = p.flag("deleteAll")?;
    st.broker.delete_attr(&tenant, &id, &name, p.get("datasetId"), all).await?;
    Ok(no_content())
}
