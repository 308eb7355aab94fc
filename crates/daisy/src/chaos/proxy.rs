//! A TCP forwarder on loopback that can be cut: the chaos cluster puts one
//! on every directed peer link (`--peer-routes`), so a partition is a set
//! of cut proxies. Cutting closes the connections it carries and refuses
//! new ones until it is healed.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How often an idle pump looks at the cut flag.
const PUMP_POLL: Duration = Duration::from_millis(20);
/// How often the listener looks for a new connection.
const ACCEPT_POLL: Duration = Duration::from_millis(2);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

pub struct Proxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Forwards a free loopback port to `target`.
    pub fn start(target: u16) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (cut_flag, stop_flag) = (cut.clone(), stop.clone());
        thread::spawn(move || accept(listener, target, &cut_flag, &stop_flag));
        Ok(Proxy { port, cut, stop })
    }

    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn accept(listener: TcpListener, target: u16, cut: &Arc<AtomicBool>, stop: &Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok((client, _)) = listener.accept() else {
            thread::sleep(ACCEPT_POLL);
            continue;
        };
        if cut.load(Ordering::SeqCst) {
            continue;
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], target));
        let Ok(server) = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) else {
            continue;
        };
        let _ = client.set_nonblocking(false);
        for (from, to) in [
            (client.try_clone(), server.try_clone()),
            (server.try_clone(), client.try_clone()),
        ] {
            if let (Ok(from), Ok(to)) = (from, to) {
                let (cut, stop) = (cut.clone(), stop.clone());
                thread::spawn(move || pump(from, to, &cut, &stop));
            }
        }
    }
}

/// Copies `from` to `to` until either closes or the proxy is cut.
fn pump(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool, stop: &AtomicBool) {
    let _ = from.set_read_timeout(Some(PUMP_POLL));
    let _ = to.set_nodelay(true);
    let mut buffer = vec![0u8; 64 * 1024];
    while !cut.load(Ordering::SeqCst) && !stop.load(Ordering::Relaxed) {
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
