//! Subscriptions to Context Source Registrations (clause 5.11): kept per tenant, stored
//! like entity subscriptions, and notified (clause 5.11.6, CSourceNotification of clause
//! 5.3.2) when a registration they select is created, changed or deleted. Each
//! subscription has one delivery queue and worker, so its notifications leave in order.

use std::sync::{Arc, OnceLock, Weak};

use citybrain_ngsi::Context;
use citybrain_ngsi::context::CORE_CONTEXT_URL;
use citybrain_ngsi::error::{NgsiError, NgsiResult};
use citybrain_ngsi::registration::Registration;
use citybrain_ngsi::subscription::Subscription;
use citybrain_ngsi::time::{format_datetime, now_micros};
use citybrain_store::WriteOp;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::subscription::Delivery;
use crate::{Broker, Inner};

const QUEUE: usize = 256;

/// Why a registration is notified (clause 5.3.2 `triggerReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    NewlyMatching,
    Updated,
    NoLongerMatching,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::NewlyMatching => "newlyMatching",
            Trigger::Updated => "updated",
            Trigger::NoLongerMatching => "noLongerMatching",
        }
    }

    /// The trigger for a registration that was selected `before` and is selected `after`
    /// the change; `None` when the subscription never saw it.
    fn of(before: bool, after: bool) -> Option<Trigger> {
        match (before, after) {
            (false, true) => Some(Trigger::NewlyMatching),
            (true, true) => Some(Trigger::Updated),
            (true, false) => Some(Trigger::NoLongerMatching),
            (false, false) => None,
        }
    }
}

/// One notification waiting in a subscription's queue: the subscription as it was when the
/// change committed, so a later update does not redirect it.
struct Job {
    sub: Subscription,
    trigger: Trigger,
    registration: Registration,
}

/// A subscription to registrations and its delivery state.
pub(crate) struct CsourceSubState {
    pub(crate) sub: Subscription,
    raw_context: Option<Value>,
    ctx: Arc<Mutex<Option<Arc<Context>>>>,
    queue: OnceLock<mpsc::Sender<Job>>,
}

fn not_found(id: &str) -> NgsiError {
    NgsiError::not_found(format!("context source subscription '{id}' not found"))
}

fn encode(sub: &Subscription, raw_context: &Option<Value>) -> Vec<u8> {
    let doc = Value::Object(sub.render(&Context::core(), now_micros()));
    json!({"doc": doc, "context": raw_context}).to_string().into_bytes()
}

/// The URL to advertise in a JSON notification's Link header.
fn link_url(raw: &Option<Value>) -> String {
    match raw {
        Some(Value::String(url)) => url.clone(),
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
            items[0].as_str().unwrap_or(CORE_CONTEXT_URL).to_string()
        }
        _ => CORE_CONTEXT_URL.to_string(),
    }
}

impl CsourceSubState {
    fn new(sub: Subscription, raw_context: Option<Value>, ctx: Option<Arc<Context>>) -> Self {
        CsourceSubState { sub, raw_context, ctx: Arc::new(Mutex::new(ctx)), queue: OnceLock::new() }
    }

    /// Queues a notification; the worker starts with the first one (start-up may run
    /// outside the async runtime). A full queue drops the notification with a warning
    /// rather than blocking the write that caused it.
    fn enqueue(&self, job: Job, inner: &Arc<Inner>, tenant: &str) {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let worker = Worker {
                inner: Arc::downgrade(inner),
                tenant: tenant.to_string(),
                raw_context: self.raw_context.clone(),
                ctx: self.ctx.clone(),
            };
            tokio::spawn(worker.run(rx));
            tx
        });
        if queue.try_send(job).is_err() {
            tracing::warn!("context source notification queue of {} is full", self.sub.id);
        }
    }
}

struct Worker {
    inner: Weak<Inner>,
    tenant: String,
    raw_context: Option<Value>,
    ctx: Arc<Mutex<Option<Arc<Context>>>>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Job>) {
        while let Some(job) = rx.recv().await {
            self.deliver(job).await;
        }
    }

    /// The subscriber's context; after a restart it is resolved again from the stored
    /// `@context`, falling back to the core context when that fails.
    async fn context(&self) -> Arc<Context> {
        if let Some(ctx) = self.ctx.lock().clone() {
            return ctx;
        }
        let resolver = self.inner.upgrade().and_then(|i| i.resolver.get().cloned());
        let ctx = match (&self.raw_context, resolver) {
            (Some(raw), Some(resolver)) => {
                resolver.resolve(raw.clone()).await.unwrap_or_else(|e| {
                    tracing::warn!("context of a context source subscription: {e}");
                    Context::core()
                })
            }
            _ => Context::core(),
        };
        *self.ctx.lock() = Some(ctx.clone());
        ctx
    }

    async fn deliver(&self, job: Job) {
        let ctx = self.context().await;
        let accept = job.sub.endpoint.accept.clone().unwrap_or_else(|| "application/json".into());
        let ld = accept == "application/ld+json";
        let mut body = json!({
            "id": format!("urn:ngsi-ld:Notification:{}", uuid::Uuid::new_v4()),
            "type": "Notification",
            "subscriptionId": job.sub.id,
            "notifiedAt": format_datetime(now_micros()),
            "data": [Value::Object(job.registration.render(&ctx, false))],
            "triggerReason": job.trigger.as_str(),
        });
        let link = link_url(&self.raw_context);
        if ld {
            body["@context"] = self.raw_context.clone().unwrap_or(Value::String(link.clone()));
        }
        let Some(sink) = self.inner.upgrade().and_then(|i| i.sink.get().cloned()) else {
            return;
        };
        let delivery = Delivery {
            endpoint: job.sub.endpoint.clone(),
            content_type: if ld { "application/ld+json" } else { "application/json" }.into(),
            body,
            link: (!ld).then_some(link),
            tenant: self.tenant.clone(),
        };
        if let Err(e) = sink.deliver(delivery).await {
            tracing::debug!("context source notification for {} failed: {e}", job.sub.id);
        }
    }
}

impl Broker {
    /// Creates a subscription to registrations; `ctx` compacts its notifications and
    /// `raw_context` is the subscriber's `@context` (stored, sent as Link).
    pub async fn create_csource_subscription(
        &self,
        tenant: &str,
        sub: Subscription,
        ctx: Arc<Context>,
        raw_context: Option<Value>,
    ) -> NgsiResult<String> {
        self.write(tenant, true, move |s, tx| {
            if s.csource_subs.contains_key(&sub.id) {
                return Err(NgsiError::exists(format!(
                    "context source subscription '{}' already exists",
                    sub.id
                )));
            }
            tx.ops.push(WriteOp::PutCsourceSubscription {
                tenant: tx.tenant.to_string(),
                id: sub.id.clone(),
                data: encode(&sub, &raw_context),
            });
            let id = sub.id.clone();
            s.csource_subs.insert(id.clone(), CsourceSubState::new(sub, raw_context, Some(ctx)));
            Ok(id)
        })
        .await
    }

    pub(crate) fn restore_csource_subscription(&self, tenant: &str, data: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            tracing::warn!("skipping an undecodable stored context source subscription");
            return;
        };
        let raw_context = v.get("context").filter(|c| !c.is_null()).cloned();
        let Some(doc) = v.get("doc") else { return };
        match Subscription::parse(doc, &Context::core(), "", 0) {
            Ok(sub) => {
                let t = self.tenant_or_create(tenant);
                let state = CsourceSubState::new(sub, raw_context, None);
                t.state.write().csource_subs.insert(state.sub.id.clone(), state);
            }
            Err(e) => tracing::warn!("skipping stored context source subscription: {e}"),
        }
    }

    /// One subscription to registrations.
    pub fn get_csource_subscription(&self, tenant: &str, id: &str) -> NgsiResult<Subscription> {
        self.read(tenant, |s, _| s.csource_subs.get(id).map(|c| c.sub.clone()))?
            .ok_or_else(|| not_found(id))
    }

    /// All subscriptions to registrations of a tenant, by id.
    pub fn list_csource_subscriptions(&self, tenant: &str) -> NgsiResult<Vec<Subscription>> {
        self.read(tenant, |s, _| s.csource_subs.values().map(|c| c.sub.clone()).collect())
    }

    /// Updates a subscription to registrations with `f` (which validates).
    pub async fn update_csource_subscription(
        &self,
        tenant: &str,
        id: &str,
        f: impl FnOnce(&mut Subscription) -> NgsiResult<()>,
    ) -> NgsiResult<()> {
        self.write(tenant, false, move |s, tx| {
            let state = s.csource_subs.get_mut(id).ok_or_else(|| not_found(id))?;
            let mut next = state.sub.clone();
            f(&mut next)?;
            tx.ops.push(WriteOp::PutCsourceSubscription {
                tenant: tx.tenant.to_string(),
                id: id.to_string(),
                data: encode(&next, &state.raw_context),
            });
            state.sub = next;
            Ok(())
        })
        .await
    }

    /// Deletes a subscription to registrations; its queued notifications still leave.
    pub async fn delete_csource_subscription(&self, tenant: &str, id: &str) -> NgsiResult<()> {
        self.write(tenant, false, |s, tx| {
            s.csource_subs.remove(id).ok_or_else(|| not_found(id))?;
            tx.ops.push(WriteOp::DeleteCsourceSubscription {
                tenant: tx.tenant.to_string(),
                id: id.to_string(),
            });
            Ok(())
        })
        .await
    }

    /// Notifies the tenant's active subscriptions that select the registration before or
    /// after a committed change (`None` = absent on that side).
    pub(crate) fn registration_changed(
        &self,
        tenant: &str,
        before: Option<&Registration>,
        after: Option<&Registration>,
    ) {
        let Ok(t) = self.tenant(tenant) else { return };
        let state = t.state.read();
        let now = now_micros();
        for c in state.csource_subs.values() {
            if c.sub.status(now) != "active" {
                continue;
            }
            let was = before.is_some_and(|r| r.selected_by(&c.sub));
            let is = after.is_some_and(|r| r.selected_by(&c.sub));
            let Some(trigger) = Trigger::of(was, is) else { continue };
            // A registration that stopped matching is notified as it was last seen.
            let Some(registration) = after.filter(|_| is).or(before).cloned() else { continue };
            c.enqueue(Job { sub: c.sub.clone(), trigger, registration }, &self.inner, tenant);
        }
    }
}
