//! Subscriptions: their live state, matching entity changes against them, and notification
//! scheduling. Each subscription has its own queue and worker task, so a slow or dead
//! receiver only delays its own notifications, never other subscribers or the API.
//!
//! Sinks: HTTP delivery is plugged in by the server ([`NotificationSink`]); in-process
//! consumers subscribe with [`Broker::subscribe_channel`] and receive [`Notification`]s.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use citybrain_ngsi::Context;
use citybrain_ngsi::error::{NgsiError, NgsiResult};
use citybrain_ngsi::model::{AttrKind, Attribute, Entity};
use citybrain_ngsi::query::{Links, Query, has_linked_terms, matches, matches_linked};
use citybrain_ngsi::render::{Format, RenderOptions, render_entity};
use citybrain_ngsi::subscription::{Endpoint, NotificationJoin, Subscription};
use citybrain_ngsi::time::{format_datetime, now_micros};
use citybrain_store::WriteOp;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::tenant::EntityEvent;
use crate::{Broker, Inner};

/// A boxed future, for the object-safe sink and resolver traits.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One HTTP(S) notification ready to send.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Where to.
    pub endpoint: Endpoint,
    /// Media type to send (`application/json` or `application/ld+json`).
    pub content_type: String,
    /// The notification body.
    pub body: Value,
    /// The `Link` header's context URL for JSON bodies.
    pub link: Option<String>,
    /// Tenant of the subscription.
    pub tenant: String,
}

/// Delivers notifications to remote endpoints (implemented by the HTTP server).
pub trait NotificationSink: Send + Sync + 'static {
    /// Sends one notification; `Err` carries why it failed.
    fn deliver(&self, delivery: Delivery) -> BoxFuture<Result<(), String>>;
}

/// Resolves a stored `@context` again after a restart (implemented by the HTTP server).
pub trait ContextResolver: Send + Sync + 'static {
    /// The context for `raw`.
    fn resolve(&self, raw: Value) -> BoxFuture<NgsiResult<Arc<Context>>>;
}

/// A notification for an in-process subscriber.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The subscription.
    pub subscription_id: String,
    /// Tenant.
    pub tenant: String,
    /// What caused it (`attributeUpdated`, …, or `timeInterval`).
    pub trigger: String,
    /// The entities, as stored (expanded names).
    pub entities: Vec<Entity>,
    /// When it was produced (microseconds since the epoch).
    pub notified_at: i64,
}

/// Delivery counters and times of a subscription.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotifyStatus {
    /// Notifications attempted.
    pub times_sent: u64,
    /// Notifications that failed.
    pub times_failed: u64,
    /// Last attempt.
    pub last_notification: Option<i64>,
    /// Last success.
    pub last_success: Option<i64>,
    /// Last failure.
    pub last_failure: Option<i64>,
}

/// What retrieving a subscription returns.
#[derive(Debug, Clone)]
pub struct SubscriptionView {
    /// The subscription.
    pub sub: Subscription,
    /// Delivery status.
    pub status: NotifyStatus,
}

struct Job {
    trigger: String,
    entity: Entity,
    deleted: Vec<String>,
    entity_deleted: Option<i64>,
    /// The entity before the change, for the kinds of deleted attributes and `showChanges`.
    before: Option<Entity>,
}

/// A subscription's live state.
pub(crate) struct SubState {
    pub(crate) sub: Subscription,
    raw_context: Option<Value>,
    ctx: Arc<Mutex<Option<Arc<Context>>>>,
    status: Arc<Mutex<NotifyStatus>>,
    queue: OnceLock<mpsc::Sender<Job>>,
    channel: Option<mpsc::Sender<Notification>>,
    periodic: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for SubState {
    fn drop(&mut self) {
        if let Some(h) = self.periodic.lock().take() {
            h.abort();
        }
    }
}

const QUEUE: usize = 1024;
const SUB_PREFIX: &str = "urn:ngsi-ld:Subscription:";

fn encode_sub(sub: &Subscription, raw_context: &Option<Value>) -> Vec<u8> {
    let doc = Value::Object(sub.render(&Context::core(), now_micros()));
    json!({"doc": doc, "context": raw_context}).to_string().into_bytes()
}

impl Broker {
    /// Plugs in the delivery of HTTP notifications.
    pub fn set_notification_sink(&self, sink: Arc<dyn NotificationSink>) {
        let _ = self.inner.sink.set(sink);
    }

    /// Plugs in context resolution for subscriptions restored after a restart.
    pub fn set_context_resolver(&self, resolver: Arc<dyn ContextResolver>) {
        let _ = self.inner.resolver.set(resolver);
    }

    /// A fresh subscription id.
    pub fn new_subscription_id() -> String {
        format!("{SUB_PREFIX}{}", uuid::Uuid::new_v4())
    }

    /// Creates a subscription whose notifications go to its endpoint; `ctx` compacts them
    /// and `raw_context` is what the subscriber gave (stored, sent as Link).
    pub async fn create_subscription(
        &self,
        tenant: &str,
        sub: Subscription,
        ctx: Arc<Context>,
        raw_context: Option<Value>,
    ) -> NgsiResult<String> {
        self.insert_subscription(tenant, sub, ctx, raw_context, None).await
    }

    /// Creates a subscription whose notifications are delivered in-process on a channel.
    pub async fn subscribe_channel(
        &self,
        tenant: &str,
        sub: Subscription,
        capacity: usize,
    ) -> NgsiResult<(String, mpsc::Receiver<Notification>)> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let id = self.insert_subscription(tenant, sub, Context::core(), None, Some(tx)).await?;
        Ok((id, rx))
    }

    async fn insert_subscription(
        &self,
        tenant: &str,
        sub: Subscription,
        ctx: Arc<Context>,
        raw_context: Option<Value>,
        channel: Option<mpsc::Sender<Notification>>,
    ) -> NgsiResult<String> {
        let id = sub.id.clone();
        let persist = channel.is_none();
        let weak = Arc::downgrade(&self.inner);
        let tenant_name = tenant.to_string();
        self.write(tenant, true, move |s, tx| {
            if s.subs.contains_key(&id) {
                return Err(NgsiError::exists(format!("subscription '{id}' already exists")));
            }
            if persist {
                tx.ops.push(WriteOp::PutSubscription {
                    tenant: tx.tenant.to_string(),
                    id: id.clone(),
                    data: encode_sub(&sub, &raw_context),
                });
            }
            let state = SubState::new(sub, raw_context, Some(ctx), channel);
            state.start_periodic(weak, tenant_name);
            s.subs.insert(id.clone(), state);
            Ok(id)
        })
        .await
    }

    pub(crate) fn restore_subscription(&self, tenant: &str, data: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(data) else { return };
        let raw_context = v.get("context").filter(|c| !c.is_null()).cloned();
        let Some(doc) = v.get("doc") else { return };
        match Subscription::parse(doc, &Context::core(), "", 0) {
            Ok(sub) => {
                let t = self.tenant_or_create(tenant);
                let state = SubState::new(sub, raw_context, None, None);
                if tokio::runtime::Handle::try_current().is_ok() {
                    state.start_periodic(Arc::downgrade(&self.inner), tenant.to_string());
                }
                t.state.write().subs.insert(state.sub.id.clone(), state);
            }
            Err(e) => tracing::warn!("skipping stored subscription: {e}"),
        }
    }

    /// One subscription.
    pub fn get_subscription(&self, tenant: &str, id: &str) -> NgsiResult<SubscriptionView> {
        self.read(tenant, |s, _| s.subs.get(id).map(SubState::view))?.ok_or_else(|| not_found(id))
    }

    /// All subscriptions of a tenant, by id.
    pub fn list_subscriptions(&self, tenant: &str) -> NgsiResult<Vec<SubscriptionView>> {
        self.read(tenant, |s, _| {
            s.subs.values().filter(|s| s.channel.is_none()).map(SubState::view).collect()
        })
    }

    /// Updates a subscription with `f` (which validates); restarts its periodic task.
    pub async fn update_subscription(
        &self,
        tenant: &str,
        id: &str,
        f: impl FnOnce(&mut Subscription) -> NgsiResult<()>,
    ) -> NgsiResult<()> {
        let weak = Arc::downgrade(&self.inner);
        let tenant_name = tenant.to_string();
        self.write(tenant, false, move |s, tx| {
            let state = s.subs.get_mut(id).ok_or_else(|| not_found(id))?;
            let mut next = state.sub.clone();
            f(&mut next)?;
            if state.channel.is_none() {
                tx.ops.push(WriteOp::PutSubscription {
                    tenant: tx.tenant.to_string(),
                    id: id.to_string(),
                    data: encode_sub(&next, &state.raw_context),
                });
            }
            state.sub = next;
            if let Some(h) = state.periodic.lock().take() {
                h.abort();
            }
            state.start_periodic(weak, tenant_name);
            Ok(())
        })
        .await
    }

    /// Deletes a subscription.
    pub async fn delete_subscription(&self, tenant: &str, id: &str) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| {
            let state = s.subs.remove(id).ok_or_else(|| not_found(id))?;
            if state.channel.is_none() {
                tx.ops.push(WriteOp::DeleteSubscription {
                    tenant: tx.tenant.to_string(),
                    id: id.to_string(),
                });
            }
            Ok(())
        })
        .await
    }

    /// Matches committed changes against the tenant's subscriptions and queues notifications.
    pub(crate) fn dispatch(&self, tenant: &str, events: Vec<EntityEvent>) {
        let Ok(t) = self.tenant(tenant) else { return };
        let state = t.state.read();
        let now = now_micros();
        let terms = &self.inner.terms;
        for sub in state.subs.values() {
            if sub.sub.status(now) != "active" || sub.sub.time_interval.is_some() {
                continue;
            }
            let ctx = sub.link_context();
            let eval = |q: &Query, e: &Entity| q_matches(q, e, &state, terms, ctx.as_deref());
            for ev in &events {
                if let Some(job) = job_for(&sub.sub, ev, &eval) {
                    sub.enqueue(job, &self.inner, tenant);
                }
            }
        }
    }
}

/// Whether `e` satisfies a subscription's `q`. Terms into linked entities (`rel{attr}`,
/// clause 4.9) look their targets up in the tenant as it is now, with the names inside the
/// braces expanded by the subscription's context.
fn q_matches(
    q: &Query,
    e: &Entity,
    state: &crate::tenant::TenantState,
    terms: &crate::codec::Terms,
    ctx: Option<&Context>,
) -> bool {
    let Some(ctx) = ctx.filter(|_| has_linked_terms(q)) else { return matches(q, e) };
    let links =
        Links { expand: &|s: &str| ctx.expand(s), entity: &|id: &str| state.get(id, terms) };
    matches_linked(q, e, &links)
}

const NULL_URI: &str = "urn:ngsi-ld:null";

/// The member holding an attribute's value before a change (`previousValue`,
/// `previousObject`, `previousLanguageMap`, …; clause 5.2.6 and following, `showChanges`).
fn previous_member(kind: AttrKind) -> String {
    let m = kind.value_member();
    let mut chars = m.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or_default();
    format!("previous{first}{}", chars.as_str())
}

/// The previous value as the notification shows it (vocabulary terms compacted).
fn previous_value(old: &Attribute, ctx: &Context) -> Value {
    match (&old.kind, &old.value) {
        (AttrKind::VocabProperty, Value::String(s)) => Value::String(ctx.compact(s)),
        (AttrKind::VocabProperty, Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.clone(), |t| Value::String(ctx.compact(t))))
                .collect(),
        ),
        (_, v) => v.clone(),
    }
}

fn not_found(id: &str) -> NgsiError {
    NgsiError::not_found(format!("subscription '{id}' does not exist"))
}

/// Decides whether an event triggers `sub` and with which trigger.
fn job_for(
    sub: &Subscription,
    ev: &EntityEvent,
    eval: &dyn Fn(&Query, &Entity) -> bool,
) -> Option<Job> {
    let watched = |name: &String| sub.watched.is_empty() || sub.watched.contains(name);
    let has = |t: &str| sub.triggers.iter().any(|x| x == t);
    match (&ev.before, &ev.after) {
        (None, Some(after)) => {
            if !sub.selects(after, eval) {
                return None;
            }
            let attr_hit = has("attributeCreated") && after.attrs.keys().any(watched);
            let entity_hit =
                has("entityCreated") && (sub.watched.is_empty() || after.attrs.keys().any(watched));
            (attr_hit || entity_hit).then(|| Job {
                trigger: if entity_hit { "entityCreated" } else { "attributeCreated" }.into(),
                entity: after.clone(),
                deleted: Vec::new(),
                entity_deleted: None,
                before: None,
            })
        }
        (Some(before), Some(after)) => {
            if !sub.selects(after, eval) {
                return None;
            }
            let mut trigger = None;
            let mut deleted = Vec::new();
            for name in ev.changed.iter().filter(|n| watched(n)) {
                let (was, is) = (before.attrs.contains_key(name), after.attrs.contains_key(name));
                let t = match (was, is) {
                    (false, true) => "attributeCreated",
                    (true, true) => "attributeUpdated",
                    (true, false) => "attributeDeleted",
                    (false, false) => continue,
                };
                if t == "attributeDeleted" {
                    deleted.push(name.clone());
                }
                if has(t) && trigger.is_none() {
                    trigger = Some(t);
                }
            }
            if trigger.is_none()
                && has("entityUpdated")
                && (sub.watched.is_empty() || ev.changed.iter().any(watched))
            {
                trigger = Some("entityUpdated");
            }
            if trigger != Some("attributeDeleted") && !has("attributeDeleted") {
                deleted.clear();
            }
            trigger.map(|t| Job {
                trigger: t.into(),
                entity: after.clone(),
                deleted,
                entity_deleted: None,
                before: Some(before.clone()),
            })
        }
        (Some(before), None) => {
            if !sub.selects(before, eval) {
                return None;
            }
            let hit = has("entityDeleted")
                || (has("attributeDeleted") && before.attrs.keys().any(watched));
            hit.then(|| {
                // An entityDeleted notification is the entity's id, type and deletedAt; its
                // attributes are shown nulled only with showChanges (which adds their previous
                // values) or for an attributeDeleted subscription.
                let deleted: Vec<String> = if has("entityDeleted") && !sub.show_changes {
                    Vec::new()
                } else {
                    before.attrs.keys().filter(|n| watched(n)).cloned().collect()
                };
                let mut shell = before.clone();
                shell.attrs.clear();
                Job {
                    trigger: if has("entityDeleted") {
                        "entityDeleted"
                    } else {
                        "attributeDeleted"
                    }
                    .into(),
                    entity: shell,
                    deleted,
                    entity_deleted: Some(now_micros()),
                    before: Some(before.clone()),
                }
            })
        }
        (None, None) => None,
    }
}

impl SubState {
    fn new(
        sub: Subscription,
        raw_context: Option<Value>,
        ctx: Option<Arc<Context>>,
        channel: Option<mpsc::Sender<Notification>>,
    ) -> SubState {
        SubState {
            sub,
            raw_context,
            ctx: Arc::new(Mutex::new(ctx)),
            status: Arc::new(Mutex::new(NotifyStatus::default())),
            queue: OnceLock::new(),
            channel,
            periodic: Mutex::new(None),
        }
    }

    /// The context the names inside a linked `q` term (`rel{attr}`) are expanded with: the
    /// one resolved at creation, the core context for a subscription restored from storage
    /// (whose `q` was parsed with it); `None` when `q` has no such term.
    fn link_context(&self) -> Option<Arc<Context>> {
        let linked = self.sub.q.as_ref().is_some_and(|(_, q)| has_linked_terms(q));
        linked.then(|| self.ctx.lock().clone().unwrap_or_else(Context::core))
    }

    fn view(&self) -> SubscriptionView {
        SubscriptionView { sub: self.sub.clone(), status: self.status.lock().clone() }
    }

    fn worker(&self, inner: &Arc<Inner>, tenant: &str) -> Worker {
        Worker {
            sub: self.sub.clone(),
            raw_context: self.raw_context.clone(),
            ctx: self.ctx.clone(),
            status: self.status.clone(),
            channel: self.channel.clone(),
            inner: Arc::downgrade(inner),
            tenant: tenant.to_string(),
            last_sent: None,
        }
    }

    fn enqueue(&self, job: Job, inner: &Arc<Inner>, tenant: &str) {
        let queue = self.queue.get_or_init(|| {
            let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
            let mut worker = self.worker(inner, tenant);
            tokio::spawn(async move {
                while let Some(job) = rx.recv().await {
                    worker.notify(vec![job]).await;
                }
            });
            tx
        });
        if queue.try_send(job).is_err() {
            // The receiver is too slow: drop rather than slow anyone down, and count it.
            let mut st = self.status.lock();
            st.times_failed += 1;
            st.last_failure = Some(now_micros());
        }
    }

    fn start_periodic(&self, inner: Weak<Inner>, tenant: String) {
        let Some(secs) = self.sub.time_interval else { return };
        let Some(strong) = inner.upgrade() else { return };
        let mut worker = self.worker(&strong, &tenant);
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(secs.max(0.1)));
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inner) = worker.inner.upgrade() else { return };
                let broker = Broker { inner };
                let now = now_micros();
                if worker.sub.status(now) != "active" {
                    continue;
                }
                let sub = worker.sub.clone();
                let ctx = worker.ctx.lock().clone().unwrap_or_else(Context::core);
                let found = broker.read(&worker.tenant, |s, terms| {
                    let eval = |q: &Query, e: &Entity| q_matches(q, e, s, terms, Some(&ctx));
                    s.all_slots()
                        .filter_map(|slot| s.decode_slot(slot, terms))
                        .filter(|e| sub.selects(e, &eval))
                        .collect::<Vec<_>>()
                });
                if let Ok(entities) = found
                    && !entities.is_empty()
                {
                    let jobs = entities
                        .into_iter()
                        .map(|e| Job {
                            trigger: "timeInterval".into(),
                            entity: e,
                            deleted: Vec::new(),
                            entity_deleted: None,
                            before: None,
                        })
                        .collect();
                    worker.notify(jobs).await;
                }
            }
        });
        *self.periodic.lock() = Some(handle.abort_handle());
    }
}

/// Adds the entities linked from the notified ones (`notification.join`).
struct Linker<'a> {
    broker: Broker,
    tenant: &'a str,
    sub: &'a Subscription,
}

impl Linker<'_> {
    /// Linked entities are shown whole, in the subscription's format.
    fn options<'c>(&'c self, ctx: &'c Context) -> RenderOptions<'c> {
        RenderOptions {
            ctx,
            format: self.sub.format,
            sys_attrs: self.sub.sys_attrs,
            attrs: None,
            omit: &[],
            pick_core: None,
            lang: self.sub.lang.as_deref(),
        }
    }

    fn join(&self, join: NotificationJoin, jobs: &[Job], data: &mut Vec<Value>, ctx: &Context) {
        if join.inline {
            for (job, out) in jobs.iter().zip(data.iter_mut()) {
                self.inline(&job.entity, out, join.level, ctx);
            }
            return;
        }
        let mut seen: std::collections::HashSet<String> =
            jobs.iter().map(|j| j.entity.id.clone()).collect();
        let mut frontier: Vec<Entity> = jobs.iter().map(|j| j.entity.clone()).collect();
        for _ in 0..join.level {
            let mut next = Vec::new();
            for e in &frontier {
                for (_, id) in e.relationship_targets() {
                    if seen.insert(id.clone())
                        && let Ok(t) = self.broker.retrieve_entity(self.tenant, &id)
                    {
                        data.push(Value::Object(render_entity(&t, &self.options(ctx))));
                        next.push(t);
                    }
                }
            }
            frontier = next;
        }
    }

    fn inline(&self, e: &Entity, out: &mut Value, level: usize, ctx: &Context) {
        if level == 0 {
            return;
        }
        for (name, id) in e.relationship_targets() {
            let Ok(t) = self.broker.retrieve_entity(self.tenant, &id) else { continue };
            let mut linked = Value::Object(render_entity(&t, &self.options(ctx)));
            self.inline(&t, &mut linked, level - 1, ctx);
            let Some(slot) = out.get_mut(ctx.compact(&name)) else { continue };
            citybrain_ngsi::render::attach_linked(slot, &id, linked, self.sub.format);
        }
    }
}

/// Sends the notifications of one subscription, in order.
struct Worker {
    sub: Subscription,
    raw_context: Option<Value>,
    ctx: Arc<Mutex<Option<Arc<Context>>>>,
    status: Arc<Mutex<NotifyStatus>>,
    channel: Option<mpsc::Sender<Notification>>,
    inner: Weak<Inner>,
    tenant: String,
    last_sent: Option<std::time::Instant>,
}

impl Worker {
    async fn context(&self) -> Arc<Context> {
        if let Some(c) = self.ctx.lock().clone() {
            return c;
        }
        let raw =
            self.sub.jsonld_context.clone().map(Value::String).or_else(|| self.raw_context.clone());
        let resolved = match (raw, self.inner.upgrade().and_then(|i| i.resolver.get().cloned())) {
            (Some(raw), Some(r)) => r.resolve(raw).await.unwrap_or_else(|_| Context::core()),
            _ => Context::core(),
        };
        *self.ctx.lock() = Some(resolved.clone());
        resolved
    }

    fn link_url(&self) -> Option<String> {
        if let Some(c) = &self.sub.jsonld_context {
            return Some(c.clone());
        }
        match &self.raw_context {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(a)) if a.len() == 1 => a[0].as_str().map(str::to_string),
            _ => None,
        }
    }

    async fn notify(&mut self, jobs: Vec<Job>) {
        if let (Some(min), Some(last)) = (self.sub.throttling, self.last_sent)
            && last.elapsed().as_secs_f64() < min
        {
            return;
        }
        self.last_sent = Some(std::time::Instant::now());
        let now = now_micros();
        let trigger = jobs.first().map(|j| j.trigger.clone()).unwrap_or_default();
        if let Some(channel) = &self.channel {
            let n = Notification {
                subscription_id: self.sub.id.clone(),
                tenant: self.tenant.clone(),
                trigger,
                entities: jobs.into_iter().map(|j| j.entity).collect(),
                notified_at: now,
            };
            let ok = channel.send(n).await.is_ok();
            self.record(ok, now);
            return;
        }
        let ctx = self.context().await;
        let accept = self.sub.endpoint.accept.clone().unwrap_or_else(|| "application/json".into());
        let ld = accept == "application/ld+json";
        let mut data: Vec<Value> = jobs.iter().map(|j| self.render(j, &ctx)).collect();
        if let (Some(join), Some(inner)) = (self.sub.join, self.inner.upgrade()) {
            let linker = Linker { broker: Broker { inner }, tenant: &self.tenant, sub: &self.sub };
            linker.join(join, &jobs, &mut data, &ctx);
        }
        let mut body = json!({
            "id": format!("urn:ngsi-ld:Notification:{}", uuid::Uuid::new_v4()),
            "type": "Notification",
            "subscriptionId": self.sub.id,
            "notifiedAt": format_datetime(now),
            "data": data,
            "triggerReason": trigger,
        });
        let link = self
            .link_url()
            .unwrap_or_else(|| citybrain_ngsi::context::CORE_CONTEXT_URL.to_string());
        if ld {
            // JSON-LD notifications carry the context on the notification and on every
            // notified entity, so each entity in `data` stands on its own.
            let ctx_value = self.raw_context.clone().unwrap_or_else(|| Value::String(link.clone()));
            if let Some(Value::Array(items)) = body.get_mut("data") {
                for item in items {
                    if let Value::Object(m) = item {
                        m.insert("@context".into(), ctx_value.clone());
                    }
                }
            }
            body["@context"] = ctx_value;
        }
        let sink = self.inner.upgrade().and_then(|i| i.sink.get().cloned());
        let ok = match sink {
            Some(sink) => {
                let delivery = Delivery {
                    endpoint: self.sub.endpoint.clone(),
                    content_type: if ld {
                        "application/ld+json".into()
                    } else {
                        "application/json".into()
                    },
                    body,
                    link: (!ld).then_some(link),
                    tenant: self.tenant.clone(),
                };
                match sink.deliver(delivery).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::debug!("notification for {} failed: {e}", self.sub.id);
                        false
                    }
                }
            }
            None => false,
        };
        self.record(ok, now);
    }

    fn record(&self, ok: bool, now: i64) {
        let mut st = self.status.lock();
        st.times_sent += 1;
        st.last_notification = Some(now);
        if ok {
            st.last_success = Some(now);
        } else {
            st.times_failed += 1;
            st.last_failure = Some(now);
        }
    }

    fn render(&self, job: &Job, ctx: &Context) -> Value {
        let attrs = match &self.sub.pick {
            Some((picked, _)) => Some(picked.as_slice()),
            None => (!self.sub.attributes.is_empty()).then_some(self.sub.attributes.as_slice()),
        };
        let o = RenderOptions {
            ctx,
            format: self.sub.format,
            sys_attrs: self.sub.sys_attrs,
            attrs,
            omit: &self.sub.omit,
            pick_core: self.sub.pick.as_ref().map(|(_, core)| *core),
            lang: self.sub.lang.as_deref(),
        };
        let mut shown = job.entity.clone();
        self.sub.filter_datasets(&mut shown);
        let mut out: Map<String, Value> = render_entity(&shown, &o);
        if let Some(t) = job.entity_deleted {
            out.insert("deletedAt".into(), Value::String(format_datetime(t)));
        }
        let show = self.sub.show_changes && self.sub.format == Format::Normalized;
        let previous_of = |name: &str| {
            job.before.as_ref().and_then(|b| b.attrs.get(name)).and_then(|l| l.first())
        };
        for name in &job.deleted {
            if attrs.is_some_and(|a| !a.contains(name)) {
                continue;
            }
            let old = previous_of(name);
            let kind = old.map_or(AttrKind::Property, |a| a.kind);
            // A deleted LanguageProperty keeps the shape of a language map; when the whole
            // entity is gone every attribute is nulled with the plain null URI.
            let null_value = if kind == AttrKind::LanguageProperty && job.entity_deleted.is_none() {
                json!({"@none": NULL_URI})
            } else {
                Value::String(NULL_URI.into())
            };
            let mut null = Attribute::new(kind, null_value);
            null.stamp(job.entity.modified_at, job.entity.modified_at);
            let mut rendered = citybrain_ngsi::render::render_attribute(
                &null,
                &RenderOptions { sys_attrs: false, ..o.clone() },
            );
            if show && let (Some(old), Value::Object(m)) = (old, &mut rendered) {
                m.insert(previous_member(old.kind), previous_value(old, ctx));
            }
            out.insert(ctx.compact(name), rendered);
        }
        if show && job.entity_deleted.is_none() {
            for (name, now) in &job.entity.attrs {
                let (Some(old), Some(new)) = (previous_of(name), now.first()) else { continue };
                if old.value == new.value && old.kind == new.kind {
                    continue;
                }
                if let Some(Value::Object(m)) = out.get_mut(&ctx.compact(name)) {
                    m.insert(previous_member(old.kind), previous_value(old, ctx));
                }
            }
        }
        Value::Object(out)
    }
}
