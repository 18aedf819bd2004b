//! A TCP proxy that can stop relaying without closing anything: what a failover behind a
//! virtual IP, or a cut network path, looks like to a client. Connections stay open and
//! writes succeed; no answer ever comes until the proxy resumes.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

pub struct BlackHole {
    pub port: u16,
    stalled: Arc<AtomicBool>,
}

impl BlackHole {
    /// Relays 127.0.0.1:`port` to 127.0.0.1:`upstream` until [`BlackHole::stall`].
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stalled);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let flag = Arc::clone(&flag);
                thread::spawn(move || connect(client, upstream, flag));
            }
        });
        Self { port, stalled }
    }

    /// From now on nothing is relayed either way; what arrives is held, not dropped.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    /// Relays again, held bytes first.
    pub fn resume(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }
}

fn connect(client: TcpStream, upstream: u16, stalled: Arc<AtomicBool>) {
    wait_while_stalled(&stalled);
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (client_in, server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = Arc::clone(&stalled);
    thread::spawn(move || relay(client_in, server_out, up));
    relay(server, client, stalled);
}

/// Copies `from` to `to` until either side closes, holding each chunk while stalled.
fn relay(mut from: TcpStream, mut to: TcpStream, stalled: Arc<AtomicBool>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        wait_while_stalled(&stalled);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn wait_while_stalled(stalled: &AtomicBool) {
    while stalled.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(10));
    }
}
