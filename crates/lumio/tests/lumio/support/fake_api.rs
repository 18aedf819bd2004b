//! A tiny external API on 127.0.0.1 for actions to `ctx.fetch`: it checks the bearer key,
//! records what it was sent, and answers JSON. One thread, one request per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// One request the fake API received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, e.g. `/search` or `/v1/current?lat=1&lon=2`.
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Default)]
struct State {
    key: Option<String>,
    seen: Vec<Seen>,
}

/// The running fake. Its thread lives as long as the test process.
pub struct FakeApi {
    /// `http://127.0.0.1:PORT`, to put where the extension's code says `https://api…`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake API");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // A broken connection only fails the request it carried.
                let _ = serve(stream, &shared);
            }
        });
        Self { url, state }
    }

    /// The key a request must carry as `Authorization: Bearer <key>` to get a 200.
    pub fn expect_key(&self, key: &str) {
        self.state.lock().unwrap().key = Some(key.to_owned());
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The latest request; panics if there was none.
    #[track_caller]
    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the fake API saw no request")
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let (mut authorization, mut length) = (None, 0usize);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            match name.trim().to_ascii_lowercase().as_str() {
                "authorization" => authorization = Some(value),
                "content-length" => length = value.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();

    let (status, answer) = {
        let mut state = state.lock().unwrap();
        let expected = state.key.as_ref().map(|k| format!("Bearer {k}"));
        let authorized = expected.is_some() && authorization == expected;
        state.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            authorization,
            body: body.clone(),
        });
        // Never echoes the key: an action returning this answer must not look like a leak.
        if authorized {
            ("200 OK", answer(&method, &path, &body))
        } else {
            (
                "401 Unauthorized",
                json!({"ok": false, "error": "bad or missing bearer key"}),
            )
        }
    };
    let text = answer.to_string();
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{text}",
        text.len()
    )?;
    stream.flush()
}

/// What the API answers an authorized request: the request itself, and weather data for
/// the weather example.
fn answer(method: &str, path: &str, body: &str) -> Value {
    json!({
        "ok": true,
        "method": method,
        "path": path,
        "received": serde_json::from_str::<Value>(body).unwrap_or(Value::Null),
        "condition": "Sunny",
        "temp_c": 21.5,
        "days": [
            {"date": "2025-06-01", "max_c": 25, "min_c": 15},
            {"date": "2025-06-02", "max_c": 22, "min_c": 12},
            {"date": "2025-06-03", "max_c": 20, "min_c": 11},
        ],
    })
}
