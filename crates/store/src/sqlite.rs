//! The embedded SQLite backend: one writer thread doing group commit, a small pool of
//! read connections for history queries. WAL mode, `synchronous=FULL`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags, params};

use crate::{Completion, HistoryRow, Loaded, Store, StoreError, StoreResult, WriteOp};

/// How many operations one group commit takes at most.
const MAX_GROUP_OPS: usize = 20_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS terms (id INTEGER PRIMARY KEY, iri TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    tenant TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS temporal (
    tenant TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, entity_id TEXT NOT NULL,
    time INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_entity ON history (tenant, entity_id, seq);
CREATE TABLE IF NOT EXISTS subscriptions (
    tenant TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS registrations (
    tenant TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS csource_subscriptions (
    tenant TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
";

fn err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

type Job = (Vec<WriteOp>, Completion);

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    tx: Mutex<Option<Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database `hub.sqlite` in directory `dir`.
    pub fn open(dir: &Path) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError(format!("cannot create data directory {}: {e}", dir.display()))
        })?;
        let path = dir.join("hub.sqlite");
        let conn = open_conn(&path, false)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let (tx, rx) = channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("hub-store-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            path,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn =
            match self.readers.lock().map_err(|_| StoreError("reader pool poisoned".into()))?.pop()
            {
                Some(c) => c,
                None => open_conn(&self.path, true)?,
            };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < 8
        {
            pool.push(conn);
        }
        out
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut w) = self.writer.lock()
            && let Some(handle) = w.take()
        {
            let _ = handle.join();
        }
    }
}

fn open_conn(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    // WAL + FULL: a commit returns only after the WAL is fsynced.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;
         PRAGMA cache_size=-4000; PRAGMA wal_autocheckpoint=4000;",
    )
    .map_err(err)?;
    Ok(conn)
}

fn writer_loop(mut conn: Connection, rx: Receiver<Job>) {
    let mut group: Vec<Job> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut ops = first.0.len();
        group.push(first);
        while ops < MAX_GROUP_OPS {
            match rx.try_recv() {
                Ok(job) => {
                    ops += job.0.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        let all: Vec<&[WriteOp]> = group.iter().map(|j| j.0.as_slice()).collect();
        match commit(&mut conn, &all) {
            Ok(()) => group.drain(..).for_each(|(_, done)| done(Ok(()))),
            Err(e) => {
                tracing::warn!("group commit failed ({e}); retrying its batches one by one");
                for (batch, done) in group.drain(..) {
                    done(commit(&mut conn, &[batch.as_slice()]));
                }
            }
        }
    }
}

fn commit(conn: &mut Connection, batches: &[&[WriteOp]]) -> StoreResult<()> {
    let tx = conn.transaction().map_err(err)?;
    for batch in batches {
        for op in batch.iter() {
            apply(&tx, op).map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

fn apply(c: &Connection, op: &WriteOp) -> rusqlite::Result<()> {
    match op {
        WriteOp::Tenant(name) => {
            c.prepare_cached("INSERT OR IGNORE INTO tenants (name) VALUES (?1)")?
                .execute([name])?;
        }
        WriteOp::Term { id, iri } => {
            c.prepare_cached("INSERT OR REPLACE INTO terms (id, iri) VALUES (?1, ?2)")?
                .execute(params![id, iri])?;
        }
        WriteOp::PutEntity { tenant, id, data } => {
            c.prepare_cached(
                "INSERT OR REPLACE INTO entities (tenant, id, data) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![tenant, id, data])?;
        }
        WriteOp::DeleteEntity { tenant, id } => {
            c.prepare_cached("DELETE FROM entities WHERE tenant = ?1 AND id = ?2")?
                .execute(params![tenant, id])?;
        }
        WriteOp::PutTemporal { tenant, id, data } => {
            c.prepare_cached(
                "INSERT OR REPLACE INTO temporal (tenant, id, data) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![tenant, id, data])?;
        }
        WriteOp::DeleteTemporal { tenant, id } => {
            c.prepare_cached("DELETE FROM temporal WHERE tenant = ?1 AND id = ?2")?
                .execute(params![tenant, id])?;
            c.prepare_cached("DELETE FROM history WHERE tenant = ?1 AND entity_id = ?2")?
                .execute(params![tenant, id])?;
        }
        WriteOp::AppendHistory { tenant, entity_id, time, data } => {
            c.prepare_cached(
                "INSERT INTO history (tenant, entity_id, time, data) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![tenant, entity_id, time, data])?;
        }
        WriteOp::ReplaceHistory { seq, data } => {
            c.prepare_cached("UPDATE history SET data = ?2 WHERE seq = ?1")?
                .execute(params![seq, data])?;
        }
        WriteOp::PutSubscription { tenant, id, data } => {
            c.prepare_cached(
                "INSERT OR REPLACE INTO subscriptions (tenant, id, data) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![tenant, id, data])?;
        }
        WriteOp::DeleteSubscription { tenant, id } => {
            c.prepare_cached("DELETE FROM subscriptions WHERE tenant = ?1 AND id = ?2")?
                .execute(params![tenant, id])?;
        }
        WriteOp::PutRegistration { tenant, id, data } => {
            c.prepare_cached(
                "INSERT OR REPLACE INTO registrations (tenant, id, data) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![tenant, id, data])?;
        }
        WriteOp::DeleteRegistration { tenant, id } => {
            c.prepare_cached("DELETE FROM registrations WHERE tenant = ?1 AND id = ?2")?
                .execute(params![tenant, id])?;
        }
        WriteOp::PutCsourceSubscription { tenant, id, data } => {
            c.prepare_cached(
                "INSERT OR REPLACE INTO csource_subscriptions (tenant, id, data) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![tenant, id, data])?;
        }
        WriteOp::DeleteCsourceSubscription { tenant, id } => {
            c.prepare_cached("DELETE FROM csource_subscriptions WHERE tenant = ?1 AND id = ?2")?
                .execute(params![tenant, id])?;
        }
    }
    Ok(())
}

impl Store for SqliteStore {
    fn submit(&self, batch: Vec<WriteOp>, done: Completion) {
        let sent = match self.tx.lock() {
            Ok(guard) => match guard.as_ref() {
                Some(tx) => tx.send((batch, done)).map_err(|e| e.0.1),
                None => Err(done),
            },
            Err(_) => Err(done),
        };
        if let Err(done) = sent {
            done(Err(StoreError("the store is closed".into())));
        }
    }

    fn load(&self, visit: &mut dyn FnMut(Loaded)) -> StoreResult<()> {
        self.with_reader(|c| {
            let mut s = c.prepare("SELECT name FROM tenants").map_err(err)?;
            let mut rows = s.query([]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                visit(Loaded::Tenant(r.get(0).map_err(err)?));
            }
            let mut s = c.prepare("SELECT id, iri FROM terms ORDER BY id").map_err(err)?;
            let mut rows = s.query([]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                visit(Loaded::Term(r.get(0).map_err(err)?, r.get(1).map_err(err)?));
            }
            let mut s = c.prepare("SELECT tenant, data FROM entities").map_err(err)?;
            let mut rows = s.query([]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                visit(Loaded::Entity {
                    tenant: r.get(0).map_err(err)?,
                    data: r.get(1).map_err(err)?,
                });
            }
            let mut s = c.prepare("SELECT tenant, id, data FROM temporal").map_err(err)?;
            let mut rows = s.query([]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                visit(Loaded::Temporal {
                    tenant: r.get(0).map_err(err)?,
                    id: r.get(1).map_err(err)?,
                    data: r.get(2).map_err(err)?,
                });
            }
            let mut s = c.prepare("SELECT tenant, data FROM subscriptions").map_err(err)?;
            let mut rows = s.query([]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                visit(Loaded::Subscription {
                    tenant: r.get(0).map_err(err)?,
                    data: r.get(1).map_err(err)?,
                });
            }
            let mut s = c.prepare("SELECT tenant, data FROM registrations").map_err(err)?;
            let mut rows = s.query([]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                visit(Loaded::Registration {
                    tenant: r.get(0).map_err(err)?,
                    data: r.get(1).map_err(err)?,
                });
            }
            let mut s = c.prepare("SELECT tenant, data FROM csource_subscriptions").map_err(err)?;
            let mut rows = s.query([]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                visit(Loaded::CsourceSubscription {
                    tenant: r.get(0).map_err(err)?,
                    data: r.get(1).map_err(err)?,
                });
            }
            Ok(())
        })
    }

    fn history(&self, tenant: &str, entity_id: &str) -> StoreResult<Vec<HistoryRow>> {
        self.with_reader(|c| {
            let mut s = c
                .prepare_cached("SELECT seq, time, data FROM history WHERE tenant = ?1 AND entity_id = ?2 ORDER BY seq")
                .map_err(err)?;
            let rows = s
                .query_map(params![tenant, entity_id], |r| {
                    Ok(HistoryRow { seq: r.get(0)?, time: r.get(1)?, data: r.get(2)? })
                })
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)
        })
    }
}
