//! Context Source Registrations (clause 5.2.9, operations of clause 5.9 and 5.10):
//! parsing and validating the JSON document, rendering it back, applying updates and
//! deciding whether a registration answers a discovery query.
//!
//! The hub stores and discovers registrations; it does not forward queries to the
//! registered sources.

use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::error::{ErrorKind, NgsiError, NgsiResult};
use crate::filters::{TypeExpr, parse_id_pattern, types_match};
use crate::parse::{is_uri, is_valid_name, is_valid_scope};
use crate::subscription::{Selector, Subscription};
use crate::time::{Micros, format_datetime, parse_datetime, parse_duration};

/// The `type` every registration carries.
pub const REGISTRATION_TYPE: &str = "ContextSourceRegistration";

/// The registration modes of clause 4.3.6.
pub const MODES: [&str; 4] = ["inclusive", "exclusive", "redirect", "auxiliary"];

/// Members the broker maintains itself; given in a request they are ignored.
const SYSTEM_MEMBERS: [&str; 8] = [
    "createdAt",
    "modifiedAt",
    "status",
    "timesSent",
    "timesFailed",
    "lastSuccess",
    "lastFailure",
    "@context",
];

/// Members whose value is echoed as given once validated.
const ECHOED_MEMBERS: [&str; 10] = [
    "registrationName",
    "description",
    "tenant",
    "observationInterval",
    "managementInterval",
    "location",
    "observationSpace",
    "operationSpace",
    "contextSourceInfo",
    "management",
];

/// Subscription members that select or shape entity notifications and that a
/// subscription to registrations (clause 5.11) does not evaluate in this hub.
const CSOURCE_SUBSCRIPTION_UNSUPPORTED: [&str; 10] = [
    "q",
    "geoQ",
    "scopeQ",
    "csf",
    "temporalQ",
    "timeInterval",
    "throttling",
    "notificationTrigger",
    "datasetId",
    "jsonldContext",
];

/// Notification members that only shape entity notifications.
const CSOURCE_NOTIFICATION_UNSUPPORTED: [&str; 6] =
    ["attributes", "pick", "omit", "join", "joinLevel", "showChanges"];

/// Refuses (OperationNotSupported, naming the member) the Subscription members a
/// subscription to registrations would silently ignore here: registrations are selected by
/// `entities` and `watchedAttributes` only, and notified as they are.
pub fn check_csource_subscription(doc: &Value) -> NgsiResult<()> {
    let unsupported = |what: &str| {
        NgsiError::new(
            ErrorKind::OperationNotSupported,
            format!("'{what}' is not supported on subscriptions to context source registrations"),
        )
    };
    if let Some(k) = CSOURCE_SUBSCRIPTION_UNSUPPORTED.iter().find(|k| doc.get(**k).is_some()) {
        return Err(unsupported(k));
    }
    if let Some(n) = doc.get("notification")
        && let Some(k) = CSOURCE_NOTIFICATION_UNSUPPORTED.iter().find(|k| n.get(**k).is_some())
    {
        return Err(unsupported(&format!("notification.{k}")));
    }
    Ok(())
}

/// One `EntityInfo` of a RegistrationInfo (clause 5.2.8): a type plus an optional id or
/// id pattern.
#[derive(Debug, Clone)]
pub struct EntityInfo {
    /// Entity id.
    pub id: Option<String>,
    /// Id pattern (text and compiled).
    pub id_pattern: Option<(String, regex::Regex)>,
    /// Entity type (expanded).
    pub entity_type: String,
}

/// One `RegistrationInfo` (clause 5.2.10): which entities and attributes the source offers.
#[derive(Debug, Clone, Default)]
pub struct RegistrationInfo {
    /// Entities; empty = any entity.
    pub entities: Vec<EntityInfo>,
    /// Property names (expanded).
    pub property_names: Vec<String>,
    /// Relationship names (expanded).
    pub relationship_names: Vec<String>,
}

/// A parsed registration with expanded names.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Registration id.
    pub id: String,
    /// What the source provides.
    pub information: Vec<RegistrationInfo>,
    /// The source's endpoint URI.
    pub endpoint: String,
    /// `mode` (default `inclusive`).
    pub mode: String,
    /// `operations` (default `federationOps`).
    pub operations: Vec<String>,
    /// Expiry.
    pub expires_at: Option<Micros>,
    /// `scope`, as given (a string or an array).
    pub scope: Option<Value>,
    /// `refreshRate`, as given.
    pub refresh_rate: Option<String>,
    /// Validated members echoed as given (see [`ECHOED_MEMBERS`]).
    pub echo: Map<String, Value>,
    /// Registration properties beyond the data type's members (clause 5.2.9
    /// "CSourcePropertyName"), by expanded name.
    pub properties: Map<String, Value>,
    /// When it was created.
    pub created_at: Micros,
    /// When it was last changed.
    pub modified_at: Micros,
}

/// What a discovery query (`GET /csourceRegistrations`) asks for.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// Entity ids (any).
    pub ids: Vec<String>,
    /// Type expression over expanded names.
    pub types: Option<TypeExpr>,
    /// Id pattern.
    pub id_pattern: Option<regex::Regex>,
    /// Attribute names (expanded, any).
    pub attrs: Vec<String>,
}

fn bad(detail: impl Into<String>) -> NgsiError {
    NgsiError::bad_data(detail)
}

fn names(v: &Value, what: &str, ctx: &Context) -> NgsiResult<Vec<String>> {
    let items = v.as_array().ok_or_else(|| bad(format!("'{what}' must be an array of names")))?;
    if items.is_empty() {
        return Err(bad(format!("'{what}' must not be empty")));
    }
    items
        .iter()
        .map(|i| match i.as_str() {
            Some(n) if is_valid_name(n) || is_uri(n) => Ok(ctx.expand(n)),
            _ => Err(bad(format!("'{what}' holds {i}, which is not an attribute name"))),
        })
        .collect()
}

fn parse_entity_info(v: &Value, ctx: &Context) -> NgsiResult<EntityInfo> {
    let o = v.as_object().ok_or_else(|| bad("'information.entities' items must be objects"))?;
    if let Some(k) = o.keys().find(|k| !matches!(k.as_str(), "id" | "idPattern" | "type")) {
        return Err(bad(format!("'information.entities' items do not take '{k}'")));
    }
    let entity_type = match o.get("type") {
        Some(Value::String(t)) if is_valid_name(t) || is_uri(t) => ctx.expand(t),
        Some(other) => {
            return Err(bad(format!("'information.entities' type {other} is not a type name")));
        }
        None => return Err(bad("every 'information.entities' item needs a 'type'")),
    };
    let id = match o.get("id") {
        Some(Value::String(s)) if is_uri(s) => Some(s.clone()),
        Some(other) => return Err(bad(format!("'information.entities' id {other} is not a URI"))),
        None => None,
    };
    let id_pattern = match o.get("idPattern") {
        Some(Value::String(p)) => Some((p.clone(), parse_id_pattern(p)?)),
        Some(_) => return Err(bad("'information.entities' idPattern must be a string")),
        None => None,
    };
    Ok(EntityInfo { id, id_pattern, entity_type })
}

fn parse_info(v: &Value, ctx: &Context) -> NgsiResult<RegistrationInfo> {
    let o = v.as_object().ok_or_else(|| bad("'information' items must be objects"))?;
    let mut info = RegistrationInfo::default();
    for (k, v) in o {
        match k.as_str() {
            "entities" => {
                let items = v
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| bad("'information.entities' must be a non-empty array"))?;
                info.entities =
                    items.iter().map(|e| parse_entity_info(e, ctx)).collect::<NgsiResult<_>>()?;
            }
            "propertyNames" => {
                info.property_names = names(v, "information.propertyNames", ctx)?;
            }
            "relationshipNames" => {
                info.relationship_names = names(v, "information.relationshipNames", ctx)?;
            }
            other => return Err(bad(format!("'information' items do not take '{other}'"))),
        }
    }
    if o.is_empty() {
        return Err(bad(
            "an 'information' item needs 'entities', 'propertyNames' or 'relationshipNames'",
        ));
    }
    Ok(info)
}

fn check_datetime(v: &Value, what: &str) -> NgsiResult<Micros> {
    v.as_str()
        .and_then(parse_datetime)
        .ok_or_else(|| bad(format!("'{what}' must be a DateTime, not {v}")))
}

/// A TimeInterval (clause 5.2.11): `startAt` required, `endAt` optional and later.
fn check_interval(v: &Value, what: &str) -> NgsiResult<()> {
    let o = v.as_object().ok_or_else(|| bad(format!("'{what}' must be an object")))?;
    if let Some(k) = o.keys().find(|k| !matches!(k.as_str(), "startAt" | "endAt")) {
        return Err(bad(format!("'{what}' does not take '{k}'")));
    }
    let start = o
        .get("startAt")
        .ok_or_else(|| bad(format!("'{what}' needs 'startAt'")))
        .and_then(|s| check_datetime(s, &format!("{what}.startAt")))?;
    if let Some(end) = o.get("endAt")
        && check_datetime(end, &format!("{what}.endAt"))? <= start
    {
        return Err(bad(format!("'{what}.endAt' must be later than its startAt")));
    }
    Ok(())
}

fn check_geometry(v: &Value, what: &str) -> NgsiResult<()> {
    crate::geo::parse_geometry(v)
        .map(|_| ())
        .map_err(|e| bad(format!("'{what}' must be a GeoJSON geometry: {}", e.detail)))
}

fn check_key_values(v: &Value) -> NgsiResult<()> {
    let items = v.as_array().ok_or_else(|| bad("'contextSourceInfo' must be an array"))?;
    let pair = |item: &Value| {
        item.get("key").is_some_and(Value::is_string)
            && item.get("value").is_some_and(Value::is_string)
    };
    if items.iter().all(pair) {
        Ok(())
    } else {
        Err(bad("every 'contextSourceInfo' item needs a string 'key' and a string 'value'"))
    }
}

/// RegistrationManagementInfo (clause 5.2.34).
fn check_management(v: &Value) -> NgsiResult<()> {
    let o = v.as_object().ok_or_else(|| bad("'management' must be an object"))?;
    for (k, v) in o {
        let ok = match k.as_str() {
            "localOnly" => v.is_boolean(),
            "cacheDuration" => v.as_str().and_then(parse_duration).is_some(),
            "timeout" | "cooldown" => v.as_f64().is_some_and(|n| n > 0.0),
            _ => return Err(bad(format!("'management' does not take '{k}'"))),
        };
        if !ok {
            return Err(bad(format!("'management.{k}' has an invalid value {v}")));
        }
    }
    Ok(())
}

fn check_echoed(key: &str, v: &Value) -> NgsiResult<()> {
    match key {
        "registrationName" | "description" => {
            v.as_str().map(|_| ()).ok_or_else(|| bad(format!("'{key}' must be a string")))
        }
        "tenant" => match v.as_str() {
            Some(t) if !t.is_empty() => Ok(()),
            _ => Err(bad("'tenant' must be a non-empty string")),
        },
        "observationInterval" | "managementInterval" => check_interval(v, key),
        "location" | "observationSpace" | "operationSpace" => check_geometry(v, key),
        "contextSourceInfo" => check_key_values(v),
        "management" => check_management(v),
        _ => Ok(()),
    }
}

fn parse_scope(v: &Value) -> NgsiResult<()> {
    let items: Vec<&Value> = match v {
        Value::Array(a) if !a.is_empty() => a.iter().collect(),
        other => vec![other],
    };
    if items.iter().all(|s| s.as_str().is_some_and(|s| s.starts_with('/') && is_valid_scope(s))) {
        Ok(())
    } else {
        Err(bad("'scope' must be a scope such as /Madrid/Gardens, or an array of them"))
    }
}

fn parse_operations(v: &Value) -> NgsiResult<Vec<String>> {
    let items = v
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("'operations' must be a non-empty array of operation names"))?;
    items
        .iter()
        .map(|o| match o.as_str() {
            Some(s) if is_valid_name(s) => Ok(s.to_string()),
            _ => Err(bad(format!("'operations' holds {o}, which is not an operation name"))),
        })
        .collect()
}

impl Registration {
    /// Parses a registration document; `generated_id` is used when it has no `id`. Expiry
    /// in the past is checked by [`Registration::check_not_expired`] (not on reload).
    pub fn parse(
        doc: &Value,
        ctx: &Context,
        generated_id: &str,
        now: Micros,
    ) -> NgsiResult<Registration> {
        let map = doc.as_object().ok_or_else(|| bad("a registration must be a JSON object"))?;
        if map.get("type").and_then(Value::as_str) != Some(REGISTRATION_TYPE) {
            return Err(bad(format!("a registration's 'type' must be \"{REGISTRATION_TYPE}\"")));
        }
        let id = match map.get("id") {
            Some(Value::String(s)) if is_uri(s) => s.clone(),
            Some(other) => return Err(bad(format!("registration 'id' {other} is not a URI"))),
            None => generated_id.to_string(),
        };
        let mut reg = Registration {
            id,
            information: Vec::new(),
            endpoint: String::new(),
            mode: "inclusive".into(),
            operations: vec!["federationOps".into()],
            expires_at: None,
            scope: None,
            refresh_rate: None,
            echo: Map::new(),
            properties: Map::new(),
            created_at: now,
            modified_at: now,
        };
        for (key, v) in map {
            reg.apply(key, v, ctx)?;
        }
        if reg.information.is_empty() {
            return Err(bad("a registration needs a non-empty 'information' array"));
        }
        if reg.endpoint.is_empty() {
            return Err(bad("a registration needs an 'endpoint' URI"));
        }
        Ok(reg)
    }

    fn apply(&mut self, key: &str, v: &Value, ctx: &Context) -> NgsiResult<()> {
        match key {
            "id" | "type" => {}
            k if SYSTEM_MEMBERS.contains(&k) => {}
            "information" => {
                let items = v
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| bad("'information' must be a non-empty array"))?;
                self.information =
                    items.iter().map(|i| parse_info(i, ctx)).collect::<NgsiResult<_>>()?;
            }
            "endpoint" => match v.as_str() {
                Some(e) if is_uri(e) => self.endpoint = e.to_string(),
                _ => return Err(bad(format!("'endpoint' must be a URI, not {v}"))),
            },
            "mode" => match v.as_str() {
                Some(m) if MODES.contains(&m) => self.mode = m.to_string(),
                _ => {
                    return Err(bad(format!(
                        "'mode' must be one of {}, not {v}",
                        MODES.join(", ")
                    )));
                }
            },
            "operations" => self.operations = parse_operations(v)?,
            "expiresAt" => self.expires_at = Some(check_datetime(v, "expiresAt")?),
            "scope" => {
                parse_scope(v)?;
                self.scope = Some(v.clone());
            }
            "refreshRate" => match v.as_str() {
                Some(r) if parse_duration(r).is_some() => self.refresh_rate = Some(r.to_string()),
                _ => return Err(bad(format!("'refreshRate' must be a duration, not {v}"))),
            },
            k if ECHOED_MEMBERS.contains(&k) => {
                check_echoed(k, v)?;
                self.echo.insert(k.to_string(), v.clone());
            }
            other => {
                if !(is_valid_name(other) || is_uri(other)) {
                    return Err(bad(format!("'{other}' is not a valid registration member")));
                }
                self.properties.insert(ctx.expand(other), v.clone());
            }
        }
        Ok(())
    }

    /// `expiresAt`, when the request gave it, must lie in the future.
    pub fn check_not_expired(&self, now: Micros) -> NgsiResult<()> {
        match self.expires_at {
            Some(t) if t <= now => Err(bad("'expiresAt' must be a DateTime in the future")),
            _ => Ok(()),
        }
    }

    /// Applies an update fragment (clause 5.9.3): its members replace the registration's,
    /// `null` removes an optional member; the result must still be a valid registration.
    /// `ctx` is the request's context, used for both the fragment and the current names.
    pub fn update(&self, fragment: &Value, ctx: &Context, now: Micros) -> NgsiResult<Registration> {
        let map = fragment.as_object().ok_or_else(|| bad("the update must be a JSON object"))?;
        if map.is_empty() {
            return Err(bad("the update names no member"));
        }
        let mut doc = self.render(ctx, false);
        for (key, v) in map {
            match key.as_str() {
                "@context" => {}
                "id" if v.as_str() != Some(self.id.as_str()) => {
                    return Err(bad("a registration's 'id' cannot change"));
                }
                "type" if v.as_str() != Some(REGISTRATION_TYPE) => {
                    return Err(bad(format!("a registration's 'type' is \"{REGISTRATION_TYPE}\"")));
                }
                "information" | "endpoint" if v.is_null() => {
                    return Err(bad(format!("'{key}' is mandatory and cannot be removed")));
                }
                _ if v.is_null() => {
                    doc.remove(key);
                }
                _ => {
                    doc.insert(key.clone(), v.clone());
                }
            }
        }
        let mut next = Registration::parse(&Value::Object(doc), ctx, &self.id, now)?;
        if map.contains_key("expiresAt") {
            next.check_not_expired(now)?;
        }
        next.created_at = self.created_at;
        next.modified_at = now;
        Ok(next)
    }

    /// Renders the registration compacted with `ctx`; `sys_attrs` adds createdAt/modifiedAt.
    pub fn render(&self, ctx: &Context, sys_attrs: bool) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("type".into(), Value::String(REGISTRATION_TYPE.into()));
        let info: Vec<Value> = self.information.iter().map(|i| render_info(i, ctx)).collect();
        m.insert("information".into(), Value::Array(info));
        m.insert("endpoint".into(), Value::String(self.endpoint.clone()));
        m.insert("mode".into(), Value::String(self.mode.clone()));
        m.insert("operations".into(), json!(self.operations));
        if let Some(t) = self.expires_at {
            m.insert("expiresAt".into(), Value::String(format_datetime(t)));
        }
        if let Some(s) = &self.scope {
            m.insert("scope".into(), s.clone());
        }
        if let Some(r) = &self.refresh_rate {
            m.insert("refreshRate".into(), Value::String(r.clone()));
        }
        for (k, v) in &self.echo {
            m.insert(k.clone(), v.clone());
        }
        for (k, v) in &self.properties {
            m.insert(ctx.compact(k), v.clone());
        }
        if sys_attrs {
            m.insert("createdAt".into(), Value::String(format_datetime(self.created_at)));
            m.insert("modifiedAt".into(), Value::String(format_datetime(self.modified_at)));
        }
        m
    }

    /// Whether a subscription to registrations selects this registration: one of its
    /// RegistrationInfos offers an entity the subscription's `entities` name (any, when
    /// either side names none) and an attribute in `watchedAttributes` (any, when either
    /// side names none).
    pub fn selected_by(&self, sub: &Subscription) -> bool {
        self.information.iter().any(|info| {
            let entities_ok = sub.entities.is_empty()
                || info.entities.is_empty()
                || sub.entities.iter().any(|sel| info.entities.iter().any(|e| e.selected_by(sel)));
            let offered = info.property_names.iter().chain(&info.relationship_names);
            let attrs_ok = sub.watched.is_empty()
                || (info.property_names.is_empty() && info.relationship_names.is_empty())
                || offered.into_iter().any(|n| sub.watched.contains(n));
            entities_ok && attrs_ok
        })
    }

    /// Whether the registration answers `query` (clause 5.10.2): one of its
    /// RegistrationInfos covers a wanted entity and a wanted attribute.
    pub fn answers(&self, query: &Discovery) -> bool {
        self.information.iter().any(|info| info.covers_entities(query) && info.covers_attrs(query))
    }
}

impl RegistrationInfo {
    /// No `entities` means the source offers the attributes of any entity.
    fn covers_entities(&self, q: &Discovery) -> bool {
        self.entities.is_empty() || self.entities.iter().any(|e| e.covers(q))
    }

    /// Neither propertyNames nor relationshipNames means every attribute is offered.
    fn covers_attrs(&self, q: &Discovery) -> bool {
        if q.attrs.is_empty()
            || (self.property_names.is_empty() && self.relationship_names.is_empty())
        {
            return true;
        }
        let offered = self.property_names.iter().chain(&self.relationship_names);
        offered.into_iter().any(|n| q.attrs.contains(n))
    }
}

impl EntityInfo {
    /// An EntityInfo without an id (or with a pattern) may hold any id it matches, so it
    /// covers every wanted id its pattern allows; with an id it covers that id only.
    fn covers(&self, q: &Discovery) -> bool {
        let type_ok = q
            .types
            .as_ref()
            .is_none_or(|t| types_match(t, std::slice::from_ref(&self.entity_type)));
        let id_ok = q.ids.is_empty()
            || q.ids.iter().any(|id| match (&self.id, &self.id_pattern) {
                (Some(own), _) => own == id,
                (None, Some((_, re))) => re.is_match(id),
                (None, None) => true,
            });
        let pattern_ok = match (&q.id_pattern, &self.id) {
            (Some(re), Some(own)) => re.is_match(own),
            _ => true,
        };
        type_ok && id_ok && pattern_ok
    }
}

impl EntityInfo {
    /// Whether an entity selector of a subscription names entities this info offers.
    fn selected_by(&self, sel: &Selector) -> bool {
        let type_ok = types_match(&sel.types.1, std::slice::from_ref(&self.entity_type));
        let id_ok = match (&sel.id, &self.id, &self.id_pattern) {
            (Some(wanted), Some(own), _) => wanted == own,
            (Some(wanted), None, Some((_, re))) => re.is_match(wanted),
            _ => true,
        };
        let pattern_ok = match (&sel.id_pattern, &self.id) {
            (Some((_, re)), Some(own)) => re.is_match(own),
            _ => true,
        };
        type_ok && id_ok && pattern_ok
    }
}

fn render_info(info: &RegistrationInfo, ctx: &Context) -> Value {
    let mut o = Map::new();
    if !info.entities.is_empty() {
        let entities: Vec<Value> = info
            .entities
            .iter()
            .map(|e| {
                let mut m = Map::new();
                if let Some(id) = &e.id {
                    m.insert("id".into(), Value::String(id.clone()));
                }
                if let Some((p, _)) = &e.id_pattern {
                    m.insert("idPattern".into(), Value::String(p.clone()));
                }
                m.insert("type".into(), Value::String(ctx.compact(&e.entity_type)));
                Value::Object(m)
            })
            .collect();
        o.insert("entities".into(), Value::Array(entities));
    }
    let compacted =
        |list: &[String]| json!(list.iter().map(|n| ctx.compact(n)).collect::<Vec<_>>());
    if !info.property_names.is_empty() {
        o.insert("propertyNames".into(), compacted(&info.property_names));
    }
    if !info.relationship_names.is_empty() {
        o.insert("relationshipNames".into(), compacted(&info.relationship_names));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::parse_type_expr;

    fn doc() -> Value {
        json!({"id": "urn:ngsi-ld:ContextSourceRegistration:1",
            "type": "ContextSourceRegistration",
            "information": [{"entities": [{"id": "urn:ngsi-ld:Vehicle:A456", "type": "Vehicle"}],
                "propertyNames": ["speed"], "relationshipNames": ["isParked"]}],
            "endpoint": "http://my.csource.org:1026"})
    }

    fn parse(d: &Value) -> NgsiResult<Registration> {
        Registration::parse(d, &Context::core(), "urn:gen", 0)
    }

    #[test]
    fn renders_defaults_and_round_trips() {
        let ctx = Context::core();
        let reg = parse(&doc()).unwrap();
        let r = Value::Object(reg.render(&ctx, false));
        assert_eq!(r["mode"], "inclusive");
        assert_eq!(r["operations"], json!(["federationOps"]));
        assert_eq!(r["information"][0]["entities"][0]["type"], "Vehicle");
        assert_eq!(r["information"][0]["propertyNames"], json!(["speed"]));
        let again = parse(&r).unwrap();
        assert_eq!(Value::Object(again.render(&ctx, false)), r);
    }

    #[test]
    fn rejects_missing_or_malformed_members() {
        for (member, bad_value) in [
            ("endpoint", Value::Null),
            ("endpoint", json!("not a uri")),
            ("information", json!([])),
            ("information", json!([{"entities": [{"id": "urn:x:1"}]}])),
            ("mode", json!("sometimes")),
            ("expiresAt", json!("tomorrow")),
            ("managementInterval", json!({"endAt": "2030-01-01T00:00:00Z"})),
        ] {
            let mut d = doc();
            if bad_value.is_null() {
                d.as_object_mut().unwrap().remove(member);
            } else {
                d[member] = bad_value;
            }
            let e = parse(&d).unwrap_err();
            assert!(e.detail.contains(member), "{member}: {}", e.detail);
        }
    }

    #[test]
    fn discovery_matches_types_ids_and_attrs() {
        let reg = parse(&doc()).unwrap();
        let expand = |t: &str| Context::core().expand(t);
        let by_type = |t: &str| Discovery {
            types: Some(parse_type_expr(t, &expand).unwrap()),
            ..Default::default()
        };
        assert!(reg.answers(&by_type("Vehicle")));
        assert!(!reg.answers(&by_type("Building")));
        let attrs = |a: &str| Discovery { attrs: vec![expand(a)], ..Default::default() };
        assert!(reg.answers(&attrs("isParked")));
        assert!(!reg.answers(&attrs("name")));
        let ids = Discovery { ids: vec!["urn:ngsi-ld:Vehicle:B1".into()], ..by_type("Vehicle") };
        assert!(!reg.answers(&ids));
    }

    #[test]
    fn subscriptions_select_by_entities_and_watched_attributes() {
        let reg = parse(&doc()).unwrap();
        let sub = |extra: Value| {
            let mut d = json!({"type": "Subscription",
                "notification": {"endpoint": {"uri": "http://x/n"}}});
            for (k, v) in extra.as_object().unwrap() {
                d[k] = v.clone();
            }
            Subscription::parse(&d, &Context::core(), "urn:s", 0).unwrap()
        };
        assert!(reg.selected_by(&sub(json!({"entities": [{"type": "Vehicle"}]}))));
        assert!(!reg.selected_by(&sub(json!({"entities": [{"type": "Building"}]}))));
        let other_id = json!({"entities": [{"type": "Vehicle", "id": "urn:ngsi-ld:Vehicle:B"}]});
        assert!(!reg.selected_by(&sub(other_id)));
        assert!(reg.selected_by(&sub(json!({"watchedAttributes": ["speed"]}))));
        assert!(!reg.selected_by(&sub(json!({"watchedAttributes": ["name"]}))));
        assert!(check_csource_subscription(&json!({"q": "a>1"})).is_err());
        let shaped = json!({"notification": {"attributes": ["a"]}});
        assert_eq!(
            check_csource_subscription(&shaped).unwrap_err().kind,
            ErrorKind::OperationNotSupported
        );
    }

    #[test]
    fn update_replaces_members_and_null_removes() {
        let ctx = Context::core();
        let mut d = doc();
        d["expiresAt"] = json!("2040-01-01T00:00:00Z");
        let reg = parse(&d).unwrap();
        let next = reg.update(&json!({"expiresAt": null, "mode": "auxiliary"}), &ctx, 5).unwrap();
        assert_eq!(next.expires_at, None);
        assert_eq!(next.mode, "auxiliary");
        assert_eq!(next.modified_at, 5);
        assert!(reg.update(&json!({"endpoint": null}), &ctx, 5).is_err());
        assert!(reg.update(&json!({"id": "urn:other"}), &ctx, 5).is_err());
    }
}
