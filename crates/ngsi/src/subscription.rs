//! NGSI-LD subscriptions (clause 5.2.12): parsing and validating the JSON document,
//! rendering it back, and deciding whether an entity change triggers a notification.

use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::error::{NgsiError, NgsiResult};
use crate::filters::{
    ScopeQuery, TypeExpr, parse_id_pattern, parse_scope_q, parse_type_expr, scopes_match,
    types_match,
};
use crate::geo::{GeoQuery, LOCATION};
use crate::model::Entity;
use crate::parse::is_uri;
use crate::query::{Query, parse_q};
use crate::render::Format;
use crate::time::{Micros, format_datetime, parse_datetime};

/// The triggers the spec defines.
pub const TRIGGERS: [&str; 6] = [
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
];

/// One entity selector of `entities`.
#[derive(Debug, Clone)]
pub struct Selector {
    /// Entity id.
    pub id: Option<String>,
    /// Id pattern (text and compiled).
    pub id_pattern: Option<(String, regex::Regex)>,
    /// Type expression text (as given) and parsed (expanded).
    pub types: (String, TypeExpr),
}

/// Where and how notifications go.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// Target URI (`http(s)://…`, or `urn:citybrain:channel:…` for in-process sinks).
    pub uri: String,
    /// Media type of notifications.
    pub accept: Option<String>,
    /// Extra headers (`receiverInfo`).
    pub receiver_info: Vec<(String, String)>,
    /// The endpoint JSON as given (echoed back).
    pub raw: Value,
}

/// Linked entities added to notifications (`notification.join`, clause 4.5.23).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationJoin {
    /// `inline`: targets are embedded in the relationship; otherwise (`flat`) appended
    /// to `data`.
    pub inline: bool,
    /// `joinLevel`: how many relationship hops are followed.
    pub level: usize,
}

/// A parsed subscription with expanded names.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Subscription id.
    pub id: String,
    /// Entity selectors (any).
    pub entities: Vec<Selector>,
    /// Watched attributes (expanded); empty = all.
    pub watched: Vec<String>,
    /// Notification triggers.
    pub triggers: Vec<String>,
    /// `q` text and parsed.
    pub q: Option<(String, Query)>,
    /// `geoQ` as given and parsed.
    pub geo_q: Option<(Value, GeoQuery)>,
    /// `scopeQ` text and parsed.
    pub scope_q: Option<(String, ScopeQuery)>,
    /// Periodic notification interval in seconds.
    pub time_interval: Option<f64>,
    /// Minimum seconds between notifications.
    pub throttling: Option<f64>,
    /// Expiry.
    pub expires_at: Option<Micros>,
    /// `isActive` (true unless paused).
    pub active: bool,
    /// Attributes to include (expanded); empty = all.
    pub attributes: Vec<String>,
    /// Representation of notified entities.
    pub format: Format,
    /// `notification.format` as given.
    pub format_text: Option<String>,
    /// `sysAttrs` in notifications.
    pub sys_attrs: bool,
    /// `showChanges`.
    pub show_changes: bool,
    /// Where to send.
    pub endpoint: Endpoint,
    /// `lang`.
    pub lang: Option<String>,
    /// `jsonldContext` given by the subscriber.
    pub jsonld_context: Option<String>,
    /// `notification.pick` of attributes (expanded) and whether `id`/`type` are kept.
    pub pick: Option<(Vec<String>, (bool, bool))>,
    /// `notification.omit`: `id`, `type`, `scope` or expanded attribute names.
    pub omit: Vec<String>,
    /// `notification.join` / `joinLevel`.
    pub join: Option<NotificationJoin>,
    /// `datasetId`: the attribute instances notified (`@none` = the default instance);
    /// empty = every instance.
    pub dataset_ids: Vec<String>,
    /// Members given that are echoed back verbatim (name, description, …).
    pub echo: Map<String, Value>,
}

fn bad(detail: impl Into<String>) -> NgsiError {
    NgsiError::bad_data(detail)
}

fn string_list(v: &Value, what: &str) -> NgsiResult<Vec<String>> {
    let items = v.as_array().ok_or_else(|| bad(format!("'{what}' must be an array")))?;
    if items.is_empty() {
        return Err(bad(format!("'{what}' must not be empty")));
    }
    items
        .iter()
        .map(|i| {
            i.as_str().map(str::to_string).ok_or_else(|| bad(format!("'{what}' must hold strings")))
        })
        .collect()
}

/// A `KeyValuePair` array (clause 5.2.22): every item an object with string `key` and `value`.
fn key_value_pairs(v: &Value, what: &str) -> NgsiResult<Vec<(String, String)>> {
    let items = v.as_array().ok_or_else(|| bad(format!("'{what}' must be an array")))?;
    items
        .iter()
        .map(|item| {
            let field = |name: &str| {
                item.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("every '{what}' item needs a string '{name}'")))
            };
            Ok((field("key")?, field("value")?))
        })
        .collect()
}

/// `pick` / `omit` of NotificationParams: a non-empty array of strings or a comma list.
fn projection_list(v: &Value, what: &str) -> NgsiResult<Vec<String>> {
    let names: Vec<String> = match v {
        Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        other => string_list(other, &format!("notification {what}"))?,
    };
    if names.is_empty() || names.iter().any(String::is_empty) {
        return Err(bad(format!("notification '{what}' must name at least one member")));
    }
    Ok(names)
}

/// Decodes `%XX` escapes (UTF-8); text that does not decode to UTF-8 is returned unchanged.
fn percent_decode(text: &str) -> String {
    String::from_utf8(crate::parse::percent_bytes(text)).unwrap_or_else(|_| text.to_string())
}

fn number(v: &Value, what: &str) -> NgsiResult<f64> {
    match v.as_f64() {
        Some(n) if n > 0.0 => Ok(n),
        _ => Err(bad(format!("'{what}' must be a positive number"))),
    }
}

impl Subscription {
    /// Parses a subscription document; `id` is generated by the caller when absent.
    pub fn parse(
        doc: &Value,
        ctx: &Context,
        generated_id: &str,
        now: Micros,
    ) -> NgsiResult<Subscription> {
        let map = doc.as_object().ok_or_else(|| bad("a subscription must be a JSON object"))?;
        if map.get("type").and_then(Value::as_str) != Some("Subscription") {
            return Err(bad("a subscription's type must be \"Subscription\""));
        }
        let id = match map.get("id") {
            Some(Value::String(s)) if is_uri(s) => s.clone(),
            Some(other) => return Err(bad(format!("subscription id {other} is not a URI"))),
            None => generated_id.to_string(),
        };
        let mut sub = Subscription {
            id,
            entities: Vec::new(),
            watched: Vec::new(),
            triggers: vec!["attributeCreated".into(), "attributeUpdated".into()],
            q: None,
            geo_q: None,
            scope_q: None,
            time_interval: None,
            throttling: None,
            expires_at: None,
            active: true,
            attributes: Vec::new(),
            format: Format::Normalized,
            format_text: None,
            sys_attrs: false,
            show_changes: false,
            endpoint: Endpoint::default(),
            lang: None,
            jsonld_context: None,
            dataset_ids: Vec::new(),
            join: None,
            pick: None,
            omit: Vec::new(),
            echo: Map::new(),
        };
        let mut has_notification = false;
        for (key, v) in map {
            sub.apply(key, v, ctx, &mut has_notification)?;
        }
        if !has_notification {
            return Err(bad("a subscription needs 'notification'"));
        }
        sub.check_expiry_given(map, now)?;
        sub.validate()?;
        Ok(sub)
    }

    /// Applies an update fragment (PATCH /subscriptions/{id}).
    pub fn update(&mut self, fragment: &Value, ctx: &Context, now: Micros) -> NgsiResult<()> {
        let map = fragment.as_object().ok_or_else(|| bad("the update must be a JSON object"))?;
        let mut next = self.clone();
        let mut has_notification = true;
        for (key, v) in map {
            match key.as_str() {
                "id" | "type" => {
                    if key == "id" && v.as_str() != Some(self.id.as_str()) {
                        return Err(bad("the subscription id cannot change"));
                    }
                }
                "notification" => {
                    // Merge notification members.
                    let mut merged = next.notification_json(ctx);
                    if let (Value::Object(m), Value::Object(patch)) = (&mut merged, v) {
                        for (k, pv) in patch {
                            m.insert(k.clone(), pv.clone());
                        }
                    }
                    next.apply("notification", &merged, ctx, &mut has_notification)?;
                }
                _ => next.apply(key, v, ctx, &mut has_notification)?,
            }
        }
        next.check_expiry_given(map, now)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    fn apply(
        &mut self,
        key: &str,
        v: &Value,
        ctx: &Context,
        has_notification: &mut bool,
    ) -> NgsiResult<()> {
        let expand = |t: &str| ctx.expand(t);
        match key {
            "id" | "type" | "@context" | "status" | "createdAt" | "modifiedAt" => {}
            "entities" => {
                let items = v
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| bad("'entities' must be a non-empty array"))?;
                self.entities =
                    items.iter().map(|s| parse_selector(s, ctx)).collect::<NgsiResult<_>>()?;
            }
            "watchedAttributes" => {
                self.watched = string_list(v, key)?.iter().map(|a| ctx.expand(a)).collect();
            }
            "notificationTrigger" => {
                let list = string_list(v, key)?;
                if let Some(t) = list.iter().find(|t| !TRIGGERS.contains(&t.as_str())) {
                    return Err(bad(format!("unknown notificationTrigger '{t}'")));
                }
                self.triggers = list;
            }
            "q" => {
                let text = v.as_str().ok_or_else(|| bad("'q' must be a string"))?;
                // Clients often send the q they would put in a URL, percent-encoded.
                let decoded = percent_decode(text);
                self.q = Some((text.to_string(), parse_q(&decoded, &expand)?));
            }
            "geoQ" => {
                let g = v.as_object().ok_or_else(|| bad("'geoQ' must be an object"))?;
                let rel = g
                    .get("georel")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("geoQ needs 'georel'"))?;
                let geom = g
                    .get("geometry")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("geoQ needs 'geometry'"))?;
                let coords = g.get("coordinates").ok_or_else(|| bad("geoQ needs 'coordinates'"))?;
                let prop = g
                    .get("geoproperty")
                    .and_then(Value::as_str)
                    .map_or_else(|| LOCATION.to_string(), |p| ctx.expand(p));
                self.geo_q = Some((v.clone(), GeoQuery::new(rel, geom, coords, prop)?));
            }
            "scopeQ" => {
                let text = v.as_str().ok_or_else(|| bad("'scopeQ' must be a string"))?;
                self.scope_q = Some((text.to_string(), parse_scope_q(text)?));
            }
            "timeInterval" => {
                self.time_interval = Some(number(v, key)?);
                self.echo.insert(key.into(), v.clone());
            }
            "throttling" => {
                self.throttling = Some(number(v, key)?);
                self.echo.insert(key.into(), v.clone());
            }
            "expiresAt" => {
                let t = v
                    .as_str()
                    .and_then(parse_datetime)
                    .ok_or_else(|| bad("'expiresAt' must be a DateTime"))?;
                self.expires_at = Some(t);
                self.echo.insert(key.into(), Value::String(format_datetime(t)));
            }
            "isActive" => {
                self.active = v.as_bool().ok_or_else(|| bad("'isActive' must be a boolean"))?;
                self.echo.insert(key.into(), v.clone());
            }
            "lang" => {
                self.lang =
                    Some(v.as_str().ok_or_else(|| bad("'lang' must be a string"))?.to_string());
            }
            "jsonldContext" => {
                let c = v
                    .as_str()
                    .filter(|s| is_uri(s))
                    .ok_or_else(|| bad("'jsonldContext' must be a URI"))?;
                self.jsonld_context = Some(c.to_string());
            }
            "notification" => {
                *has_notification = true;
                self.parse_notification(v, ctx)?;
            }
            "csf" => {
                let text = v.as_str().ok_or_else(|| bad("'csf' must be a string"))?;
                parse_q(text, &expand)
                    .map_err(|e| bad(format!("'csf' is not a valid query: {}", e.detail)))?;
                self.echo.insert(key.into(), v.clone());
            }
            "datasetId" => {
                let ids = match v {
                    Value::String(s) => vec![s.clone()],
                    other => string_list(other, key)?,
                };
                if let Some(id) = ids.iter().find(|i| *i != "@none" && !is_uri(i)) {
                    return Err(bad(format!("'datasetId' member '{id}' is not a URI")));
                }
                self.dataset_ids = ids;
                self.echo.insert(key.into(), v.clone());
            }
            "subscriptionName" | "description" | "temporalQ" | "scope" => {
                self.echo.insert(key.into(), v.clone());
            }
            // Members outside clause 5.2.12 are not part of the subscription: they are
            // neither stored nor served back (read-only members above are ignored the same way).
            _ => {}
        }
        Ok(())
    }

    fn parse_notification(&mut self, v: &Value, ctx: &Context) -> NgsiResult<()> {
        let n = v.as_object().ok_or_else(|| bad("'notification' must be an object"))?;
        let endpoint = n
            .get("endpoint")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("notification needs an 'endpoint'"))?;
        let uri = endpoint
            .get("uri")
            .and_then(Value::as_str)
            .filter(|u| is_uri(u))
            .ok_or_else(|| bad("the endpoint 'uri' must be a URI"))?;
        let accept = endpoint
            .get("accept")
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("endpoint 'accept' must be a string"))
            })
            .transpose()?;
        if let Some(a) = &accept
            && !["application/json", "application/ld+json", "application/geo+json"]
                .contains(&a.as_str())
        {
            return Err(bad(format!("endpoint accept '{a}' is not supported")));
        }
        let receiver_info = match endpoint.get("receiverInfo") {
            Some(info) => key_value_pairs(info, "receiverInfo")?,
            None => Vec::new(),
        };
        if let Some(info) = endpoint.get("notifierInfo") {
            key_value_pairs(info, "notifierInfo")?;
        }
        self.endpoint = Endpoint {
            uri: uri.to_string(),
            accept,
            receiver_info,
            raw: Value::Object(endpoint.clone()),
        };
        self.attributes = match n.get("attributes") {
            Some(a) => string_list(a, "attributes")?.iter().map(|x| ctx.expand(x)).collect(),
            None => Vec::new(),
        };
        self.format_text = n
            .get("format")
            .map(|f| {
                f.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("notification 'format' must be a string"))
            })
            .transpose()?;
        self.format = match self.format_text.as_deref() {
            None | Some("normalized") => Format::Normalized,
            Some("keyValues") | Some("simplified") => Format::KeyValues,
            Some("concise") => Format::Concise,
            Some(other) => return Err(bad(format!("unknown notification format '{other}'"))),
        };
        self.sys_attrs = n.get("sysAttrs").and_then(Value::as_bool).unwrap_or(false);
        self.show_changes = n.get("showChanges").and_then(Value::as_bool).unwrap_or(false);
        if self.show_changes && self.format == Format::KeyValues {
            return Err(bad("notification 'showChanges' cannot be true with the keyValues format"));
        }
        let level = match n.get("joinLevel") {
            None => 1,
            Some(v) => v
                .as_u64()
                .filter(|l| *l >= 1)
                .and_then(|l| usize::try_from(l).ok())
                .ok_or_else(|| bad("notification 'joinLevel' must be a positive integer"))?,
        };
        self.join = match n.get("join") {
            None => None,
            Some(v) => match v.as_str() {
                Some("@none") => None,
                Some("flat") => Some(NotificationJoin { inline: false, level }),
                Some("inline") => Some(NotificationJoin { inline: true, level }),
                _ => return Err(bad("notification 'join' must be flat, inline or @none")),
            },
        };
        let pick = n.get("pick").map(|p| projection_list(p, "pick")).transpose()?;
        let omit = n.get("omit").map(|o| projection_list(o, "omit")).transpose()?;
        if (pick.is_some() || omit.is_some()) && n.contains_key("attributes") {
            return Err(bad("notification 'attributes' cannot be combined with 'pick' or 'omit'"));
        }
        if let (Some(pick), Some(omit)) = (&pick, &omit)
            && let Some(both) = pick.iter().find(|p| omit.contains(p))
        {
            return Err(bad(format!("'{both}' is named by both notification 'pick' and 'omit'")));
        }
        let core = |n: &String| n == "id" || n == "type";
        self.pick = pick.map(|names| {
            let attrs = names.iter().filter(|n| !core(n)).map(|n| ctx.expand(n)).collect();
            (attrs, (names.iter().any(|n| n == "id"), names.iter().any(|n| n == "type")))
        });
        self.omit = omit
            .unwrap_or_default()
            .iter()
            .map(|n| if core(n) || n == "scope" { n.clone() } else { ctx.expand(n) })
            .collect();
        for (k, val) in n {
            if ![
                "attributes",
                "format",
                "endpoint",
                "sysAttrs",
                "showChanges",
                "timesSent",
                "timesFailed",
                "lastNotification",
                "lastSuccess",
                "lastFailure",
                "status",
                "join",
                "joinLevel",
                "pick",
                "omit",
                "lang",
            ]
            .contains(&k.as_str())
            {
                return Err(bad(format!("unknown notification member '{k}'")));
            }
            if k == "pick" || k == "omit" || k == "join" || k == "joinLevel" {
                self.echo.insert(format!("notification.{k}"), val.clone());
            }
        }
        Ok(())
    }

    /// Clause 5.8.1.4 / 5.8.2.4: an `expiresAt` given in a request must lie in the future.
    fn check_expiry_given(&self, doc: &Map<String, Value>, now: Micros) -> NgsiResult<()> {
        if doc.contains_key("expiresAt") && self.expires_at.is_some_and(|t| t <= now) {
            return Err(bad("'expiresAt' must be a DateTime in the future"));
        }
        Ok(())
    }

    fn validate(&self) -> NgsiResult<()> {
        if self.entities.is_empty() && self.watched.is_empty() {
            return Err(bad("a subscription needs 'entities' or 'watchedAttributes'"));
        }
        if self.time_interval.is_some() && (!self.watched.is_empty() || self.throttling.is_some()) {
            return Err(bad(
                "timeInterval cannot be combined with watchedAttributes or throttling",
            ));
        }
        Ok(())
    }

    /// `status`: active, paused or expired.
    pub fn status(&self, now: Micros) -> &'static str {
        if self.expires_at.is_some_and(|t| t <= now) {
            "expired"
        } else if !self.active {
            "paused"
        } else {
            "active"
        }
    }

    fn notification_json(&self, ctx: &Context) -> Value {
        let mut n = Map::new();
        if !self.attributes.is_empty() {
            n.insert(
                "attributes".into(),
                json!(self.attributes.iter().map(|a| ctx.compact(a)).collect::<Vec<_>>()),
            );
        }
        if let Some(f) = &self.format_text {
            n.insert("format".into(), Value::String(f.clone()));
        }
        if self.sys_attrs {
            n.insert("sysAttrs".into(), Value::Bool(true));
        }
        if self.show_changes {
            n.insert("showChanges".into(), Value::Bool(true));
        }
        n.insert("endpoint".into(), self.endpoint.raw.clone());
        for k in ["pick", "omit", "join", "joinLevel"] {
            if let Some(v) = self.echo.get(&format!("notification.{k}")) {
                n.insert(k.into(), v.clone());
            }
        }
        Value::Object(n)
    }

    /// Renders the subscription compacted with `ctx` (status fields are added by the caller).
    pub fn render(&self, ctx: &Context, now: Micros) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("type".into(), Value::String("Subscription".into()));
        if !self.entities.is_empty() {
            let sels: Vec<Value> = self
                .entities
                .iter()
                .map(|s| {
                    let mut o = Map::new();
                    if let Some(id) = &s.id {
                        o.insert("id".into(), Value::String(id.clone()));
                    }
                    if let Some((p, _)) = &s.id_pattern {
                        o.insert("idPattern".into(), Value::String(p.clone()));
                    }
                    o.insert(
                        "type".into(),
                        Value::String(compact_type_expr(&s.types.0, ctx, &s.types.1)),
                    );
                    Value::Object(o)
                })
                .collect();
            m.insert("entities".into(), Value::Array(sels));
        }
        if !self.watched.is_empty() {
            m.insert(
                "watchedAttributes".into(),
                json!(self.watched.iter().map(|a| ctx.compact(a)).collect::<Vec<_>>()),
            );
        }
        m.insert("notificationTrigger".into(), json!(self.triggers));
        if let Some((q, _)) = &self.q {
            m.insert("q".into(), Value::String(q.clone()));
        }
        if let Some((g, _)) = &self.geo_q {
            m.insert("geoQ".into(), g.clone());
        }
        if let Some((s, _)) = &self.scope_q {
            m.insert("scopeQ".into(), Value::String(s.clone()));
        }
        if let Some(l) = &self.lang {
            m.insert("lang".into(), Value::String(l.clone()));
        }
        if let Some(c) = &self.jsonld_context {
            m.insert("jsonldContext".into(), Value::String(c.clone()));
        }
        for (k, v) in &self.echo {
            if !k.starts_with("notification.") {
                m.insert(k.clone(), v.clone());
            }
        }
        m.insert("notification".into(), self.notification_json(ctx));
        m.insert("status".into(), Value::String(self.status(now).into()));
        m
    }

    /// Keeps the attribute instances `datasetId` selects (clause 4.5.5); attributes left
    /// without an instance are dropped. Without `datasetId` the entity is unchanged.
    pub fn filter_datasets(&self, entity: &mut Entity) {
        if self.dataset_ids.is_empty() {
            return;
        }
        let wanted = |a: &crate::model::Attribute| {
            self.dataset_ids.iter().any(|d| match &a.dataset_id {
                Some(id) => id == d,
                None => d == "@none",
            })
        };
        for list in entity.attrs.values_mut() {
            list.retain(wanted);
        }
        entity.attrs.retain(|_, list| !list.is_empty());
    }

    /// Whether the subscription selects `entity` (entities, q, geoQ, scopeQ).
    pub fn selects(&self, entity: &Entity, q_eval: &dyn Fn(&Query, &Entity) -> bool) -> bool {
        let by_selector = self.entities.is_empty()
            || self.entities.iter().any(|s| {
                s.id.as_ref().is_none_or(|id| *id == entity.id)
                    && s.id_pattern.as_ref().is_none_or(|(_, re)| re.is_match(&entity.id))
                    && types_match(&s.types.1, &entity.types)
            });
        by_selector
            && self.q.as_ref().is_none_or(|(_, q)| q_eval(q, entity))
            && self.scope_q.as_ref().is_none_or(|(_, s)| scopes_match(s, &entity.scope))
            && self.geo_q.as_ref().is_none_or(|(_, g)| {
                entity.attrs.get(&g.property).is_some_and(|l| {
                    l.iter()
                        .filter_map(|a| crate::geo::parse_geometry(&a.value).ok())
                        .any(|geom| g.matches(&geom))
                })
            })
    }
}

fn compact_type_expr(text: &str, ctx: &Context, expr: &TypeExpr) -> String {
    // Simple names are compacted with the request's context; expressions are echoed.
    if let crate::expr::Expr::Atom(iri) = expr {
        return ctx.compact(iri);
    }
    text.to_string()
}

fn parse_selector(v: &Value, ctx: &Context) -> NgsiResult<Selector> {
    let o = v.as_object().ok_or_else(|| bad("entity selectors must be objects"))?;
    let t = o
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("entity selectors need a 'type'"))?;
    let id = match o.get("id") {
        Some(Value::String(s)) if is_uri(s) => Some(s.clone()),
        Some(other) => return Err(bad(format!("selector id {other} is not a URI"))),
        None => None,
    };
    let id_pattern = match o.get("idPattern") {
        Some(Value::String(p)) => Some((p.clone(), parse_id_pattern(p)?)),
        Some(_) => return Err(bad("'idPattern' must be a string")),
        None => None,
    };
    Ok(Selector { id, id_pattern, types: (t.to_string(), parse_type_expr(t, &|x| ctx.expand(x))?) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_entity;

    fn sub(doc: Value) -> NgsiResult<Subscription> {
        Subscription::parse(&doc, &Context::core(), "urn:ngsi-ld:Subscription:gen", 0)
    }

    #[test]
    fn parses_renders_and_selects() {
        let s = sub(json!({"id": "urn:ngsi-ld:Subscription:1", "type": "Subscription",
            "entities": [{"type": "Building"}], "q": "height>10",
            "notification": {"format": "keyValues", "endpoint": {"uri": "http://localhost:1/notify", "accept": "application/json"}}}))
        .unwrap();
        let ctx = Context::core();
        let r = Value::Object(s.render(&ctx, 0));
        assert_eq!(r["entities"][0]["type"], "Building");
        assert_eq!(r["status"], "active");
        assert!(r.get("isActive").is_none());
        let tall =
            parse_entity(&json!({"id": "urn:a:1", "type": "Building", "height": 20}), &ctx, 0)
                .unwrap();
        let low = parse_entity(&json!({"id": "urn:a:2", "type": "Building", "height": 5}), &ctx, 0)
            .unwrap();
        let eval = |q: &Query, e: &Entity| crate::query::matches(q, e);
        assert!(s.selects(&tall, &eval));
        assert!(!s.selects(&low, &eval));
    }

    #[test]
    fn rejects_invalid_documents() {
        let base = json!({"type": "Subscription", "entities": [{"type": "B"}], "notification": {"endpoint": {"uri": "http://x/n"}}});
        assert!(sub(base.clone()).is_ok());
        let mut cases = Vec::new();
        for (k, v) in [
            ("id", json!("not a uri")),
            ("type", json!("Sub")),
            ("q", json!("a>")),
            ("notificationTrigger", json!(["whenever"])),
            ("timeInterval", json!(-1)),
            ("expiresAt", json!("soon")),
            ("entities", json!([])),
        ] {
            let mut d = base.clone();
            d[k] = v;
            cases.push(d);
        }
        let mut no_endpoint = base.clone();
        no_endpoint["notification"] = json!({});
        cases.push(no_endpoint);
        for c in cases {
            assert!(sub(c.clone()).is_err(), "accepted {c}");
        }
    }

    #[test]
    fn percent_encoded_q_is_decoded() {
        assert_eq!(percent_decode("name==\"Eiffel%20Tower\""), "name==\"Eiffel Tower\"");
        assert_eq!(percent_decode("a==100%"), "a==100%");
        assert_eq!(percent_decode("a==%zz"), "a==%zz");
        let s = sub(json!({"type": "Subscription", "entities": [{"type": "B"}], "q": "name==\"Eiffel%20Tower\"",
            "notification": {"endpoint": {"uri": "http://x/n"}}}))
        .unwrap();
        let ctx = Context::core();
        let e =
            parse_entity(&json!({"id": "urn:a:1", "type": "B", "name": "Eiffel Tower"}), &ctx, 0)
                .unwrap();
        assert!(s.selects(&e, &|q: &Query, e: &Entity| crate::query::matches(q, e)));
        // The q is served back as given.
        assert_eq!(Value::Object(s.render(&ctx, 0))["q"], "name==\"Eiffel%20Tower\"");
    }

    #[test]
    fn dataset_ids_select_instances() {
        let s = sub(json!({"type": "Subscription", "entities": [{"type": "B"}], "datasetId": ["urn:d:fr", "@none"],
            "notification": {"endpoint": {"uri": "http://x/n"}}}))
        .unwrap();
        let ctx = Context::core();
        let mut e = parse_entity(
            &json!({"id": "urn:a:1", "type": "B",
                "name": [{"type": "Property", "value": "default"},
                         {"type": "Property", "value": "fr", "datasetId": "urn:d:fr"},
                         {"type": "Property", "value": "de", "datasetId": "urn:d:de"}],
                "other": {"type": "Property", "value": 1, "datasetId": "urn:d:de"}}),
            &ctx,
            0,
        )
        .unwrap();
        s.filter_datasets(&mut e);
        let name = ctx.expand("name");
        let values: Vec<&Value> = e.attrs[&name].iter().map(|a| &a.value).collect();
        assert_eq!(values, [&json!("default"), &json!("fr")]);
        assert!(!e.attrs.contains_key(&ctx.expand("other")));
        assert!(sub(json!({"type": "Subscription", "entities": [{"type": "B"}], "datasetId": ["not a uri"],
            "notification": {"endpoint": {"uri": "http://x/n"}}}))
        .is_err());
    }
}
