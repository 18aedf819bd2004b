//! Issue 9, item 5: while PostgreSQL is unreachable, management calls fail fast with 503,
//! actions that read no secret keep answering from the caches, and an action that reads a
//! secret answers 503 (never 500) — within `--db-timeout`; once the database is back,
//! everything works again.

use std::time::{Duration, Instant};

use super::api::Api;
use super::private_pg::PrivatePg;
use crate::support::server::{Launch, TestServer};

const ACTIONS: &str = "import { action } from \"@zaflun/lumio-sdk/server\";\n\
    export const plain = action({ args: {}, handler: async () => ({ ok: true }) });\n\
    export const reads = action({ args: {}, handler: async (ctx: any) => ({ length: ctx.secrets.get(\"KEY\").length }) });\n";

#[test]
fn a_database_outage_is_not_an_action_outage() {
    let Some(pg) = PrivatePg::start() else {
        return;
    };
    pg.sql("postgres", "CREATE DATABASE lumio");
    let server = TestServer::launch(Launch {
        database_url: Some(pg.url("lumio")),
        env: &[("LUMIO_DB_TIMEOUT", "2")],
        ..Launch::default()
    });
    let api = Api::new(&server);
    api.create_extension("out");
    assert_eq!(api.set("out", "KEY", "outage-value-1").0, 200);
    api.deploy("out", ACTIONS);
    assert_eq!(api.invoke("out", "plain").0, 200);
    assert_eq!(api.invoke("out", "reads").0, 200);

    pg.down();
    // Once the server has noticed (its change feed dropped, so its caches stopped
    // vouching for values), a secret read fails closed...
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = api.invoke("out", "reads");
        if status == 503 {
            break;
        }
        assert_eq!(status, 200, "an action reading a secret: {body}");
        assert!(
            Instant::now() < deadline,
            "a secret read still answered 200 30 s into the outage: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // ...while an action that reads none still runs from the deployment it knows.
    for _ in 0..5 {
        let (status, body) = api.invoke("out", "plain");
        assert_eq!(status, 200, "a no-secret action during the outage: {body}");
    }
    let started = Instant::now();
    let (status, body) = api.set("out", "KEY", "outage-value-2");
    let took = started.elapsed();
    assert_eq!(status, 503, "a set during the outage: {body}");
    eprintln!("set during the outage answered 503 in {took:?}");
    // Bounded by --db-timeout (2 s here), with room for a slow machine.
    assert!(took < Duration::from_secs(8), "503 took {took:?}");

    pg.up();
    api.set_once_back(&server, "out", "KEY", "outage-value-3");
    let (status, body) = api.invoke("out", "reads");
    assert_eq!(status, 200, "{body}\n{}", server.log());
    assert_eq!(body["value"]["length"], 14);
}
