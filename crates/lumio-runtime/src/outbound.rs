//! `ctx.fetch`'s address rules for the server's own requests (webhook deliveries): http
//! or https only, and no private, loopback or link-local address unless the server allows
//! private fetches; the check runs in the resolver the connection uses, as for fetch.

use std::time::Duration;

use reqwest::{redirect::Policy, Url};

use crate::fetch::{check_url, classify, guarded_resolver, FetchError};

/// Most bytes of an answer read (and thrown away) before the connection is let go.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// An HTTP client bound by the fetch address rules that follows no redirect.
#[derive(Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
}

impl GuardedClient {
    pub fn new(
        allow_private: bool,
        timeout: Duration,
        user_agent: &str,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .no_proxy()
            .dns_resolver(guarded_resolver(allow_private))
            // A redirect would send the signed body somewhere its owner did not name.
            .redirect(Policy::none())
            .build()?;
        Ok(Self {
            client,
            allow_private,
            timeout,
        })
    }

    /// The URL, if its scheme and (literal) address are allowed; why not otherwise.
    pub fn check(&self, url: &str) -> Result<Url, String> {
        let parsed = Url::parse(url).map_err(|e| {
            format!("not an absolute URL ({e}); use e.g. https://example.com/hooks")
        })?;
        check_url(&parsed, self.allow_private).map_err(|why| plain(&why))?;
        Ok(parsed)
    }

    /// Whether something answers TCP at the URL's host and port, through the same
    /// resolver (a name resolving only to private addresses is refused here).
    pub async fn reachable(&self, url: &Url) -> Result<(), String> {
        let head = self
            .client
            .head(url.clone())
            .timeout(self.timeout.min(Duration::from_secs(5)))
            .send()
            .await;
        match head {
            // Any answer at all means something listens there.
            Ok(_) => Ok(()),
            Err(err) => Err(words(classify(err, &place(url)))),
        }
    }

    /// POSTs `body` with `headers`; the answer's status, or why there was none.
    pub async fn post(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<u16, String> {
        let mut request = self
            .client
            .post(url.clone())
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let host = place(url);
        let mut response = request
            .send()
            .await
            .map_err(|err| words(classify(err, &host)))?;
        let status = response.status().as_u16();
        let mut read = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read > MAX_ANSWER_BYTES {
                break;
            }
        }
        Ok(status)
    }
}

fn place(url: &Url) -> String {
    let host = url.host_str().unwrap_or("(no host)");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Fetch's wording, about a request that is not `ctx.fetch`.
fn plain(message: &str) -> String {
    message.replacen("ctx.fetch refused: ", "refused: ", 1)
}

fn words(error: FetchError) -> String {
    match error {
        FetchError::Refused(m) => plain(&m),
        FetchError::Failed(m) => m.replacen("ctx.fetch to ", "the request to ", 1),
        FetchError::Egress(blocked) => blocked.to_string(),
    }
}
