//! A stand-in for the Lumio API: answers each connection with the next canned response
//! and records what the CLI sent, so request shapes and error mapping can be tested
//! without the real server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

/// One request as the fake server saw it.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// Path and query, e.g. `/api/v1/…/audit?limit=5`.
    pub target: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

/// A fake server on 127.0.0.1 serving `answers` in order, one per connection.
pub struct FakeApi {
    pub url: String,
    thread: JoinHandle<Vec<Request>>,
}

impl FakeApi {
    /// `answers` are (status, body) pairs; bodies are sent as JSON.
    pub fn start(answers: Vec<(u16, Value)>) -> Self {
        Self::start_raw(
            answers
                .into_iter()
                .map(|(s, b)| (s, b.to_string()))
                .collect(),
        )
    }

    pub fn start_raw(answers: Vec<(u16, String)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let thread = std::thread::spawn(move || {
            answers
                .into_iter()
                .map(|(status, body)| {
                    let (mut stream, _) = listener.accept().unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    let request = read_request(&mut stream);
                    let head = format!(
                        "HTTP/1.1 {status} Canned\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nx-request-id: req-fake-1\r\n\
                         connection: close\r\n\r\n",
                        body.len()
                    );
                    stream.write_all(head.as_bytes()).unwrap();
                    stream.write_all(body.as_bytes()).unwrap();
                    request
                })
                .collect()
        });
        Self { url, thread }
    }

    /// Waits until every answer was served and returns the requests.
    pub fn requests(self) -> Vec<Request> {
        self.thread.join().expect("fake API thread failed")
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Request {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Request {
        method,
        target,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}
