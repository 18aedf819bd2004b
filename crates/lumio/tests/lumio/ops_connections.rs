//! Issue 24: connections that never finish their request. A client that sends part of
//! its headers and stops is cut off by the header-read timeout, and SIGTERM ends the
//! real `lumio server` within its drain time even while such a client holds a
//! connection (before, plain HTTP waited for it forever). An HTTP/2 connection whose
//! headers never end is closed by the idle limit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::server::{Backend, TestServer};

/// The server's header-read timeout and drain time (both 10 s), and slack for a busy
/// machine.
const BOUND: Duration = Duration::from_secs(10);
const SLACK: Duration = Duration::from_secs(8);

/// A connection that sent the start of a request and no more.
fn half_sent_request(server: &TestServer) -> TcpStream {
    let addr = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: lumio\r\nX-Slow: ")
        .unwrap();
    stream
}

#[test]
fn a_client_that_stops_mid_headers_is_cut_off_by_the_header_read_timeout() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let mut stream = half_sent_request(&server);
    stream.set_read_timeout(Some(BOUND + SLACK)).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    // Ends when the server closes the connection (perhaps after a 408); a read that
    // times out instead means the connection was kept.
    let read = stream.read_to_end(&mut answer);
    assert!(
        read.is_ok(),
        "still open after {:?}: {read:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() >= BOUND - Duration::from_secs(1),
        "closed too early: {:?}",
        started.elapsed()
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[test]
fn an_http2_connection_whose_headers_never_end_is_closed() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let addr = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    // HTTP/2 with prior knowledge: the preface, empty SETTINGS, then a HEADERS frame on
    // stream 1 without END_HEADERS (`:method GET`, `:scheme http`) and never the rest.
    // No request reaches the service, so HTTP/1's header-read timeout cannot apply.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .unwrap();
    stream.write_all(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]).unwrap();
    stream
        .write_all(&[0, 0, 2, 0x1, 0, 0, 0, 0, 1, 0x82, 0x86])
        .unwrap();
    // Closing may take the idle limit and then the close grace.
    stream.set_read_timeout(Some(BOUND * 2 + SLACK)).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let kept = matches!(&read, Err(err) if matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
    assert!(!kept, "still open after {:?}", started.elapsed());
    assert!(
        started.elapsed() >= BOUND - Duration::from_secs(1),
        "closed too early: {:?}",
        started.elapsed()
    );
    // The server spoke HTTP/2 (its first frame is SETTINGS), and said GOAWAY (0x7).
    assert_eq!(
        answer.get(3),
        Some(&0x4),
        "not an HTTP/2 answer: {answer:?}"
    );
    assert!(has_frame(&answer, 0x7), "no GOAWAY: {answer:?}");
}

/// Whether the HTTP/2 frames in `bytes` include one of type `kind`.
fn has_frame(mut bytes: &[u8], kind: u8) -> bool {
    while bytes.len() >= 9 {
        let length =
            usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        if bytes[3] == kind {
            return true;
        }
        bytes = &bytes[(9 + length).min(bytes.len())..];
    }
    false
}

#[test]
fn sigterm_ends_the_server_within_its_drain_time_while_a_request_is_half_sent() {
    let Some(mut server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let _held = half_sent_request(&server);
    // The request is under way before the signal arrives.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let sent = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = server.wait_exit(BOUND + SLACK).unwrap_or_else(|| {
        panic!(
            "still running {:?} after SIGTERM:\n{}",
            started.elapsed(),
            server.log()
        )
    });
    assert!(status.success(), "{status}:\n{}", server.log());
}
