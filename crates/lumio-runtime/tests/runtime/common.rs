//! Test helpers: an in-memory [`Host`], runtimes, and HTTP(S) servers on loopback.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use lumio_core::{AllowedHosts, CurrentValue, SecretName, SecretValue};
use lumio_core::{AuditUnavailable, Ticket};
use lumio_runtime::{
    compile, Denials, Deployment, Host, HostError, Invocation, Runtime, RuntimeLimits,
    RuntimeOptions, SecretReads,
};
use serde_json::{json, Value};

/// Secrets in a map; every get is "audited" with an increasing ticket.
#[derive(Default)]
pub struct TestHost {
    secrets: Mutex<HashMap<String, CurrentValue>>,
    next_ticket: AtomicU64,
    /// Names read, in order, with whether they were found.
    pub reads: Mutex<Vec<(String, bool)>>,
    /// The `secret.get` records the runtime asked for.
    pub recorded: Mutex<Vec<SecretReads>>,
    /// The `secret.denied` records: the name asked for and the action's grants.
    pub denied: Mutex<Vec<(String, Vec<String>)>>,
    /// Per `secret.denied` record, the number of calls it stands for (in `denied`'s order).
    pub denied_counts: Mutex<Vec<u32>>,
    /// The further-names records: how many names past the first 16 were refused.
    pub denied_further: Mutex<Vec<u32>>,
    /// The `egress.blocked` records: the secret and the refused host.
    pub egress_blocked: Mutex<Vec<(String, String)>>,
    /// When set, `audit_durable` fails (the audit store is down).
    pub audit_down: AtomicBool,
    /// Highest ticket confirmed durable.
    pub durable: AtomicU64,
    pub durable_calls: AtomicUsize,
    /// When set, `audit_durable` waits until it is cleared (a slow audit store).
    pub audit_held: AtomicBool,
    audit_released: tokio::sync::Notify,
}

impl TestHost {
    pub fn with(secrets: &[(&str, &str)]) -> Arc<Self> {
        let host = Self::default();
        for (name, value) in secrets {
            host.set(name, value);
        }
        Arc::new(host)
    }

    /// Lets every held `audit_durable` call go on (to succeed or, with `audit_down`, fail).
    pub fn release_audit(&self) {
        self.audit_held.store(false, Ordering::SeqCst);
        self.audit_released.notify_waiters();
    }

    pub fn set(&self, name: &str, value: &str) {
        self.set_bound(name, value, &[]);
    }

    /// Deletes a secret.
    pub fn secrets_remove(&self, name: &str) {
        self.secrets.lock().unwrap().remove(name);
    }

    /// Sets a secret bound to `hosts` (none: unbound).
    pub fn set_bound(&self, name: &str, value: &str, hosts: &[&str]) {
        let current = CurrentValue {
            value: Arc::new(SecretValue::new(value.to_owned()).unwrap()),
            allowed_hosts: (!hosts.is_empty())
                .then(|| Arc::new(AllowedHosts::parse(hosts).unwrap())),
            expires_at: None,
        };
        self.secrets
            .lock()
            .unwrap()
            .insert(name.to_owned(), current);
    }
}

#[async_trait]
impl Host for TestHost {
    fn secret_get(&self, name: &SecretName) -> Result<Option<CurrentValue>, HostError> {
        let value = self.secrets.lock().unwrap().get(name.as_str()).cloned();
        self.reads
            .lock()
            .unwrap()
            .push((name.as_str().to_owned(), value.is_some()));
        Ok(value)
    }

    fn record_reads(&self, reads: &[SecretReads]) -> Result<Option<Ticket>, HostError> {
        self.recorded.lock().unwrap().extend(reads.iter().cloned());
        let n = reads.len() as u64;
        Ok((n > 0).then(|| Ticket(self.next_ticket.fetch_add(n, Ordering::SeqCst) + n)))
    }

    fn record_denied(&self, denials: &Denials<'_>) -> Result<Option<Ticket>, HostError> {
        let grants: Vec<String> = denials
            .grants
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect();
        let mut records = 0;
        for denied in &denials.names {
            self.denied
                .lock()
                .unwrap()
                .push((denied.name.as_str().to_owned(), grants.clone()));
            self.denied_counts.lock().unwrap().push(denied.count);
            records += 1;
        }
        if denials.further_names > 0 {
            self.denied_further
                .lock()
                .unwrap()
                .push(denials.further_names);
            records += 1;
        }
        Ok((records > 0)
            .then(|| Ticket(self.next_ticket.fetch_add(records, Ordering::SeqCst) + records)))
    }

    fn record_egress_blocked(&self, name: &SecretName, host: &str) -> Result<Ticket, HostError> {
        self.egress_blocked
            .lock()
            .unwrap()
            .push((name.as_str().to_owned(), host.to_owned()));
        Ok(Ticket(self.next_ticket.fetch_add(1, Ordering::SeqCst) + 1))
    }

    async fn audit_durable(&self, up_to: Ticket) -> Result<(), HostError> {
        self.durable_calls.fetch_add(1, Ordering::SeqCst);
        loop {
            let released = self.audit_released.notified();
            if !self.audit_held.load(Ordering::SeqCst) {
                break;
            }
            released.await;
        }
        if self.audit_down.load(Ordering::SeqCst) {
            return Err(AuditUnavailable("disk full".into()).into());
        }
        self.durable.fetch_max(up_to.0, Ordering::SeqCst);
        Ok(())
    }
}

pub fn limits() -> RuntimeLimits {
    RuntimeLimits {
        allow_private_fetch: true,
        ..RuntimeLimits::default()
    }
}

pub fn runtime(limits: RuntimeLimits) -> Runtime {
    Runtime::with_options(RuntimeOptions {
        limits,
        workers: 2,
        ..RuntimeOptions::default()
    })
    .unwrap()
}

/// Compiles a one-file extension `server/functions.ts`.
pub fn deploy(source: &str) -> Arc<Deployment> {
    deploy_files(&[("server/functions.ts", source)])
}

pub fn deploy_files(files: &[(&str, &str)]) -> Arc<Deployment> {
    let files: BTreeMap<String, String> = files
        .iter()
        .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
        .collect();
    Arc::new(compile(files).unwrap_or_else(|e| panic!("deploy failed: {e}")))
}

pub async fn run(
    rt: &Runtime,
    dep: &Arc<Deployment>,
    action: &str,
    args: Value,
    host: &Arc<TestHost>,
) -> Invocation {
    run_as(rt, "test", dep, action, args, host).await
}

/// As [`run`], for the extension `tenant`.
pub async fn run_as(
    rt: &Runtime,
    tenant: &str,
    dep: &Arc<Deployment>,
    action: &str,
    args: Value,
    host: &Arc<TestHost>,
) -> Invocation {
    rt.invoke(tenant, dep.clone(), action, args, host.clone())
        .await
}

/// An action's body as `server/functions.ts` exporting `test`.
pub fn action_src(args: &str, body: &str) -> String {
    format!(
        "import {{ action, v }} from \"@zaflun/lumio-sdk/server\";\nexport const test = action({{ args: {{ {args} }}, handler: async (ctx: any, args: any) => {{\n{body}\n}} }});\n"
    )
}

/// What the fake API saw.
#[derive(Default)]
pub struct Seen {
    pub requests: AtomicUsize,
    pub authorizations: Mutex<Vec<String>>,
}

fn api(seen: Arc<Seen>, key: &'static str) -> Router {
    async fn check(
        seen: &Seen,
        headers: &HeaderMap,
        key: &str,
    ) -> Result<(), (StatusCode, Json<Value>)> {
        seen.requests.fetch_add(1, Ordering::SeqCst);
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        seen.authorizations.lock().unwrap().push(auth.clone());
        if auth != format!("Bearer {key}") {
            return Err((
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "bad key" })),
            ));
        }
        Ok(())
    }
    Router::new()
        .route(
            "/search",
            post(
                |State((seen, key)): State<(Arc<Seen>, &'static str)>,
                 headers: HeaderMap,
                 Json(body): Json<Value>| async move {
                    check(&seen, &headers, key).await?;
                    Ok::<_, (StatusCode, Json<Value>)>(Json(
                        json!({ "results": ["a", "b"], "query": body["query"] }),
                    ))
                },
            ),
        )
        .route(
            "/{path}",
            get(
                |State((seen, key)): State<(Arc<Seen>, &'static str)>,
                 headers: HeaderMap,
                 Path(path): Path<String>| async move {
                    check(&seen, &headers, key).await?;
                    Ok::<_, (StatusCode, Json<Value>)>(Json(json!({ "path": path })))
                },
            ),
        )
        .route("/big", get(|| async { "x".repeat(64 * 1024) }))
        .with_state((seen, key))
}

/// A plain-HTTP fake API on loopback that wants `Authorization: Bearer <key>`.
pub async fn http_api(key: &'static str) -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = api(seen.clone(), key);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// The fake API over TLS as `api.example.com` (self-signed), and a runtime that resolves
/// that name to it and trusts its certificate: the seed's URLs run unchanged.
pub async fn seed_api(key: &'static str, limits: RuntimeLimits) -> (Runtime, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let cert = rcgen::generate_simple_self_signed(vec!["api.example.com".to_owned()]).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = api(seen.clone(), key);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let io = hyper_util::rt::TokioIo::new(tls);
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(io, service)
                .await;
            });
        }
    });
    let rt = Runtime::with_options(RuntimeOptions {
        limits,
        workers: 2,
        fetch_resolve: vec![("api.example.com".to_owned(), addr)],
        fetch_root_certificates_pem: vec![cert.cert.pem().into_bytes()],
        ..RuntimeOptions::default()
    })
    .unwrap();
    (rt, seen)
}

/// A loopback API whose answers wait for the test: every request is counted as it
/// arrives and answered only after [`HeldApi::release`] (or after `delay`, if given).
pub struct HeldApi {
    pub addr: SocketAddr,
    pub arrived: Arc<AtomicUsize>,
    release: Arc<tokio::sync::watch::Sender<bool>>,
}

impl HeldApi {
    pub async fn start(delay: Option<std::time::Duration>) -> Self {
        let arrived = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let state = (arrived.clone(), released);
        let app = Router::new()
            .route(
                "/{*path}",
                get(
                    move |State((arrived, mut released)): State<(
                        Arc<AtomicUsize>,
                        tokio::sync::watch::Receiver<bool>,
                    )>,
                          Path(path): Path<String>| async move {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        match delay {
                            Some(delay) => tokio::time::sleep(delay).await,
                            None => {
                                let _ = released.wait_for(|r| *r).await;
                            }
                        }
                        Json(json!({ "path": path }))
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            arrived,
            release: Arc::new(release),
        }
    }

    pub fn release(&self) {
        let _ = self.release.send(true);
    }

    /// Waits until `n` requests have arrived (all of them in flight at once).
    pub async fn wait_for_arrivals(&self, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.arrived.load(Ordering::SeqCst) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {n} requests arrived",
                self.arrived.load(Ordering::SeqCst)
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
