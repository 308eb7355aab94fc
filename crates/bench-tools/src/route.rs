//! Where a writer sends its next write after a failure, as a client of
//! each system would decide it: DaisyDB clients try the next node in turn
//! (a secondary refuses with `-READONLY`, a primary without its lease
//! with `-TRYAGAIN`, one short of in-sync secondaries with `-NOREPLICAS`);
//! Redis clients ask a sentinel where the master is.

use std::time::Duration;

use tokio::time::{sleep, Instant};

use crate::knobs::{CONNECT_TIMEOUT, POLL, QUERY_TIMEOUT};
use crate::resp::{Connection, Reply};

#[derive(Clone, Debug)]
pub enum Route {
    /// Try these nodes in turn.
    Nodes(Vec<String>),
    /// Ask these sentinels, in turn, for the address of `master`.
    Sentinel {
        sentinels: Vec<String>,
        master: String,
    },
}

/// One writer's position in its route.
pub struct Cursor {
    route: Route,
    /// The node (Nodes) or sentinel (Sentinel) to use next.
    next: usize,
    /// The open connection to the current sentinel, as a Sentinel-aware
    /// client keeps one.
    sentinel: Option<Connection>,
}

impl Cursor {
    pub fn new(route: Route, start: usize) -> Cursor {
        Cursor {
            route,
            next: start,
            sentinel: None,
        }
    }

    /// The address to write to next; `None` when no sentinel answered.
    /// Moves on, so that a failed attempt is followed by another node or
    /// sentinel.
    pub async fn next_target(&mut self) -> Option<String> {
        match &self.route {
            Route::Nodes(nodes) => {
                let addr = nodes[self.next % nodes.len()].clone();
                self.next = (self.next + 1) % nodes.len();
                Some(addr)
            }
            Route::Sentinel { sentinels, master } => {
                for _ in 0..sentinels.len() {
                    let sentinel = &sentinels[self.next % sentinels.len()];
                    let conn = match self.sentinel.take() {
                        Some(conn) => Some(conn),
                        None => Connection::connect(sentinel, CONNECT_TIMEOUT).await.ok(),
                    };
                    if let Some(mut conn) = conn {
                        if let Some(addr) = query_master(&mut conn, master).await {
                            self.sentinel = Some(conn);
                            return Some(addr);
                        }
                    }
                    self.next = (self.next + 1) % sentinels.len();
                }
                None
            }
        }
    }
}

/// `SENTINEL get-master-addr-by-name MASTER` on one sentinel, as HOST:PORT.
pub async fn master_addr(sentinel: &str, master: &str) -> Option<String> {
    let mut conn = Connection::connect(sentinel, CONNECT_TIMEOUT).await.ok()?;
    query_master(&mut conn, master).await
}

async fn query_master(conn: &mut Connection, master: &str) -> Option<String> {
    let reply = conn
        .call_str(
            &["SENTINEL", "get-master-addr-by-name", master],
            QUERY_TIMEOUT,
        )
        .await
        .ok()?;
    let Reply::Array(Some(items)) = reply else {
        return None;
    };
    match items.as_slice() {
        [host, port] => Some(format!("{}:{}", host.as_text()?, port.as_text()?)),
        _ => None,
    }
}

/// Whether the node at `addr` says it is a primary (`ROLE` starts with
/// `master`). `None` when it does not answer.
pub async fn is_primary(addr: &str) -> Option<bool> {
    let mut conn = Connection::connect(addr, CONNECT_TIMEOUT).await.ok()?;
    let reply = conn.call_str(&["ROLE"], QUERY_TIMEOUT).await.ok()?;
    let Reply::Array(Some(items)) = reply else {
        return None;
    };
    Some(items.first()?.as_text()? == "master")
}

/// The first of `nodes` that says it is the primary.
pub async fn find_primary(nodes: &[String]) -> Option<String> {
    for node in nodes {
        if is_primary(node).await == Some(true) {
            return Some(node.clone());
        }
    }
    None
}

/// `find_primary`, again every few polls until `limit` has passed: a node
/// may be slow to answer, or the role may be moving.
pub async fn wait_primary(nodes: &[String], limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        let primary = find_primary(nodes).await;
        if primary.is_some() || Instant::now() >= deadline {
            return primary;
        }
        sleep(POLL * 10).await;
    }
}
