//! The writer against an in-test store that fails or stalls on demand.
//!
//! Only failure injection lives here. The happy path against real SQLite and PostgreSQL
//! (`lumio_store::connect`) is tested with the store, in crates/lumio-store.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lumio_audit::{AuditConfig, AuditWriter, Ticket};
use lumio_core::{Environment, ExtensionSlug, SecretName};
use lumio_store::{
    AuditEntry, AuditPruned, AuditQuery, AuditRecord, ChainVerdict, ChainedEntry, Change,
    CurrentSecret, ExportQuery, Extension, NewVersion, Resealed, SealedVersion, SecretHead,
    SessionRecord, Store, StoreError, StoredVersion, TokenRecord, VersionInfo, VersionKey,
};
use tokio::sync::{broadcast, Semaphore};
use tokio::time::{sleep, timeout};

/// Keeps appended batches in memory; fails, stalls or slows down on demand.
#[derive(Default)]
struct FakeStore {
    written: Mutex<Vec<AuditRecord>>,
    calls: AtomicUsize,
    failing: AtomicBool,
    /// When set, each append waits for a permit: a store that does not answer.
    gate: Option<Semaphore>,
    delay: Duration,
}

impl FakeStore {
    fn gated() -> Self {
        Self {
            gate: Some(Semaphore::new(0)),
            ..Self::default()
        }
    }
    fn slow(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }
    /// The `detail` of each written record, in write order.
    fn written_ids(&self) -> Vec<u64> {
        let written = self.written.lock().unwrap();
        written
            .iter()
            .map(|r| r.detail.as_deref().unwrap().parse().unwrap())
            .collect()
    }
}

fn record(id: u64) -> AuditRecord {
    AuditRecord {
        at: chrono::Utc::now(),
        extension_id: 1,
        environment: Some(Environment::Staging),
        event: lumio_core::AuditEvent::SecretGet,
        secret_name: Some("API_KEY".into()),
        actor: None,
        action: Some("fetchScores".into()),
        request_id: None,
        outcome: Some("found".into()),
        detail: Some(id.to_string()),
    }
}

fn fast_retry() -> AuditConfig {
    AuditConfig {
        retry_min: Duration::from_millis(5),
        retry_max: Duration::from_millis(50),
        ..AuditConfig::default()
    }
}

/// Polls `durable` until it succeeds: a recovered writer must get there on its own.
async fn eventually_durable(writer: &AuditWriter, ticket: Ticket) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.durable(ticket).await.is_err() {
        assert!(Instant::now() < deadline, "{ticket:?} never became durable");
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_are_batched_in_ticket_order() {
    let store = Arc::new(FakeStore::slow(Duration::from_millis(5)));
    let writer = AuditWriter::spawn(store.clone(), AuditConfig::default());
    let tasks: Vec<_> = (0..2000u64)
        .map(|id| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let ticket = writer.enqueue(record(id)).await;
                writer.durable(ticket).await.map(|()| (ticket, id))
            })
        })
        .collect();
    let mut acked = Vec::new();
    for task in tasks {
        acked.push(task.await.unwrap().expect("durable"));
    }
    acked.sort();
    let in_ticket_order: Vec<u64> = acked.iter().map(|&(_, id)| id).collect();
    assert_eq!(
        store.written_ids(),
        in_ticket_order,
        "each record once, in ticket order"
    );
    let calls = store.calls.load(Ordering::SeqCst);
    assert!(calls <= 2000 / 20, "{calls} transactions for 2000 records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_calls_share_transactions() {
    let store = Arc::new(FakeStore::slow(Duration::from_millis(20)));
    let writer = AuditWriter::spawn(store.clone(), AuditConfig::default());
    let tasks: Vec<_> = (0..200u64)
        .map(|id| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.record(record(id)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("record");
    }
    let mut ids = store.written_ids();
    ids.sort();
    assert_eq!(ids, (0..200).collect::<Vec<_>>());
    assert!(store.calls.load(Ordering::SeqCst) < 50);
}

#[tokio::test]
async fn max_batch_bounds_each_transaction() {
    let store = Arc::new(FakeStore::default());
    let config = AuditConfig {
        max_batch: 7,
        ..AuditConfig::default()
    };
    let writer = AuditWriter::spawn(store.clone(), config);
    let mut last = Ticket(0);
    for id in 0..50 {
        last = writer.try_enqueue(record(id)).unwrap();
    }
    writer.durable(last).await.unwrap();
    assert_eq!(store.written_ids(), (0..50).collect::<Vec<_>>());
    // Queued before the task ran, so batches are full: ceil(50 / 7).
    assert_eq!(store.calls.load(Ordering::SeqCst), 8);
}

#[tokio::test]
async fn durable_waits_for_the_commit() {
    let store = Arc::new(FakeStore::gated());
    let writer = AuditWriter::spawn(store.clone(), AuditConfig::default());
    let ticket = writer.enqueue(record(1)).await;
    let waiting = timeout(Duration::from_millis(200), writer.durable(ticket)).await;
    assert!(waiting.is_err(), "durable returned before the commit");
    store.gate.as_ref().unwrap().add_permits(1);
    timeout(Duration::from_secs(1), writer.durable(ticket))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.written_ids(), [1]);
}

#[tokio::test]
async fn a_failing_store_fails_durable_fast_and_loses_nothing() {
    let store = Arc::new(FakeStore::default());
    store.failing.store(true, Ordering::SeqCst);
    let writer = AuditWriter::spawn(store.clone(), fast_retry());
    let mut tickets = Vec::new();
    for id in 0..50 {
        tickets.push(writer.enqueue(record(id)).await);
    }
    for &ticket in [tickets[0], tickets[49]].iter() {
        let started = Instant::now();
        let err = timeout(Duration::from_secs(2), writer.durable(ticket))
            .await
            .unwrap()
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(err.cause().contains("injected"), "{err}");
    }
    // A record queued while failing is refused at once as well.
    let late = writer.enqueue(record(50)).await;
    assert!(timeout(Duration::from_secs(1), writer.durable(late))
        .await
        .unwrap()
        .is_err());
    sleep(Duration::from_millis(100)).await;
    assert!(store.written_ids().is_empty());

    store.failing.store(false, Ordering::SeqCst);
    eventually_durable(&writer, late).await;
    assert_eq!(store.written_ids(), (0..=50).collect::<Vec<_>>());
    assert!(writer.record(record(51)).await.is_ok());
}

#[tokio::test]
async fn a_stalled_store_fails_durable_within_the_stall_timeout() {
    let store = Arc::new(FakeStore::gated());
    let config = AuditConfig {
        stall_timeout: Duration::from_millis(200),
        ..fast_retry()
    };
    let writer = AuditWriter::spawn(store.clone(), config);
    let ticket = writer.enqueue(record(1)).await;
    let started = Instant::now();
    let err = timeout(Duration::from_secs(2), writer.durable(ticket))
        .await
        .unwrap()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(err.cause().contains("not answered"), "{err}");
    // The stalled call is not abandoned: when it finishes, the record is in, once.
    store.gate.as_ref().unwrap().add_permits(1);
    eventually_durable(&writer, ticket).await;
    assert_eq!(store.written_ids(), [1]);
    assert_eq!(store.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn shutdown_flushes_then_refuses() {
    let store = Arc::new(FakeStore::slow(Duration::from_millis(10)));
    let writer = AuditWriter::spawn(store.clone(), AuditConfig::default());
    for id in 0..100 {
        writer.try_enqueue(record(id)).unwrap();
    }
    timeout(Duration::from_secs(5), writer.shutdown())
        .await
        .unwrap();
    assert_eq!(store.written_ids(), (0..100).collect::<Vec<_>>());
    assert!(writer.try_enqueue(record(100)).is_err());
    let ticket = writer.enqueue(record(101)).await;
    assert!(writer.durable(ticket).await.is_err());
    writer.shutdown().await; // a second call returns too
}

#[tokio::test]
async fn shutdown_gives_up_on_a_dead_store_after_its_grace() {
    let store = Arc::new(FakeStore::default());
    store.failing.store(true, Ordering::SeqCst);
    let config = AuditConfig {
        shutdown_grace: Duration::from_millis(200),
        ..fast_retry()
    };
    let writer = AuditWriter::spawn(store.clone(), config);
    let ticket = writer.enqueue(record(1)).await;
    timeout(Duration::from_secs(3), writer.shutdown())
        .await
        .expect("shutdown hung");
    assert!(writer.durable(ticket).await.is_err());
}

#[tokio::test]
async fn try_enqueue_reports_a_full_queue() {
    let store = Arc::new(FakeStore::gated());
    let config = AuditConfig {
        queue_capacity: 4,
        max_batch: 1,
        ..AuditConfig::default()
    };
    let writer = AuditWriter::spawn(store.clone(), config);
    let full = (0..20)
        .map(|id| writer.try_enqueue(record(id)))
        .find_map(Result::err);
    let err = full.expect("a 4-record queue never filled up");
    assert!(err.cause().contains("full"), "{err}");
}

#[async_trait]
impl Store for FakeStore {
    fn backend(&self) -> &'static str {
        "fake"
    }
    async fn append_audit(&self, batch: &[AuditRecord]) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        if !self.delay.is_zero() {
            sleep(self.delay).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Corrupt("injected failure".into()));
        }
        self.written.lock().unwrap().extend_from_slice(batch);
        Ok(())
    }

    // Nothing below is used by the audit writer.
    async fn query_audit(&self, _: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        unimplemented!()
    }
    async fn prepare_audit_log(&self, _: DateTime<Utc>) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn append_invocation_logs(
        &self,
        _: &[lumio_store::NewInvocationLog],
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn invocation_logs(
        &self,
        _: &lumio_store::LogQuery<'_>,
    ) -> Result<lumio_store::LogPage, StoreError> {
        unimplemented!()
    }
    async fn prune_invocation_logs(
        &self,
        _: DateTime<Utc>,
        _: i64,
    ) -> Result<lumio_store::LogsPruned, StoreError> {
        unimplemented!()
    }
    async fn prune_audit(&self, _: DateTime<Utc>) -> Result<AuditPruned, StoreError> {
        unimplemented!()
    }
    async fn insert_webhook(
        &self,
        _: &lumio_store::WebhookRecord,
        _: &[AuditRecord],
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn webhooks(
        &self,
        _: Option<i64>,
    ) -> Result<Vec<lumio_store::WebhookRecord>, StoreError> {
        unimplemented!()
    }
    async fn remove_webhook(
        &self,
        _: i64,
        _: &str,
        _: DateTime<Utc>,
        _: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn reseal_webhook(
        &self,
        _: &str,
        _: &[u8],
        _: &[u8],
        _: &str,
    ) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn prune_webhook_deliveries(&self, _: DateTime<Utc>) -> Result<u64, StoreError> {
        unimplemented!()
    }
    async fn record_notice(
        &self,
        _: &lumio_store::DueNotice,
        _: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn take_lease(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn release_lease(&self, _: &str, _: &str) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn fan_out_events(&self, _: DateTime<Utc>) -> Result<u64, StoreError> {
        unimplemented!()
    }
    async fn due_deliveries(
        &self,
        _: DateTime<Utc>,
        _: i64,
        _: Option<&str>,
    ) -> Result<Vec<lumio_store::DueDelivery>, StoreError> {
        unimplemented!()
    }
    async fn record_attempt(
        &self,
        _: &lumio_store::AttemptResult,
        _: &[AuditRecord],
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn deliveries(
        &self,
        _: i64,
        _: bool,
        _: i64,
    ) -> Result<Vec<lumio_store::DeliveryRecord>, StoreError> {
        unimplemented!()
    }
    async fn redeliver(
        &self,
        _: i64,
        _: i64,
        _: DateTime<Utc>,
        _: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn seal_audit(&self, _: Option<i64>) -> Result<u64, StoreError> {
        Ok(0) // the fake seals nothing: the writer's idle tick finds nothing to do
    }
    fn set_audit_root(&self, _: lumio_core::AuditRootKey) {}
    async fn key_audit_chains(
        &self,
        _: &lumio_core::AuditRootKey,
    ) -> Result<Vec<(i64, ChainVerdict)>, StoreError> {
        unimplemented!()
    }
    async fn verify_audit(&self, _: i64) -> Result<ChainVerdict, StoreError> {
        unimplemented!()
    }
    async fn export_audit(&self, _: &ExportQuery) -> Result<Vec<ChainedEntry>, StoreError> {
        unimplemented!()
    }
    async fn meta_get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        unimplemented!()
    }
    async fn meta_put_if_absent(&self, _: &str, _: &[u8]) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn meta_replace(&self, _: &str, _: &[u8], _: &[u8]) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn insert_session(&self, _: &SessionRecord) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn find_session(
        &self,
        _: &[u8; 32],
        _: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        unimplemented!()
    }
    async fn delete_session(&self, _: &[u8; 32]) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn delete_expired_sessions(&self, _: DateTime<Utc>) -> Result<u64, StoreError> {
        unimplemented!()
    }
    async fn set_session_flash(&self, _: &[u8; 32], _: &str) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn take_session_flash(&self, _: &[u8; 32], _: &str) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn versions_not_under(
        &self,
        _: &str,
        _: Option<&VersionKey>,
        _: i64,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        unimplemented!()
    }
    async fn apply_reseals(&self, _: &[Resealed]) -> Result<u64, StoreError> {
        unimplemented!()
    }
    async fn create_extension(
        &self,
        _: &ExtensionSlug,
        _: lumio_store::RecordsOf<'_, Extension>,
    ) -> Result<Extension, StoreError> {
        unimplemented!()
    }
    async fn insert_claim(
        &self,
        _: &lumio_store::ClaimRecord,
        _: &[AuditRecord],
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn claim_extension_id(&self, _: &[u8; 32]) -> Result<Option<i64>, StoreError> {
        unimplemented!()
    }
    async fn redeem_claim(
        &self,
        _: &[u8; 32],
        _: &TokenRecord,
        _: lumio_store::RecordsOf<'_, Extension>,
    ) -> Result<lumio_store::ClaimOutcome, StoreError> {
        unimplemented!()
    }
    async fn set_suspended(
        &self,
        _: i64,
        _: Option<DateTime<Utc>>,
        _: &[AuditRecord],
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn delete_extension(&self, _: i64) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn insert_access_request(
        &self,
        _: &lumio_store::AccessRequest,
        _: &[AuditRecord],
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn access_requests(
        &self,
        _: lumio_store::AccessFilter<'_>,
    ) -> Result<Vec<lumio_store::AccessRequest>, StoreError> {
        unimplemented!()
    }
    async fn change_access_request(
        &self,
        _: &str,
        _: &lumio_store::AccessChange,
        _: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn find_extension(&self, _: &ExtensionSlug) -> Result<Option<Extension>, StoreError> {
        unimplemented!()
    }
    async fn list_extensions(&self) -> Result<Vec<Extension>, StoreError> {
        unimplemented!()
    }
    async fn write_versions(
        &self,
        _: i64,
        _: Environment,
        _: &[NewVersion],
        _: usize,
        _: &[AuditRecord],
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn head(
        &self,
        _: i64,
        _: Environment,
        _: &SecretName,
    ) -> Result<Option<SecretHead>, StoreError> {
        unimplemented!()
    }
    async fn heads(
        &self,
        _: i64,
        _: Environment,
        _: &[SecretName],
    ) -> Result<Vec<SecretHead>, StoreError> {
        unimplemented!()
    }
    async fn current(
        &self,
        _: i64,
        _: Environment,
        _: &SecretName,
    ) -> Result<Option<CurrentSecret>, StoreError> {
        unimplemented!()
    }
    async fn version(
        &self,
        _: i64,
        _: Environment,
        _: &SecretName,
        _: i64,
    ) -> Result<Option<SealedVersion>, StoreError> {
        unimplemented!()
    }
    async fn list_live(&self, _: i64, _: Environment) -> Result<Vec<SecretHead>, StoreError> {
        unimplemented!()
    }
    async fn history(
        &self,
        _: i64,
        _: Environment,
        _: &SecretName,
    ) -> Result<Vec<VersionInfo>, StoreError> {
        unimplemented!()
    }
    async fn delete_secret(
        &self,
        _: i64,
        _: Environment,
        _: &SecretName,
        _: &str,
        _: bool,
        _: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn set_binding(
        &self,
        _: i64,
        _: Environment,
        _: &SecretName,
        _: Option<&lumio_core::AllowedHosts>,
        _: &str,
        _: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn set_due_dates(
        &self,
        _: i64,
        _: Environment,
        _: &SecretName,
        _: &lumio_store::DueDatesChange,
        _: &str,
        _: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        unimplemented!()
    }
    async fn due_dates_all(&self) -> Result<Vec<lumio_store::DueSecret>, StoreError> {
        unimplemented!()
    }
    async fn insert_deployment(
        &self,
        _: i64,
        _: Environment,
        _: &str,
        _: &[String],
        _: &str,
        _: lumio_store::RecordsOf<'_, lumio_store::DeploymentRecord>,
    ) -> Result<lumio_store::DeploymentRecord, StoreError> {
        unimplemented!()
    }
    async fn list_deployments(
        &self,
        _: i64,
        _: Environment,
        _: i64,
    ) -> Result<Vec<lumio_store::DeploymentRecord>, StoreError> {
        unimplemented!()
    }
    async fn insert_token(&self, _: &TokenRecord, _: &[AuditRecord]) -> Result<(), StoreError> {
        unimplemented!()
    }
    async fn find_token(&self, _: &str) -> Result<Option<TokenRecord>, StoreError> {
        unimplemented!()
    }
    async fn count_tokens(&self) -> Result<i64, StoreError> {
        unimplemented!()
    }
    async fn list_tokens(&self, _: Option<i64>) -> Result<Vec<TokenRecord>, StoreError> {
        unimplemented!()
    }
    async fn revoke_token(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: &[AuditRecord],
    ) -> Result<lumio_store::Revocation, StoreError> {
        unimplemented!()
    }
    async fn touch_token(&self, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        unimplemented!()
    }
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        unimplemented!()
    }
}

#[tokio::test]
async fn record_fails_fast_when_the_queue_is_full() {
    // A store that never answers: the writer holds its first batch, the queue fills up.
    let store = Arc::new(FakeStore::gated());
    let config = AuditConfig {
        queue_capacity: 2,
        ..AuditConfig::default()
    };
    let writer = AuditWriter::spawn(store, config);
    let mut queued = 0;
    while writer.try_enqueue(record(queued)).is_ok() {
        queued += 1;
        assert!(queued < 10, "the queue never filled");
        tokio::task::yield_now().await;
    }
    let answer = tokio::time::timeout(Duration::from_secs(5), writer.record(record(99))).await;
    let err = answer
        .expect("record waited for room in a full queue")
        .unwrap_err();
    assert!(err.cause().contains("queue is full"), "{err}");
}

/// Issue 11, item 4: a management change's record, written unsealed in the change's own
/// transaction, is sealed into the chain by the writer's idle tick, with no batch to
/// carry it.
#[tokio::test]
async fn the_idle_tick_seals_management_records() {
    let dir = std::env::temp_dir().join(format!(
        "lumio-audit-seal-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = lumio_store::connect(&lumio_store::testing::sqlite_url(&dir))
        .await
        .unwrap();
    store.set_audit_root(lumio_core::AuditRootKey::from_bytes([7; 32]));
    let slug = ExtensionSlug::parse("sealed").unwrap();
    let change = |ext: &Extension| {
        vec![AuditRecord {
            extension_id: ext.id,
            event: lumio_core::AuditEvent::ExtensionCreate,
            environment: None,
            ..record(0)
        }]
    };
    let ext = store.create_extension(&slug, &change).await.unwrap();
    let config = AuditConfig {
        seal_every: Duration::from_millis(50),
        ..AuditConfig::default()
    };
    let writer = AuditWriter::spawn(store.clone(), config);
    let query = ExportQuery {
        extension_id: ext.id,
        since: None,
        after_id: None,
        limit: 10,
    };
    let mut sealed = false;
    for _ in 0..100 {
        let rows = store.export_audit(&query).await.unwrap();
        if rows.len() == 1 && rows[0].seq == Some(1) && rows[0].hash.is_some() {
            sealed = true;
            break;
        }
        sleep(Duration::from_millis(20)).await;
    }
    assert!(sealed, "the writer never sealed the change's record");
    assert!(matches!(
        store.verify_audit(ext.id).await.unwrap(),
        ChainVerdict::Intact { records: 1, .. }
    ));
    writer.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
