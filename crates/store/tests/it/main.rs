//! Integration tests of the SQLite store: group commit, reload, history.

use std::sync::mpsc::channel;

use citybrain_store::{Loaded, SqliteStore, Store, StoreResult, WriteOp};

fn submit_wait(store: &SqliteStore, batch: Vec<WriteOp>) -> StoreResult<()> {
    let (tx, rx) = channel();
    store.submit(batch, Box::new(move |r| tx.send(r).expect("test receiver alive")));
    rx.recv().expect("completion called")
}

fn put(tenant: &str, id: &str, data: &[u8]) -> WriteOp {
    WriteOp::PutEntity { tenant: tenant.into(), id: id.into(), data: data.to_vec() }
}

#[test]
fn writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        submit_wait(
            &store,
            vec![WriteOp::Tenant("t1".into()), WriteOp::Term { id: 0, iri: "https://x/a".into() }],
        )
        .unwrap();
        submit_wait(&store, vec![put("", "urn:a:1", b"one"), put("t1", "urn:a:2", b"two")])
            .unwrap();
        submit_wait(
            &store,
            vec![WriteOp::DeleteEntity { tenant: "".into(), id: "urn:a:1".into() }],
        )
        .unwrap();
        submit_wait(
            &store,
            vec![WriteOp::PutSubscription {
                tenant: "".into(),
                id: "urn:s:1".into(),
                data: b"s".to_vec(),
            }],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut seen = Vec::new();
    store.load(&mut |item| seen.push(item)).unwrap();
    assert!(seen.contains(&Loaded::Tenant("t1".into())));
    assert!(seen.contains(&Loaded::Term(0, "https://x/a".into())));
    assert!(seen.contains(&Loaded::Entity { tenant: "t1".into(), data: b"two".to_vec() }));
    assert!(!seen.contains(&Loaded::Entity { tenant: "".into(), data: b"one".to_vec() }));
    assert!(seen.contains(&Loaded::Subscription { tenant: "".into(), data: b"s".to_vec() }));
}

#[test]
fn concurrent_submissions_all_complete_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path()).unwrap());
    let (tx, rx) = channel();
    for i in 0..2000 {
        let tx = tx.clone();
        store.submit(
            vec![put("", &format!("urn:e:{i}"), b"x")],
            Box::new(move |r| tx.send(r).unwrap()),
        );
    }
    drop(tx);
    let results: Vec<_> = rx.iter().collect();
    assert_eq!(results.len(), 2000);
    assert!(results.iter().all(Result::is_ok));
    let mut count = 0;
    store
        .load(&mut |item| {
            if matches!(item, Loaded::Entity { .. }) {
                count += 1
            }
        })
        .unwrap();
    assert_eq!(count, 2000);
}

#[test]
fn history_is_ordered_and_editable_and_deletable() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let append = |t: i64, d: &[u8]| WriteOp::AppendHistory {
        tenant: "".into(),
        entity_id: "urn:a:1".into(),
        time: t,
        data: d.to_vec(),
    };
    submit_wait(&store, vec![append(10, b"a"), append(5, b"b")]).unwrap();
    let rows = store.history("", "urn:a:1").unwrap();
    assert_eq!(
        rows.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    submit_wait(&store, vec![WriteOp::ReplaceHistory { seq: rows[0].seq, data: b"c".to_vec() }])
        .unwrap();
    assert_eq!(store.history("", "urn:a:1").unwrap()[0].data, b"c");
    submit_wait(&store, vec![WriteOp::DeleteTemporal { tenant: "".into(), id: "urn:a:1".into() }])
        .unwrap();
    assert!(store.history("", "urn:a:1").unwrap().is_empty());
    assert!(store.history("other", "urn:a:1").unwrap().is_empty());
}

#[test]
fn registrations_and_their_subscriptions_survive_reopen_and_deletes_stick() {
    let dir = tempfile::tempdir().unwrap();
    let reg = |tenant: &str, id: &str, data: &[u8]| WriteOp::PutRegistration {
        tenant: tenant.into(),
        id: id.into(),
        data: data.to_vec(),
    };
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        submit_wait(&store, vec![reg("", "urn:r:1", b"one"), reg("t1", "urn:r:2", b"two")])
            .unwrap();
        submit_wait(&store, vec![reg("", "urn:r:1", b"one-updated")]).unwrap();
        submit_wait(
            &store,
            vec![WriteOp::DeleteRegistration { tenant: "t1".into(), id: "urn:r:2".into() }],
        )
        .unwrap();
        submit_wait(
            &store,
            vec![
                WriteOp::PutCsourceSubscription {
                    tenant: "t1".into(),
                    id: "urn:s:1".into(),
                    data: b"cs".to_vec(),
                },
                WriteOp::PutCsourceSubscription {
                    tenant: "t1".into(),
                    id: "urn:s:2".into(),
                    data: b"gone".to_vec(),
                },
                WriteOp::DeleteCsourceSubscription { tenant: "t1".into(), id: "urn:s:2".into() },
            ],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut seen = Vec::new();
    let mut subs = Vec::new();
    store
        .load(&mut |item| match item {
            Loaded::Registration { tenant, data } => seen.push((tenant, data)),
            Loaded::CsourceSubscription { tenant, data } => subs.push((tenant, data)),
            _ => {}
        })
        .unwrap();
    assert_eq!(seen, vec![("".to_string(), b"one-updated".to_vec())]);
    assert_eq!(subs, vec![("t1".to_string(), b"cs".to_vec())]);
}
