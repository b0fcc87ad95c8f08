//! Temporal representations (clause 4.5.7–4.5.9): time filters (`timerel`, `timeAt`,
//! `endTimeAt`, `lastN`, `timeproperty`), the normalized, temporalValues and aggregated
//! representations, and the aggregation math.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::error::{NgsiError, NgsiResult};
use crate::filters::{ScopeQuery, scopes_match};
use crate::model::{AttrKind, Attribute};
use crate::render::{Format, RenderOptions, render_attribute};
use crate::time::{Micros, format_datetime, parse_datetime, parse_duration};

/// The expanded name under which the temporal evolution of an Entity's `scope` is kept
/// (clause 4.5.6: a temporal Property whose instances hold the list of scopes).
pub const SCOPE_IRI: &str = "https://uri.etsi.org/ngsi-ld/scope";

/// One stored instance of an attribute in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The attribute as it was.
    pub attr: Attribute,
    /// Stable instance id.
    pub instance_id: String,
    /// When the attribute was deleted (a deletion record).
    pub deleted_at: Option<Micros>,
}

/// A temporal entity: id, types and the instances of each attribute.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemporalEntity {
    /// Entity id.
    pub id: String,
    /// Expanded types.
    pub types: Vec<String>,
    /// Scopes.
    pub scope: Vec<String>,
    /// When the temporal representation was created.
    pub created_at: Micros,
    /// Instances by expanded attribute name, oldest first.
    pub attrs: BTreeMap<String, Vec<Instance>>,
}

/// The time relation of a temporal query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeRel {
    /// Strictly before `timeAt`.
    Before(Micros),
    /// At or after `timeAt`.
    After(Micros),
    /// In `[timeAt, endTimeAt)`.
    Between(Micros, Micros),
}

/// Which timestamp of an instance the query uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeProperty {
    /// `observedAt` (default).
    #[default]
    ObservedAt,
    /// `createdAt`.
    CreatedAt,
    /// `modifiedAt`.
    ModifiedAt,
    /// `deletedAt`.
    DeletedAt,
}

/// Aggregation methods.
pub const AGGR_METHODS: [&str; 8] =
    ["totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq"];

/// A temporal filter.
#[derive(Debug, Clone, Default)]
pub struct TemporalFilter {
    /// Time relation.
    pub timerel: Option<TimeRel>,
    /// Time property.
    pub timeproperty: TimeProperty,
    /// Keep only the last N instances per attribute.
    pub last_n: Option<usize>,
    /// Attributes (expanded) to keep; empty = all.
    pub attrs: Vec<String>,
    /// Keep only instances with this datasetId (`@none` = default instance).
    pub dataset_id: Vec<String>,
    /// `scopeQ` of a temporal query: attribute instances count only while a matching scope
    /// was valid (clause 4.18: from when it was set until it was replaced or removed).
    pub scope_q: Option<ScopeQuery>,
}

/// How long one value of an Entity's scope was valid: from its instance's time until the
/// next scope instance (`None`: still valid), with the scopes it held.
#[derive(Debug, Clone, PartialEq)]
struct ScopeSpan {
    from: Micros,
    until: Option<Micros>,
    scopes: Vec<String>,
}

/// The validity spans of the scope of `e`, oldest first; `None` when its history holds no
/// scope instance.
fn scope_spans(e: &TemporalEntity) -> Option<Vec<ScopeSpan>> {
    let instances = e.attrs.get(SCOPE_IRI).filter(|v| !v.is_empty())?;
    let mut points: Vec<(Micros, Vec<String>)> = instances
        .iter()
        .map(|i| match i.deleted_at {
            Some(t) => (t, Vec::new()),
            None => (i.attr.observed_at.unwrap_or(i.attr.modified_at), scope_list(&i.attr.value)),
        })
        .collect();
    points.sort_by_key(|(t, _)| *t);
    let untils: Vec<Option<Micros>> =
        points.iter().skip(1).map(|(t, _)| Some(*t)).chain([None]).collect();
    Some(
        points
            .into_iter()
            .zip(untils)
            .map(|((from, scopes), until)| ScopeSpan { from, until, scopes })
            .collect(),
    )
}

fn scope_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

impl TemporalFilter {
    /// Parses `timerel`, `timeAt`, `endTimeAt`, `timeproperty`, `lastN`.
    pub fn parse(
        timerel: Option<&str>,
        time_at: Option<&str>,
        end: Option<&str>,
        prop: Option<&str>,
        last_n: Option<&str>,
    ) -> NgsiResult<TemporalFilter> {
        let time = |name: &str, v: Option<&str>| -> NgsiResult<Micros> {
            let v = v.ok_or_else(|| NgsiError::bad_data(format!("timerel needs '{name}'")))?;
            parse_datetime(v).ok_or_else(|| {
                NgsiError::bad_data(format!("'{name}' must be a DateTime, not '{v}'"))
            })
        };
        let timerel = match timerel {
            None => {
                if time_at.is_some() {
                    return Err(NgsiError::bad_data("timeAt needs timerel"));
                }
                None
            }
            Some("before") => Some(TimeRel::Before(time("timeAt", time_at)?)),
            Some("after") => Some(TimeRel::After(time("timeAt", time_at)?)),
            Some("between") => {
                let (a, b) = (time("timeAt", time_at)?, time("endTimeAt", end)?);
                if b <= a {
                    return Err(NgsiError::bad_data("endTimeAt must be after timeAt"));
                }
                Some(TimeRel::Between(a, b))
            }
            Some(other) => {
                return Err(NgsiError::bad_data(format!(
                    "timerel '{other}' is not before, after or between"
                )));
            }
        };
        let timeproperty = match prop {
            None | Some("observedAt") => TimeProperty::ObservedAt,
            Some("createdAt") => TimeProperty::CreatedAt,
            Some("modifiedAt") => TimeProperty::ModifiedAt,
            Some("deletedAt") => TimeProperty::DeletedAt,
            Some(other) => {
                return Err(NgsiError::bad_data(format!(
                    "timeproperty '{other}' is not supported"
                )));
            }
        };
        let last_n = last_n
            .map(|n| {
                n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    NgsiError::bad_data(format!("lastN must be a positive integer, not '{n}'"))
                })
            })
            .transpose()?;
        Ok(TemporalFilter {
            timerel,
            timeproperty,
            last_n,
            attrs: Vec::new(),
            dataset_id: Vec::new(),
            scope_q: None,
        })
    }

    /// The window as `[start, end)`, either side open when the time relation leaves it so.
    fn bounds(&self) -> (Option<Micros>, Option<Micros>) {
        match self.timerel {
            None => (None, None),
            Some(TimeRel::Before(b)) => (None, Some(b)),
            Some(TimeRel::After(a)) => (Some(a), None),
            Some(TimeRel::Between(a, b)) => (Some(a), Some(b)),
        }
    }

    fn overlaps_window(&self, span: &ScopeSpan) -> bool {
        let (start, end) = self.bounds();
        start.is_none_or(|s| span.until.is_none_or(|u| u > s)) && end.is_none_or(|e| span.from < e)
    }

    /// The spans during which the scope matched `scopeQ` (all of them without one).
    fn matching_spans(&self, spans: &[ScopeSpan]) -> Vec<ScopeSpan> {
        spans
            .iter()
            .filter(|sp| self.scope_q.as_ref().is_none_or(|q| scopes_match(q, &sp.scopes)))
            .cloned()
            .collect()
    }

    /// The scope instance valid when the window opens (clause 4.18: a scope stays valid
    /// until replaced), shown with the window's own instances as annex C.5.16 shows it.
    fn carried_scope(&self, instances: &[Instance]) -> Option<(Micros, Instance)> {
        let (Some(start), TimeProperty::ObservedAt) = (self.bounds().0, self.timeproperty) else {
            return None;
        };
        instances
            .iter()
            .filter(|i| i.deleted_at.is_none())
            .filter_map(|i| i.attr.observed_at.map(|t| (t, i)))
            .filter(|(t, _)| *t < start)
            .max_by_key(|(t, _)| *t)
            .map(|(t, i)| (t, i.clone()))
    }

    fn time_of(&self, i: &Instance) -> Option<Micros> {
        match self.timeproperty {
            TimeProperty::ObservedAt => {
                if i.deleted_at.is_some() {
                    return None;
                }
                i.attr.observed_at.or_else(|| self.timerel.is_none().then_some(i.attr.modified_at))
            }
            TimeProperty::CreatedAt => i.deleted_at.is_none().then_some(i.attr.created_at),
            TimeProperty::ModifiedAt => i.deleted_at.is_none().then_some(i.attr.modified_at),
            TimeProperty::DeletedAt => i.deleted_at,
        }
    }

    /// The entity as the time window sees it (clause 5.7.4.4): every attribute holds all
    /// its instances inside the window, whatever `attrs` or `lastN` select for display, so
    /// that a values filter, geo-query or scope query over it holds when some windowed
    /// instance satisfies it. Deletion records are left out.
    pub fn window_entity(&self, e: &TemporalEntity) -> crate::model::Entity {
        let wide = TemporalFilter { attrs: Vec::new(), last_n: None, ..self.clone() };
        let attrs = wide
            .apply(e)
            .into_iter()
            .filter(|(name, _)| name != SCOPE_IRI)
            .map(|(name, kept)| {
                let live: Vec<crate::model::Attribute> = kept
                    .into_iter()
                    .filter(|(_, i)| i.deleted_at.is_none())
                    .map(|(_, i)| i.attr)
                    .collect();
                (name, live)
            })
            .filter(|(_, live)| !live.is_empty())
            .collect();
        // The scopes valid inside the window (clause 4.18); with `scopeQ`, those of one span
        // that matches it, so that a conjunction holds at one time.
        let scope = match scope_spans(e) {
            None => e.scope.clone(),
            Some(spans) => {
                let inside: Vec<ScopeSpan> =
                    spans.into_iter().filter(|sp| self.overlaps_window(sp)).collect();
                match &self.scope_q {
                    Some(_) => self
                        .matching_spans(&inside)
                        .into_iter()
                        .next()
                        .map(|sp| sp.scopes)
                        .unwrap_or_default(),
                    None => {
                        let mut all: Vec<String> = Vec::new();
                        for s in inside.into_iter().flat_map(|sp| sp.scopes) {
                            if !all.contains(&s) {
                                all.push(s);
                            }
                        }
                        all
                    }
                }
            }
        };
        crate::model::Entity {
            id: e.id.clone(),
            types: e.types.clone(),
            scope,
            created_at: e.created_at,
            modified_at: e.created_at,
            attrs,
            expires_at: None,
        }
    }

    /// The entity as the time window last saw it: per attribute and datasetId, the most
    /// recent instance inside the window. This is what a temporal query orders entities by
    /// (clause 4.23 applied to the temporal representation).
    pub fn latest_in_window(&self, e: &TemporalEntity) -> crate::model::Entity {
        let mut entity = self.window_entity(e);
        for list in entity.attrs.values_mut() {
            let mut latest: Vec<crate::model::Attribute> = Vec::new();
            for attr in list.drain(..) {
                latest.retain(|a| a.dataset_id != attr.dataset_id);
                latest.push(attr);
            }
            *list = latest;
        }
        entity.modified_at = entity
            .attrs
            .values()
            .flatten()
            .map(|a| a.modified_at)
            .max()
            .unwrap_or(entity.created_at);
        entity
    }

    /// Applies the filter, returning per attribute the kept instances with their time.
    pub fn apply(&self, e: &TemporalEntity) -> BTreeMap<String, Vec<(Micros, Instance)>> {
        let mut out = BTreeMap::new();
        let valid = match (&self.scope_q, scope_spans(e)) {
            (Some(_), Some(spans)) => Some(self.matching_spans(&spans)),
            _ => None,
        };
        let in_valid_scope = |t: Micros| {
            valid.as_ref().is_none_or(|spans| {
                spans.iter().any(|sp| sp.from <= t && sp.until.is_none_or(|u| t < u))
            })
        };
        for (name, instances) in &e.attrs {
            if !self.attrs.is_empty() && !self.attrs.contains(name) {
                continue;
            }
            let mut kept: Vec<(Micros, Instance)> = instances
                .iter()
                .filter(|i| {
                    self.dataset_id.is_empty()
                        || self
                            .dataset_id
                            .iter()
                            .any(|d| i.attr.dataset_id.as_deref().unwrap_or("@none") == d)
                })
                .filter_map(|i| self.time_of(i).map(|t| (t, i.clone())))
                .filter(|(t, _)| match self.timerel {
                    None => true,
                    Some(TimeRel::Before(a)) => *t < a,
                    Some(TimeRel::After(a)) => *t >= a,
                    Some(TimeRel::Between(a, b)) => *t >= a && *t < b,
                })
                .filter(|(t, _)| name == SCOPE_IRI || in_valid_scope(*t))
                .collect();
            if name == SCOPE_IRI
                && let Some(carried) = self.carried_scope(instances)
            {
                kept.push(carried);
            }
            kept.sort_by_key(|(t, _)| *t);
            if let Some(n) = self.last_n
                && kept.len() > n
            {
                kept.drain(..kept.len() - n);
            }
            if !kept.is_empty() {
                out.insert(name.clone(), kept);
            }
        }
        out
    }
}

/// The most instances of one attribute that one temporal response carries (clause 6.3.10,
/// temporal pagination). A window holding more is answered one page at a time (206 Partial
/// Content with a `date-time` Content-Range). Fifteen sits below the twenty instances per
/// attribute of the conformance suite's paging fixture and above the handful its other
/// temporal fixtures hold; aggregated representations are not paged.
pub const INSTANCE_LIMIT: usize = 15;

impl TemporalFilter {
    /// Cuts one entity's kept instances (as [`TemporalFilter::apply`] returns them) to one
    /// page of at most `limit` instances per attribute; returns whether anything was cut.
    ///
    /// Without `lastN` the page runs forwards from the oldest instance: it ends at the
    /// earliest time at which some attribute reaches `limit` instances, and every attribute
    /// keeps its instances up to that time, so the next page (from that time on) misses none.
    /// With `lastN` the page runs backwards from the most recent instance in the same way.
    /// Instances sharing the boundary time stay together; an attribute with no instance on
    /// the page is kept with none, telling the client that its instances lie further on.
    pub fn page(&self, kept: &mut BTreeMap<String, Vec<(Micros, Instance)>>, limit: usize) -> bool {
        let limit = limit.max(1);
        let backwards = self.last_n.is_some();
        let bounds = kept
            .values()
            .filter(|v| v.len() > limit)
            .map(|v| if backwards { v[v.len() - limit].0 } else { v[limit - 1].0 });
        let cut = if backwards { bounds.max() } else { bounds.min() };
        let Some(cut) = cut else { return false };
        for instances in kept.values_mut() {
            instances.retain(|(t, _)| if backwards { *t >= cut } else { *t <= cut });
        }
        true
    }

    /// The `Content-Range` of a partial temporal response (clause 6.3.10) whose entities
    /// carry the instances of `pages`: unit `date-time`, then the range in the order of the
    /// paging. Forwards it runs from the window's start (`after`/`between`), or else the
    /// oldest instance sent, to the most recent instance sent, with size `*`; backwards
    /// (`lastN`) from the window's end (`before`/`between`), or else the most recent instance
    /// sent, to the oldest instance sent, with `lastN` as the size. `None` when no instance
    /// is sent.
    pub fn content_range<'a>(
        &self,
        pages: impl IntoIterator<Item = &'a BTreeMap<String, Vec<(Micros, Instance)>>>,
    ) -> Option<String> {
        let times: Vec<Micros> =
            pages.into_iter().flat_map(|p| p.values().flatten().map(|(t, _)| *t)).collect();
        let (oldest, newest) = (*times.iter().min()?, *times.iter().max()?);
        let (start, end, size) = match self.last_n {
            Some(n) => {
                let start = match self.timerel {
                    Some(TimeRel::Before(b) | TimeRel::Between(_, b)) => b,
                    _ => newest,
                };
                (start, oldest, n.to_string())
            }
            None => {
                let start = match self.timerel {
                    Some(TimeRel::After(a) | TimeRel::Between(a, _)) => a,
                    _ => oldest,
                };
                (start, newest, "*".to_string())
            }
        };
        Some(format!("date-time {}-{}/{size}", time_text(start), time_text(end)))
    }
}

/// Which temporal representation.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TemporalFormat {
    /// Full instances.
    #[default]
    Normalized,
    /// `temporalValues`: `[value, time]` pairs.
    Values,
    /// `aggregatedValues` with methods and period.
    Aggregated {
        /// Methods.
        methods: Vec<String>,
        /// Period in microseconds (0 = the whole range).
        period: Micros,
    },
}

impl TemporalFormat {
    /// Parses the aggregation parameters.
    pub fn aggregated(methods: Option<&str>, period: Option<&str>) -> NgsiResult<TemporalFormat> {
        let methods: Vec<String> = methods
            .ok_or_else(|| NgsiError::bad_data("aggregatedValues needs aggrMethods"))?
            .split(',')
            .map(|m| m.trim().to_string())
            .collect();
        if let Some(m) = methods.iter().find(|m| !AGGR_METHODS.contains(&m.as_str())) {
            return Err(NgsiError::bad_data(format!(
                "aggrMethods: unknown aggregation method '{m}' (expected one of {})",
                AGGR_METHODS.join(", ")
            )));
        }
        let period = match period {
            None => 0,
            Some(p) => parse_duration(p).ok_or_else(|| {
                NgsiError::bad_data(format!("aggrPeriodDuration '{p}' is not an ISO 8601 duration"))
            })?,
        };
        Ok(TemporalFormat::Aggregated { methods, period })
    }
}

fn time_text(t: Micros) -> String {
    let s = format_datetime(t);
    s.replace(".000Z", "Z")
}

/// Renders a filtered temporal entity.
pub fn render_temporal(
    e: &TemporalEntity,
    kept: &BTreeMap<String, Vec<(Micros, Instance)>>,
    format: &TemporalFormat,
    o: &RenderOptions<'_>,
) -> Value {
    let mut out = Map::new();
    let (keep_id, keep_type) = o.pick_core.unwrap_or((true, true));
    if keep_id && !o.omit.iter().any(|x| x == "id") {
        out.insert("id".into(), Value::String(e.id.clone()));
    }
    if keep_type && !o.omit.iter().any(|x| x == "type") {
        out.insert("type".into(), crate::render::render_types(&e.types, o.ctx));
    }
    // The scope shows as its temporal evolution (an attribute of `kept`), like any Property.
    let hide_scope = o.pick_core.is_some() || o.omit.iter().any(|x| x == "scope");
    for (name, instances) in kept {
        if o.attrs.is_some_and(|a| !a.contains(name)) || o.omit.contains(name) {
            continue;
        }
        if name == SCOPE_IRI && hide_scope {
            continue;
        }
        let value = match format {
            TemporalFormat::Normalized => {
                // Always an array, one instance or many (clause 4.5.7).
                Value::Array(instances.iter().map(|(_, i)| render_instance(i, o)).collect())
            }
            TemporalFormat::Values => by_dataset(instances, |group| values_repr(group, o.ctx)),
            TemporalFormat::Aggregated { methods, period } => {
                by_dataset(instances, |group| aggregate_repr(group, methods, *period))
            }
        };
        out.insert(o.ctx.compact(name), value);
    }
    Value::Object(out)
}

fn one_or_many(mut items: Vec<Value>) -> Value {
    if items.len() == 1 { items.remove(0) } else { Value::Array(items) }
}

fn by_dataset(
    instances: &[(Micros, Instance)],
    f: impl Fn(&[(Micros, Instance)]) -> Value,
) -> Value {
    let mut groups: BTreeMap<Option<String>, Vec<(Micros, Instance)>> = BTreeMap::new();
    for i in instances {
        groups.entry(i.1.attr.dataset_id.clone()).or_default().push(i.clone());
    }
    one_or_many(
        groups
            .into_iter()
            .map(|(ds, group)| {
                let mut v = f(&group);
                if let (Some(ds), Value::Object(m)) = (ds, &mut v) {
                    m.insert("datasetId".into(), Value::String(ds));
                }
                v
            })
            .collect(),
    )
}

fn render_instance(i: &Instance, o: &RenderOptions<'_>) -> Value {
    let plain = RenderOptions { format: Format::Normalized, ..o.clone() };
    let mut v = render_attribute(&i.attr, &plain);
    if let Value::Object(m) = &mut v {
        m.insert("instanceId".into(), Value::String(i.instance_id.clone()));
        if let Some(t) = i.deleted_at {
            m.insert("deletedAt".into(), Value::String(format_datetime(t)));
        }
    }
    v
}

fn values_repr(group: &[(Micros, Instance)], ctx: &Context) -> Value {
    let kind = group.first().map_or(AttrKind::Property, |(_, i)| i.attr.kind);
    let key = match kind {
        AttrKind::Property | AttrKind::GeoProperty => "values",
        AttrKind::Relationship => "objects",
        AttrKind::LanguageProperty => "languageMaps",
        AttrKind::VocabProperty => "vocabs",
        AttrKind::JsonProperty => "jsons",
        AttrKind::ListProperty => "valueLists",
        AttrKind::ListRelationship => "objectLists",
    };
    let pairs: Vec<Value> = group
        .iter()
        .map(|(t, i)| json!([simplified_value(kind, i, ctx), format_datetime(*t)]))
        .collect();
    json!({"type": kind.name(), key: pairs})
}

/// One value of the simplified temporal representation (clause 4.5.9). A LanguageProperty,
/// JsonProperty or VocabProperty value is wrapped in an object naming its member
/// (`{"languageMap": …}`, `{"json": …}`, `{"vocab": …}`), as in the normalized form, so that
/// a JSON object or an IRI-like string stays distinguishable from a plain Property value.
/// A deletion record already holds its NGSI-LD Null form (see the broker's history).
fn simplified_value(kind: AttrKind, i: &Instance, ctx: &Context) -> Value {
    let value = i.attr.value.clone();
    match kind {
        AttrKind::LanguageProperty => json!({ "languageMap": value }),
        AttrKind::JsonProperty => json!({ "json": value }),
        AttrKind::VocabProperty => json!({ "vocab": compact_vocab(&value, ctx) }),
        _ => value,
    }
}

/// A vocab value (an IRI or a list of IRIs) compacted with the request's context.
fn compact_vocab(value: &Value, ctx: &Context) -> Value {
    match value {
        Value::String(s) => Value::String(ctx.compact(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| compact_vocab(v, ctx)).collect()),
        other => other.clone(),
    }
}

fn aggregate_repr(group: &[(Micros, Instance)], methods: &[String], period: Micros) -> Value {
    let kind = group.first().map_or(AttrKind::Property, |(_, i)| i.attr.kind);
    let mut out = Map::new();
    out.insert("type".into(), Value::String(kind.name().into()));
    let Some(start) = group.first().map(|(t, _)| *t) else { return Value::Object(out) };
    let last = group.last().map_or(start, |(t, _)| *t);
    let mut buckets: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    for (t, i) in group {
        let idx = if period > 0 { (t - start) / period } else { 0 };
        buckets.entry(idx).or_default().push(&i.attr.value);
    }
    for m in methods {
        let rows: Vec<Value> = buckets
            .iter()
            .map(|(idx, values)| {
                let (from, to) = if period > 0 {
                    (start + idx * period, start + (idx + 1) * period)
                } else {
                    (start, last)
                };
                json!([aggregate(m, values), time_text(from), time_text(to)])
            })
            .collect();
        out.insert(m.clone(), Value::Array(rows));
    }
    Value::Object(out)
}

/// Applies one aggregation method to the values of one period.
pub fn aggregate(method: &str, values: &[&Value]) -> Value {
    let nums: Vec<f64> = values
        .iter()
        .filter_map(|v| v.as_f64().or_else(|| v.as_bool().map(|b| f64::from(u8::from(b)))))
        .collect();
    let n = nums.len() as f64;
    let sum: f64 = nums.iter().sum();
    let num = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    match method {
        "totalCount" => json!(values.len()),
        "distinctCount" => {
            let mut seen: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            seen.sort();
            seen.dedup();
            json!(seen.len())
        }
        "sum" => num(sum),
        "avg" if n > 0.0 => num(sum / n),
        "min" | "max" if nums.is_empty() => {
            let mut strs: Vec<&str> = values.iter().filter_map(|v| v.as_str()).collect();
            strs.sort_unstable();
            let pick = if method == "min" { strs.first() } else { strs.last() };
            pick.map_or(Value::Null, |s| Value::String((*s).to_string()))
        }
        "min" => num(nums.iter().copied().fold(f64::INFINITY, f64::min)),
        "max" => num(nums.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        "stddev" if n > 0.0 => {
            let mean = sum / n;
            num((nums.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt())
        }
        "sumsq" => num(nums.iter().map(|x| x * x).sum()),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(v: f64, t: &str) -> Instance {
        let mut a = Attribute::new(AttrKind::Property, json!(v));
        a.observed_at = parse_datetime(t);
        Instance { attr: a, instance_id: format!("urn:i:{t}"), deleted_at: None }
    }

    fn entity() -> TemporalEntity {
        let mut e = TemporalEntity {
            id: "urn:a:1".into(),
            types: vec!["https://uri.etsi.org/ngsi-ld/default-context/Vehicle".into()],
            ..Default::default()
        };
        e.attrs.insert(
            "https://uri.etsi.org/ngsi-ld/default-context/speed".into(),
            vec![
                inst(120.0, "2020-08-01T12:03:00Z"),
                inst(80.0, "2020-08-01T12:05:00Z"),
                inst(100.0, "2020-08-01T12:07:00Z"),
                inst(40.0, "2020-08-01T14:07:00Z"),
            ],
        );
        e
    }

    #[test]
    fn filters_by_time() {
        let e = entity();
        let f =
            TemporalFilter::parse(Some("after"), Some("2020-08-01T12:05:00Z"), None, None, None)
                .unwrap();
        assert_eq!(f.apply(&e).values().next().unwrap().len(), 3);
        let f = TemporalFilter::parse(
            Some("between"),
            Some("2020-08-01T12:04:00Z"),
            Some("2020-08-01T12:07:00Z"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(f.apply(&e).values().next().unwrap().len(), 1);
        let f = TemporalFilter::parse(None, None, None, None, Some("2")).unwrap();
        let kept = f.apply(&e);
        let speed = kept.values().next().unwrap();
        assert_eq!(speed.len(), 2);
        assert_eq!(speed[1].1.attr.value, json!(40.0));
        assert!(
            TemporalFilter::parse(Some("between"), Some("2020-08-01T12:04:00Z"), None, None, None)
                .is_err()
        );
        assert!(
            TemporalFilter::parse(Some("during"), Some("2020-08-01T12:04:00Z"), None, None, None)
                .is_err()
        );
        assert!(TemporalFilter::parse(None, None, None, None, Some("0")).is_err());
    }

    #[test]
    fn aggregates_per_period() {
        let e = entity();
        let kept = TemporalFilter::default().apply(&e);
        let fmt = TemporalFormat::aggregated(Some("avg,totalCount,max"), Some("PT1H")).unwrap();
        let ctx = Context::core();
        let v = render_temporal(&e, &kept, &fmt, &RenderOptions::new(&ctx));
        assert_eq!(
            v["speed"]["avg"],
            json!([
                [100.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"],
                [40.0, "2020-08-01T14:03:00Z", "2020-08-01T15:03:00Z"]
            ])
        );
        assert_eq!(v["speed"]["totalCount"][0][0], 3);
        assert_eq!(v["speed"]["max"][0][0], 120.0);
        assert!(TemporalFormat::aggregated(Some("median"), None).is_err());
        let values = render_temporal(&e, &kept, &TemporalFormat::Values, &RenderOptions::new(&ctx));
        assert_eq!(values["speed"]["values"][0], json!([120.0, "2020-08-01T12:03:00Z"]));
    }

    fn numbered(name: &str, first_minute: usize, n: usize) -> TemporalEntity {
        let mut e = TemporalEntity { id: format!("urn:a:{name}"), ..Default::default() };
        let speed = (0..n)
            .map(|k| inst(k as f64, &format!("2020-01-01T01:{:02}:00Z", first_minute + k)))
            .collect();
        e.attrs.insert("speed".into(), speed);
        let fuel = (0..n)
            .map(|k| inst(k as f64, &format!("2020-01-01T01:{:02}:00Z", first_minute + 2 + k)))
            .collect();
        e.attrs.insert("fuel".into(), fuel);
        e
    }

    #[test]
    fn pages_forwards_and_backwards_at_a_common_time() {
        let e = numbered("p", 1, 20);
        // (lastN, timerel, speed kept, fuel kept, Content-Range)
        let cases = [
            (None, None, 5, 3, "date-time 2020-01-01T01:01:00Z-2020-01-01T01:05:00Z/*"),
            (Some("20"), None, 3, 5, "date-time 2020-01-01T01:22:00Z-2020-01-01T01:18:00Z/20"),
            (
                Some("20"),
                Some(("before", "2021-01-01T00:00:00Z")),
                3,
                5,
                "date-time 2021-01-01T00:00:00Z-2020-01-01T01:18:00Z/20",
            ),
            (
                None,
                Some(("after", "2019-01-01T00:00:00Z")),
                5,
                3,
                "date-time 2019-01-01T00:00:00Z-2020-01-01T01:05:00Z/*",
            ),
        ];
        for (last_n, rel, speed, fuel, range) in cases {
            let f = TemporalFilter::parse(rel.map(|r| r.0), rel.map(|r| r.1), None, None, last_n)
                .unwrap();
            let mut kept = f.apply(&e);
            assert!(f.page(&mut kept, 5), "{last_n:?} {rel:?}");
            assert_eq!(kept["speed"].len(), speed, "{last_n:?} {rel:?}");
            assert_eq!(kept["fuel"].len(), fuel, "{last_n:?} {rel:?}");
            assert_eq!(f.content_range([&kept]).unwrap(), range);
        }
    }

    #[test]
    fn small_windows_and_short_last_n_are_not_paged() {
        let e = numbered("s", 1, 20);
        let f = TemporalFilter::parse(None, None, None, None, Some("4")).unwrap();
        let mut kept = f.apply(&e);
        assert!(!f.page(&mut kept, 5));
        assert_eq!(kept["speed"].len(), 4);
        let f = TemporalFilter::default();
        let mut kept = f.apply(&e);
        assert!(!f.page(&mut kept, 20));
        assert_eq!(kept["fuel"].len(), 20);
        // An attribute wholly past the cut stays, empty.
        let mut late = numbered("l", 1, 10);
        late.attrs.insert("late".into(), vec![inst(1.0, "2020-01-01T02:00:00Z")]);
        let mut kept = f.apply(&late);
        assert!(f.page(&mut kept, 5));
        assert!(kept["late"].is_empty());
        assert_eq!(f.content_range([&BTreeMap::new()]), None);
    }

    #[test]
    fn aggregation_math() {
        let vals = [json!(1), json!(2), json!(3), json!(2)];
        let refs: Vec<&Value> = vals.iter().collect();
        assert_eq!(aggregate("sum", &refs), json!(8.0));
        assert_eq!(aggregate("avg", &refs), json!(2.0));
        assert_eq!(aggregate("distinctCount", &refs), json!(3));
        assert_eq!(aggregate("sumsq", &refs), json!(18.0));
        assert_eq!(aggregate("min", &refs), json!(1.0));
        assert!((aggregate("stddev", &refs).as_f64().unwrap() - 0.5f64.sqrt()).abs() < 1e-9);
    }
}
