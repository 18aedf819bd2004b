//! Due dates on the head (issue 28): the expiry belongs to the version written with it,
//! the rotation period to the secret, and only a new version moves the rotation clock.
//! Every write path is taken: PostgreSQL's single-statement hot paths (one write, a
//! batch), the transactional one (new names, a write that binds) and SQLite's.

use chrono::{DateTime, Duration, TimeZone, Utc};
use lumio_core::{AllowedHosts, AuditEvent, DueUpdate, Period};
use lumio_store::{AuditQuery, AuditRecord, DueDatesChange, NewVersion, SecretHead, Store};

use crate::common::{extension, name, write, TestDb, PRODUCTION, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    due_dates_are_written_with_each_version,
    batches_and_bindings_carry_due_dates,
    due_dates_change_without_a_version,
    delete_clears_due_dates_and_the_instance_list_skips_it,
);

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 3, day, 12, 0, 0).unwrap()
}

fn days(n: i64) -> Period {
    Period::from_secs(n * 86_400).unwrap()
}

/// `write` with due dates, set at `set_at`.
fn dated(
    secret: &str,
    expected_latest: i64,
    set_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    rotate_every: DueUpdate<Period>,
) -> NewVersion {
    NewVersion {
        set_at,
        expires_at,
        rotate_every,
        ..write(secret, expected_latest)
    }
}

async fn head(store: &dyn Store, ext: i64, secret: &str) -> SecretHead {
    store
        .head(ext, STAGING, &name(secret))
        .await
        .unwrap()
        .unwrap()
}

async fn due_dates_are_written_with_each_version(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let write_one = |w: NewVersion| {
        let store = store.clone();
        async move {
            store
                .write_versions(ext, STAGING, &[w], 1000, &[])
                .await
                .unwrap()
        }
    };
    // A new name (the transactional path on PostgreSQL).
    write_one(dated("KEY", 0, t(1), Some(t(20)), DueUpdate::Set(days(30)))).await;
    let first = head(&*store, ext, "KEY").await;
    assert_eq!(first.expires_at, Some(t(20)));
    assert_eq!(first.rotate_every, Some(days(30)));
    assert_eq!(first.current_set_at, Some(t(1)));
    assert_eq!(first.due_dates().rotate_by, Some(t(31)));
    let current = store.current(ext, STAGING, &name("KEY")).await.unwrap();
    assert_eq!(current.unwrap().expires_at, Some(t(20)));

    // A new version without an expiry has none; the period stays and its clock restarts
    // (the hot path on PostgreSQL).
    write_one(dated("KEY", 1, t(5), None, DueUpdate::Keep)).await;
    let second = head(&*store, ext, "KEY").await;
    assert_eq!(second.expires_at, None);
    assert_eq!(second.rotate_every, Some(days(30)));
    assert_eq!(second.current_set_at, Some(t(5)));
    assert_eq!(
        second.due_dates().rotate_by,
        Some(t(5) + Duration::days(30))
    );

    write_one(dated("KEY", 2, t(6), Some(t(9)), DueUpdate::Set(days(7)))).await;
    let third = head(&*store, ext, "KEY").await;
    assert_eq!(
        (third.expires_at, third.rotate_every),
        (Some(t(9)), Some(days(7)))
    );
    write_one(dated("KEY", 3, t(7), None, DueUpdate::Clear)).await;
    let cleared = head(&*store, ext, "KEY").await;
    assert_eq!((cleared.expires_at, cleared.rotate_every), (None, None));
    assert_eq!(cleared.due_dates().rotate_by, None);
    // Plain writes have none.
    write_one(write("PLAIN", 0)).await;
    let plain = head(&*store, ext, "PLAIN").await;
    assert_eq!((plain.expires_at, plain.rotate_every), (None, None));
    assert!(plain.current_set_at.is_some());
}

async fn batches_and_bindings_carry_due_dates(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    // New names in one batch, then the same names again (PostgreSQL's batch hot path).
    let first = [
        dated("A", 0, t(1), Some(t(10)), DueUpdate::Set(days(2))),
        dated("B", 0, t(1), None, DueUpdate::Keep),
    ];
    store
        .write_versions(ext, STAGING, &first, 1000, &[])
        .await
        .unwrap();
    let again = [
        dated("A", 1, t(3), None, DueUpdate::Keep),
        dated("B", 1, t(3), Some(t(11)), DueUpdate::Set(days(4))),
    ];
    store
        .write_versions(ext, STAGING, &again, 1000, &[])
        .await
        .unwrap();
    let (a, b) = (head(&*store, ext, "A").await, head(&*store, ext, "B").await);
    assert_eq!(
        (a.expires_at, a.rotate_every, a.current_set_at),
        (None, Some(days(2)), Some(t(3)))
    );
    assert_eq!(
        (b.expires_at, b.rotate_every, b.current_set_at),
        (Some(t(11)), Some(days(4)), Some(t(3)))
    );
    // A write that binds takes the transactional path; its due dates come along.
    let hosts = AllowedHosts::parse(["api.example.com"]).unwrap();
    let bound = NewVersion {
        allowed_hosts: Some(hosts.clone()),
        ..dated("A", 2, t(4), Some(t(12)), DueUpdate::Keep)
    };
    store
        .write_versions(ext, STAGING, &[bound], 1000, &[])
        .await
        .unwrap();
    let a = head(&*store, ext, "A").await;
    assert_eq!(a.allowed_hosts, Some(hosts));
    assert_eq!(
        (a.expires_at, a.rotate_every, a.current_set_at),
        (Some(t(12)), Some(days(2)), Some(t(4)))
    );
}

fn due_record(ext: i64) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        extension_id: ext,
        environment: Some(STAGING),
        event: AuditEvent::SecretDueDatesChanged,
        secret_name: Some("KEY".into()),
        actor: Some("tok_test".into()),
        action: None,
        request_id: Some("req-due".into()),
        outcome: Some("ok".into()),
        detail: Some("expires 2031-03-25T12:00:00Z".into()),
    }
}

async fn due_dates_change_without_a_version(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let key = name("KEY");
    store
        .write_versions(
            ext,
            STAGING,
            &[dated("KEY", 0, t(1), Some(t(20)), DueUpdate::Set(days(30)))],
            1000,
            &[],
        )
        .await
        .unwrap();
    let change = DueDatesChange {
        expires_at: DueUpdate::Set(t(25)),
        rotate_every: DueUpdate::Keep,
    };
    let changed = store
        .set_due_dates(ext, STAGING, &key, &change, "tok_other", &[due_record(ext)])
        .await
        .unwrap();
    assert!(changed);
    let after = head(&*store, ext, "KEY").await;
    assert_eq!(after.latest_version, 1, "no version was written");
    assert_eq!(after.expires_at, Some(t(25)));
    assert_eq!(after.rotate_every, Some(days(30)));
    assert_eq!(
        after.current_set_at,
        Some(t(1)),
        "the rotation clock did not move"
    );
    assert_eq!(after.updated_by, "tok_other");

    let clear = DueDatesChange {
        expires_at: DueUpdate::Clear,
        rotate_every: DueUpdate::Set(days(90)),
    };
    assert!(store
        .set_due_dates(ext, STAGING, &key, &clear, "tok_other", &[due_record(ext)])
        .await
        .unwrap());
    let after = head(&*store, ext, "KEY").await;
    assert_eq!(
        (after.expires_at, after.rotate_every),
        (None, Some(days(90)))
    );
    // A binding change does not move the rotation clock either.
    let hosts = AllowedHosts::parse(["api.example.com"]).unwrap();
    store
        .set_binding(ext, STAGING, &key, Some(&hosts), "tok_other", &[])
        .await
        .unwrap();
    assert_eq!(head(&*store, ext, "KEY").await.current_set_at, Some(t(1)));

    // No such live secret: nothing changes and no record is written.
    let missing = store
        .set_due_dates(
            ext,
            STAGING,
            &name("NOPE"),
            &clear,
            "tok_other",
            &[due_record(ext)],
        )
        .await
        .unwrap();
    assert!(!missing);
    let records = store
        .query_audit(&AuditQuery {
            extension_id: ext,
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let due_records = records
        .iter()
        .filter(|e| e.record.event == AuditEvent::SecretDueDatesChanged)
        .count();
    assert_eq!(due_records, 2);
}

async fn delete_clears_due_dates_and_the_instance_list_skips_it(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let other = extension(&*store).await;
    let rotating = |secret: &str| dated(secret, 0, t(1), None, DueUpdate::Set(days(30)));
    store
        .write_versions(
            ext,
            STAGING,
            &[rotating("ROTATED"), write("PLAIN", 0)],
            1000,
            &[],
        )
        .await
        .unwrap();
    store
        .write_versions(
            ext,
            PRODUCTION,
            &[dated("EXPIRING", 0, t(2), Some(t(9)), DueUpdate::Keep)],
            1000,
            &[],
        )
        .await
        .unwrap();
    store
        .write_versions(other, STAGING, &[rotating("GONE")], 1000, &[])
        .await
        .unwrap();
    store
        .delete_secret(other, STAGING, &name("GONE"), "tok_test", false, &[])
        .await
        .unwrap();
    let gone = store
        .head(other, STAGING, &name("GONE"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((gone.expires_at, gone.rotate_every), (None, None));

    let due: Vec<_> = store
        .due_dates_all()
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.extension_id == ext || d.extension_id == other)
        .collect();
    let seen: Vec<_> = due
        .iter()
        .map(|d| {
            (
                d.environment,
                d.name.as_str(),
                d.version,
                d.expires_at,
                d.rotate_by,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (PRODUCTION, "EXPIRING", 1, Some(t(9)), None),
            (STAGING, "ROTATED", 1, None, Some(t(31))),
        ]
    );
    assert!(due
        .iter()
        .all(|d| d.extension_id == ext && !d.slug.as_str().is_empty()));
}
