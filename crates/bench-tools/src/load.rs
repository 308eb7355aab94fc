//! The load: writer tasks that each `INCR` their own counter in a loop,
//! and the record of what was acknowledged, by whom and when.
//!
//! A write counts as acknowledged only on an integer reply. An error reply
//! or a failed connection is "not acknowledged, outcome unknown": the
//! writer moves on along its route after `retry_delay` and sends a new
//! `INCR` (it never counts a retry as the same increment). So after any
//! failover a counter must hold at least its acknowledged increments and at
//! most acknowledged plus unknown ones; the check reports both bounds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};

use crate::knobs::{
    CONNECT_TIMEOUT, POLL, POOL_CONNECTIONS_MAX, QUERY_TIMEOUT, START_TIMEOUT, STOP_TIMEOUT,
};
use crate::resp::{Connection, Reply};
use crate::route::{Cursor, Route};

#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub clients: usize,
    pub write_timeout: Duration,
    pub retry_delay: Duration,
}

/// One writer's counts.
#[derive(Clone, Debug, Default)]
pub struct ClientRecord {
    pub key: String,
    pub acked: u64,
    /// Writes that got an error reply or no reply.
    pub unknown: u64,
    pub last_ack: Option<Instant>,
}

/// Watches for the first acknowledgements after a kill.
#[derive(Debug)]
pub struct KillWatch {
    pub killed_at: Instant,
    pub killed_addr: String,
    /// The first write acknowledged after the kill by another node.
    pub first_ack: Option<(Instant, String)>,
    /// Writers acknowledged after the kill by another node.
    pub recovered: Vec<bool>,
    /// When the last writer was first acknowledged after the kill.
    pub all_recovered_at: Option<Instant>,
}

/// The longest gap between two consecutive acknowledgements of one writer
/// that overlaps `[start, end]` (`end` open while `None`).
#[derive(Debug)]
pub struct GapWindow {
    pub start: Instant,
    pub end: Option<Instant>,
    pub max_gap: Duration,
}

#[derive(Debug, Default)]
pub struct Record {
    pub clients: Vec<ClientRecord>,
    pub kill: Option<KillWatch>,
    pub window: Option<GapWindow>,
}

impl Record {
    fn acknowledged(&mut self, client: usize, addr: &str, now: Instant) {
        let last = self.clients[client].last_ack.replace(now);
        self.clients[client].acked += 1;
        if let (Some(window), Some(last)) = (&mut self.window, last) {
            let overlaps = now >= window.start && window.end.is_none_or(|end| last <= end);
            if overlaps {
                window.max_gap = window.max_gap.max(now - last);
            }
        }
        if let Some(kill) = &mut self.kill {
            if now < kill.killed_at || addr == kill.killed_addr || kill.recovered[client] {
                return;
            }
            kill.first_ack.get_or_insert((now, addr.to_string()));
            kill.recovered[client] = true;
            if kill.recovered.iter().all(|r| *r) {
                kill.all_recovered_at = Some(now);
            }
        }
    }

    pub fn acked(&self) -> u64 {
        self.clients.iter().map(|c| c.acked).sum()
    }

    pub fn unknown(&self) -> u64 {
        self.clients.iter().map(|c| c.unknown).sum()
    }
}

pub struct Load {
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
    writers: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts the writers, each on its own key `PREFIX:I`; writer I starts
    /// at position I of its route.
    pub fn start(route: &Route, options: LoadOptions, prefix: &str) -> Load {
        let record = Arc::new(Mutex::new(Record {
            clients: (0..options.clients)
                .map(|i| ClientRecord {
                    key: format!("{prefix}:{i}"),
                    ..ClientRecord::default()
                })
                .collect(),
            ..Record::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let writers = (0..options.clients)
            .map(|i| {
                let writer = Writer {
                    index: i,
                    key: format!("{prefix}:{i}"),
                    cursor: Cursor::new(route.clone(), i),
                    options,
                    record: record.clone(),
                    stop: stop.clone(),
                };
                tokio::spawn(writer.run())
            })
            .collect();
        Load {
            record,
            stop,
            writers,
        }
    }

    pub fn record(&self) -> MutexGuard<'_, Record> {
        self.record
            .lock()
            .expect("the record's lock is never poisoned")
    }

    /// Waits until every writer has had a write acknowledged.
    pub async fn wait_flowing(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let waiting = self
                .record()
                .clients
                .iter()
                .filter(|c| c.acked == 0)
                .count();
            if waiting == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{waiting} writer(s) had no write acknowledged within {START_TIMEOUT:?}"
                ));
            }
            sleep(POLL).await;
        }
    }

    /// Waits until every writer has been acknowledged after `since`, or
    /// `deadline`; returns how many were not.
    pub async fn wait_acked_after(&self, since: Instant, deadline: Instant) -> usize {
        loop {
            let behind = self
                .record()
                .clients
                .iter()
                .filter(|c| c.last_ack.is_none_or(|t| t <= since))
                .count();
            if behind == 0 || Instant::now() >= deadline {
                return behind;
            }
            sleep(POLL).await;
        }
    }

    /// Stops the writers (each finishes its current, bounded, call).
    pub async fn stop(self) -> Record {
        self.stop.store(true, Ordering::Relaxed);
        for writer in self.writers {
            if tokio::time::timeout(STOP_TIMEOUT, writer).await.is_err() {
                eprintln!("failover-clock: a writer did not stop within {STOP_TIMEOUT:?}");
            }
        }
        let record = self.record.lock().expect("never poisoned");
        Record {
            clients: record.clients.clone(),
            kill: None,
            window: None,
        }
    }
}

struct Writer {
    index: usize,
    key: String,
    cursor: Cursor,
    options: LoadOptions,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
}

impl Writer {
    /// Writes until stopped. A write that is acknowledged keeps the writer
    /// where it is; any other outcome sends it along its route after the
    /// retry delay. A connection that answered, even with an error, is kept
    /// for when the route comes back to it; one that failed is dropped.
    async fn run(mut self) {
        let mut pool: Vec<Connection> = Vec::new();
        let mut target: Option<String> = None;
        while !self.stop.load(Ordering::Relaxed) {
            let addr = match target.take() {
                Some(addr) => addr,
                None => match self.cursor.next_target().await {
                    Some(addr) => addr,
                    None => {
                        sleep(self.options.retry_delay).await;
                        continue;
                    }
                },
            };
            let Some(mut conn) = checkout(&mut pool, &addr).await else {
                sleep(self.options.retry_delay).await;
                continue;
            };
            let argv: [&[u8]; 2] = [b"INCR", self.key.as_bytes()];
            let reply = conn.call(&argv, self.options.write_timeout).await;
            let now = Instant::now();
            let acked = matches!(reply, Ok(Reply::Integer(_)));
            {
                let mut record = self.record.lock().expect("never poisoned");
                if acked {
                    record.acknowledged(self.index, &addr, now);
                } else {
                    record.clients[self.index].unknown += 1;
                }
            }
            if reply.is_ok() {
                checkin(&mut pool, conn);
            }
            if acked {
                target = Some(addr);
            } else {
                sleep(self.options.retry_delay).await;
            }
        }
    }
}

/// The pooled connection to `addr`, or a new one.
async fn checkout(pool: &mut Vec<Connection>, addr: &str) -> Option<Connection> {
    match pool.iter().position(|c| c.addr == addr) {
        Some(i) => Some(pool.swap_remove(i)),
        None => Connection::connect(addr, CONNECT_TIMEOUT).await.ok(),
    }
}

fn checkin(pool: &mut Vec<Connection>, conn: Connection) {
    if pool.len() >= POOL_CONNECTIONS_MAX {
        pool.remove(0);
    }
    pool.push(conn);
}

/// What the counters on `addr` say about the writers' acknowledgements.
#[derive(Debug, Default)]
pub struct Check {
    /// Acknowledged increments missing from the counters.
    pub lost: u64,
    /// Counters holding fewer than their acknowledged increments.
    pub lost_keys: usize,
    /// Increments beyond acknowledged plus unknown ones (applied twice).
    pub extra: u64,
}

/// Reads every writer's counter back from `addr`. On DaisyDB the read is
/// at 1-safe so that it is not held back by a dead in-sync member; the
/// error a Redis server gives to that command is ignored.
pub async fn check(addr: &str, record: &Record) -> Result<Check, String> {
    let mut conn = Connection::connect(addr, CONNECT_TIMEOUT)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = conn
        .call_str(&["CLIENT", "SAFENESS", "1-safe"], QUERY_TIMEOUT)
        .await;
    let mut check = Check::default();
    for client in &record.clients {
        let reply = conn
            .call_str(&["GET", &client.key], QUERY_TIMEOUT)
            .await
            .map_err(|e| format!("GET {} on {addr}: {e}", client.key))?;
        let value: u64 = match &reply {
            Reply::Bulk(None) => 0,
            Reply::Bulk(Some(_)) => reply
                .as_text()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("{} holds {reply:?}", client.key))?,
            other => return Err(format!("GET {} on {addr}: {other:?}", client.key)),
        };
        if value < client.acked {
            check.lost += client.acked - value;
            check.lost_keys += 1;
        }
        check.extra += value.saturating_sub(client.acked + client.unknown);
    }
    Ok(check)
}

/// A key prefix unlikely to meet an earlier run's keys.
pub fn run_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("failover-clock:{}:{nanos}", std::process::id())
}
