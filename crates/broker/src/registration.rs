//! Context Source Registrations (clause 5.9): kept per tenant in memory and made durable
//! through the store like subscriptions. The hub answers discovery (clause 5.10) from them;
//! it does not forward entity queries to the registered sources. Committed changes are
//! notified to the subscriptions to registrations (`csource_subscription.rs`).

use citybrain_ngsi::Context;
use citybrain_ngsi::error::{NgsiError, NgsiResult};
use citybrain_ngsi::registration::{Discovery, Registration};
use citybrain_store::WriteOp;
use serde_json::{Value, json};

use crate::Broker;

const REGISTRATION_PREFIX: &str = "urn:ngsi-ld:ContextSourceRegistration:";

fn not_found(id: &str) -> NgsiError {
    NgsiError::not_found(format!("context source registration '{id}' not found"))
}

/// The stored form: the document with expanded names (rendered with the core context) and
/// the system times, so a reload gives back the same registration.
fn encode(reg: &Registration) -> Vec<u8> {
    let doc = Value::Object(reg.render(&Context::core(), false));
    json!({"doc": doc, "createdAt": reg.created_at, "modifiedAt": reg.modified_at})
        .to_string()
        .into_bytes()
}

fn decode(data: &[u8]) -> NgsiResult<Registration> {
    let v: Value = serde_json::from_slice(data)
        .map_err(|e| NgsiError::internal(format!("stored registration is not JSON: {e}")))?;
    let doc = v.get("doc").ok_or_else(|| NgsiError::internal("stored registration has no doc"))?;
    let mut reg = Registration::parse(doc, &Context::core(), "", 0)?;
    reg.created_at = v.get("createdAt").and_then(Value::as_i64).unwrap_or(0);
    reg.modified_at = v.get("modifiedAt").and_then(Value::as_i64).unwrap_or(reg.created_at);
    Ok(reg)
}

fn put_op(tenant: &str, reg: &Registration) -> WriteOp {
    WriteOp::PutRegistration { tenant: tenant.to_string(), id: reg.id.clone(), data: encode(reg) }
}

impl Broker {
    /// A fresh registration id.
    pub fn new_registration_id() -> String {
        format!("{REGISTRATION_PREFIX}{}", uuid::Uuid::new_v4())
    }

    /// Stores a new registration (the tenant is created if needed); `AlreadyExists` when
    /// the tenant already holds one with the same id.
    pub async fn create_registration(&self, tenant: &str, reg: Registration) -> NgsiResult<String> {
        let created = reg.clone();
        let id = self
            .write(tenant, true, move |s, tx| {
                if s.registrations.contains_key(&reg.id) {
                    return Err(NgsiError::exists(format!(
                        "context source registration '{}' already exists",
                        reg.id
                    )));
                }
                tx.ops.push(put_op(tx.tenant, &reg));
                let id = reg.id.clone();
                s.registrations.insert(id.clone(), reg);
                Ok(id)
            })
            .await?;
        self.registration_changed(tenant, None, Some(&created));
        Ok(id)
    }

    pub(crate) fn restore_registration(&self, tenant: &str, data: &[u8]) {
        match decode(data) {
            Ok(reg) => {
                let t = self.tenant_or_create(tenant);
                t.state.write().registrations.insert(reg.id.clone(), reg);
            }
            Err(e) => tracing::warn!("skipping stored context source registration: {e}"),
        }
    }

    /// One registration.
    pub fn get_registration(&self, tenant: &str, id: &str) -> NgsiResult<Registration> {
        self.read(tenant, |s, _| s.registrations.get(id).cloned())?.ok_or_else(|| not_found(id))
    }

    /// The registrations of a tenant that answer `query`, by id.
    pub fn discover_registrations(
        &self,
        tenant: &str,
        query: &Discovery,
    ) -> NgsiResult<Vec<Registration>> {
        self.read(tenant, |s, _| {
            s.registrations.values().filter(|r| r.answers(query)).cloned().collect()
        })
    }

    /// Replaces a registration with what `f` makes of it (`f` validates).
    pub async fn update_registration(
        &self,
        tenant: &str,
        id: &str,
        f: impl FnOnce(&Registration) -> NgsiResult<Registration>,
    ) -> NgsiResult<()> {
        let (before, after) = self
            .write(tenant, false, move |s, tx| {
                let current = s.registrations.get(id).ok_or_else(|| not_found(id))?;
                let next = f(current)?;
                tx.ops.push(put_op(tx.tenant, &next));
                let before = s.registrations.insert(id.to_string(), next.clone());
                Ok((before, next))
            })
            .await?;
        self.registration_changed(tenant, before.as_ref(), Some(&after));
        Ok(())
    }

    /// Deletes a registration.
    pub async fn delete_registration(&self, tenant: &str, id: &str) -> NgsiResult<()> {
        let removed = self
            .write(tenant, false, |s, tx| {
                let removed = s.registrations.remove(id).ok_or_else(|| not_found(id))?;
                tx.ops.push(WriteOp::DeleteRegistration {
                    tenant: tx.tenant.to_string(),
                    id: id.to_string(),
                });
                Ok(removed)
            })
            .await?;
        self.registration_changed(tenant, Some(&removed), None);
        Ok(())
    }
}
