//! The `datasetId` parameter of Retrieve and Query Entities (clause 4.5.5, Table 6.4.3.2-1):
//! a response keeps only the attribute instances whose datasetId is listed, `@none` standing
//! for the default instance. Entities themselves are not filtered out: one left without
//! attributes is still returned (conformance 019_12_07).

use citybrain_ngsi::model::Entity;

use crate::http::Params;

/// The `@none` datasetId: the default instance.
const DEFAULT_INSTANCE: &str = "@none";

/// The datasetIds a request selects, or `None` when it does not filter instances.
pub(crate) fn selected(p: &Params) -> Option<Vec<String>> {
    let ids = p.list("datasetId");
    (!ids.is_empty()).then_some(ids)
}

/// Drops from `entity` every attribute instance whose datasetId is not in `wanted`, and the
/// attributes left without instances.
pub(crate) fn keep_instances(entity: &mut Entity, wanted: &[String]) {
    let selected = |dataset_id: Option<&str>| {
        wanted.iter().any(|w| match dataset_id {
            None => w == DEFAULT_INSTANCE,
            Some(d) => w == d,
        })
    };
    for instances in entity.attrs.values_mut() {
        instances.retain(|a| selected(a.dataset_id.as_deref()));
    }
    entity.attrs.retain(|_, instances| !instances.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use citybrain_ngsi::model::{AttrKind, Attribute};
    use serde_json::json;

    fn instance(dataset_id: Option<&str>) -> Attribute {
        let mut a = Attribute::new(AttrKind::Property, json!(1));
        a.dataset_id = dataset_id.map(str::to_string);
        a
    }

    #[test]
    fn keeps_listed_instances_and_the_default_one_for_none() {
        let mut e = Entity::default();
        e.attrs.insert("name".into(), vec![instance(None), instance(Some("urn:fr"))]);
        e.attrs.insert("locatedAt".into(), vec![instance(Some("urn:es"))]);
        let mut only_fr = e.clone();
        keep_instances(&mut only_fr, &["urn:fr".into()]);
        assert_eq!(only_fr.attrs.len(), 1);
        assert_eq!(only_fr.attrs["name"], vec![instance(Some("urn:fr"))]);
        keep_instances(&mut e, &["@none".into()]);
        assert_eq!(e.attrs.keys().collect::<Vec<_>>(), vec!["name"]);
        assert_eq!(e.attrs["name"], vec![instance(None)]);
    }
}
