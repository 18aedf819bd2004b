//! The egress-binding check one `ctx.fetch` adds (target ≤ 5 µs): a realistic request —
//! four headers, a 1 KiB JSON body, a URL with a query — after three bound secrets were
//! read, allowed (the usual case: every form of every value searched, none refused) and
//! refused. The guard itself is built once per worker for the same values read, then
//! taken from the worker's cache; both are measured apart.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use lumio_core::{AllowedHosts, SecretName, SecretValue};
use lumio_runtime::egress_bench::{EgressGuard, GuardCache, Outgoing};
use reqwest::{Method, Url};

type Reads = (
    Vec<(SecretName, Arc<SecretValue>)>,
    Vec<(Arc<SecretValue>, Arc<AllowedHosts>)>,
);

fn reads() -> Reads {
    let mut reads = Vec::new();
    let mut bound = Vec::new();
    for (name, value, host) in [
        (
            "STRIPE_KEY",
            "sk_live_51HqLyjWDarjtT1zdp7dcXYZ",
            "api.stripe.com",
        ),
        (
            "GITHUB_TOKEN",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "api.github.com",
        ),
        (
            "SENDGRID_KEY",
            "SG.ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf",
            "*.sendgrid.net",
        ),
    ] {
        let value = Arc::new(SecretValue::new(value.to_owned()).unwrap());
        let hosts = Arc::new(AllowedHosts::parse([host]).unwrap());
        reads.push((SecretName::parse(name).unwrap(), value.clone()));
        bound.push((value, hosts));
    }
    (reads, bound)
}

fn request() -> (Vec<(String, String)>, String) {
    let headers = vec![
        (
            "Authorization".to_owned(),
            "Bearer sk_live_51HqLyjWDarjtT1zdp7dcXYZ".to_owned(),
        ),
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (
            "Idempotency-Key".to_owned(),
            "5f1c7a2e-8d9b-4c3a-9e6f-1b2d3c4e5f60".to_owned(),
        ),
        ("User-Agent".to_owned(), "acme-extension/1.4".to_owned()),
    ];
    let mut body = String::from("{\"amount\":2000,\"currency\":\"usd\",\"description\":\"");
    while body.len() < 1000 {
        body.push_str("order 1234 for a customer, ");
    }
    body.push_str("\"}");
    (headers, body)
}

fn egress(c: &mut Criterion) {
    let (reads, bound) = reads();
    let guard = Arc::new(EgressGuard::from_reads(&reads, &bound, "{\"query\":\"x\"}").unwrap());
    let (headers, body) = request();
    let allowed = Url::parse("https://api.stripe.com/v1/charges?expand[]=customer").unwrap();
    let refused = Url::parse("https://evil.example/v1/charges?expand[]=customer").unwrap();
    c.bench_function("egress check, 3 bound secrets, 1 KiB body, allowed", |b| {
        b.iter(|| {
            let out = Outgoing::new(guard.clone(), Method::POST, &headers, Some(&body));
            out.first(&allowed).unwrap();
        })
    });
    c.bench_function("egress check, 3 bound secrets, 1 KiB body, refused", |b| {
        b.iter(|| {
            let out = Outgoing::new(guard.clone(), Method::POST, &headers, Some(&body));
            out.first(&refused).unwrap_err();
        })
    });
    c.bench_function(
        "egress guard build, 3 bound secrets (first invocation with these values)",
        |b| b.iter(|| EgressGuard::from_reads(&reads, &bound, "{\"query\":\"x\"}").unwrap()),
    );
    let mut cache = GuardCache::default();
    c.bench_function(
        "egress guard from the worker's cache, 3 bound secrets (every later invocation)",
        |b| {
            b.iter(|| {
                let set = cache.set_for(&reads);
                EgressGuard::new(set, &bound, "{\"query\":\"x\"}").unwrap()
            })
        },
    );
}

criterion_group!(benches, egress);
criterion_main!(benches);
