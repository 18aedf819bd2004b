//! Issue 9, item 4: after the change feed's listener lost its connection and missed the
//! echoes of writes made meanwhile, later writes must not wait for those lost echoes (they
//! took 2 s each, for as long as the listener stayed up).

use std::time::{Duration, Instant};

use super::api::{compare_action, Api};
use super::private_pg::PrivatePg;
use crate::support::server::{Launch, TestServer};

const NOT_CONFIRMED: &str = "change notification not confirmed in time";

#[test]
fn writes_are_confirmed_again_once_the_change_feed_reconnects() {
    let Some(pg) = PrivatePg::start() else {
        return;
    };
    pg.sql("postgres", "CREATE DATABASE lumio");
    let token = "lumio_faults_feed_admin_0123456789";
    // Both servers hold the same master key (32 bytes, base64).
    let key = [(
        "LUMIO_MASTER_KEY",
        "ZmF1bHRzLWZlZWQtbWFzdGVyLWtleS0wMTIzNDU2Nzg=",
    )];
    let launch = || {
        TestServer::launch(Launch {
            database_url: Some(pg.url("lumio")),
            admin_token: Some(token),
            env: &key,
            ..Launch::default()
        })
    };
    let (a, b) = (launch(), launch());
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    api_a.create_extension("feed");
    assert_eq!(api_a.set("feed", "KEY", "before").0, 200);

    // Cut the listeners off and keep them from reconnecting; write meanwhile.
    pg.sql("postgres", "ALTER DATABASE lumio ALLOW_CONNECTIONS false");
    pg.sql(
        "postgres",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'lumio-listener'",
    );
    assert_eq!(api_a.set("feed", "KEY", "during").0, 200);
    pg.sql("postgres", "ALTER DATABASE lumio ALLOW_CONNECTIONS true");

    let listening =
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lumio-listener'";
    let deadline = Instant::now() + Duration::from_secs(30);
    while pg.sql("postgres", listening) != "2" {
        assert!(
            Instant::now() < deadline,
            "the listeners never reconnected:\n{}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Reconnected is not yet re-subscribed: give LISTEN and the catch-up a moment.
    std::thread::sleep(Duration::from_secs(1));
    let missed_before = a.log().matches(NOT_CONFIRMED).count();
    for i in 0..5 {
        assert_eq!(api_a.set("feed", "KEY", &format!("after-{i}")).0, 200);
    }
    let missed_after = a.log().matches(NOT_CONFIRMED).count();
    assert_eq!(
        missed_after,
        missed_before,
        "writes after the listener came back waited for lost echoes:\n{}",
        a.log()
    );
    // And the other server serves the latest value.
    api_b.deploy("feed", &compare_action("KEY", "after-4"));
    let (status, body) = api_b.invoke("feed", "same");
    assert_eq!(
        (status, body["value"]["same"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
}
