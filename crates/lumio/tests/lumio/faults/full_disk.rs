//! Issue 9, item 1: the embedded default must heal once a full disk has room again,
//! without a restart, and lose nothing stored before.

use super::api::{compare_action, Api};
use super::tmpfs::Tmpfs;
use crate::support::server::{Launch, TestServer};

#[test]
fn sqlite_sets_work_again_once_a_full_disk_has_room() {
    let Some(disk) = Tmpfs::mount(8) else {
        return;
    };
    let data_dir = disk.path().join("data");
    let server = TestServer::launch(Launch {
        data_dir: Some(&data_dir),
        ..Launch::default()
    });
    let api = Api::new(&server);
    api.create_extension("full");
    assert_eq!(
        api.set("full", "KEPT", "kept-before-the-disk-filled").0,
        200
    );
    api.deploy(
        "full",
        &compare_action("KEPT", "kept-before-the-disk-filled"),
    );

    let filler = disk.fill();
    let big = "v".repeat(64 << 10);
    let refused: Vec<u16> = (0..6)
        .map(|i| api.set("full", &format!("WHILE_FULL_{i}"), &big).0)
        .filter(|status| *status != 200)
        .collect();
    assert!(!refused.is_empty(), "no set failed on a full disk");
    assert!(
        refused.iter().all(|status| *status == 503),
        "a full disk must answer 503, got {refused:?}:\n{}",
        server.log()
    );

    std::fs::remove_file(filler).unwrap();
    for i in 0..20 {
        let (status, body) = api.set("full", &format!("AFTER_{i}"), &format!("after-{i}"));
        assert_eq!(
            status,
            200,
            "set {i} after freeing the disk: {body}\n{}",
            server.log()
        );
    }
    let (status, body) = api.invoke("full", "same");
    assert_eq!(
        (status, body["value"]["same"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
}
