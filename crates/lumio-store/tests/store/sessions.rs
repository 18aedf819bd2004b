//! Dashboard sessions: found until they expire, one-time notices, deletion.

use chrono::{Duration, Utc};
use lumio_store::SessionRecord;

use crate::common::TestDb;
use lumio_store::on_each_backend;

on_each_backend!(fixture = crate::common::TestDb::on; sessions_expire_and_notices_show_once);

async fn sessions_expire_and_notices_show_once(db: &TestDb) {
    let store = db.store().await;
    let now = Utc::now();
    let session = |byte: u8, expires_in: Duration| SessionRecord {
        id_hash: [byte; 32],
        token_id: "tok_1".into(),
        csrf: "c".repeat(64),
        expires_at: now + expires_in,
        flash: None,
    };
    let live = session(1, Duration::hours(1));
    store.insert_session(&live).await.unwrap();
    store
        .insert_session(&session(2, Duration::seconds(1)))
        .await
        .unwrap();
    let found = store.find_session(&[1; 32], now).await.unwrap().unwrap();
    assert_eq!(found.token_id, "tok_1");
    assert_eq!(
        found.expires_at.timestamp_micros(),
        live.expires_at.timestamp_micros()
    );
    let later = now + Duration::seconds(2);
    assert!(store.find_session(&[2; 32], later).await.unwrap().is_none());
    assert_eq!(store.delete_expired_sessions(later).await.unwrap(), 1);
    assert!(store.find_session(&[9; 32], now).await.unwrap().is_none());

    store.set_session_flash(&[1; 32], "Saved A").await.unwrap();
    let found = store.find_session(&[1; 32], now).await.unwrap().unwrap();
    assert_eq!(found.flash.as_deref(), Some("Saved A"));
    assert!(!store.take_session_flash(&[1; 32], "Saved B").await.unwrap());
    assert!(store.take_session_flash(&[1; 32], "Saved A").await.unwrap());
    assert!(!store.take_session_flash(&[1; 32], "Saved A").await.unwrap());
    let found = store.find_session(&[1; 32], now).await.unwrap().unwrap();
    assert_eq!(found.flash, None);

    store.delete_session(&[1; 32]).await.unwrap();
    assert!(store.find_session(&[1; 32], now).await.unwrap().is_none());
}
