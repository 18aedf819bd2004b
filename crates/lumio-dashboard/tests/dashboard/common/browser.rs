//! A real headless Chromium (Debian's `chromium` and `chromium-driver`) driven through
//! chromedriver over WebDriver. Missing binaries skip loudly, or fail with
//! `LUMIO_REQUIRE_BROWSER=1` or `LUMIO_REQUIRE=1` (as CI sets).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tempfile::TempDir;

pub struct Browser {
    pub client: Client,
    driver: Child,
    closed: bool,
    _profile: TempDir,
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Launches chromedriver and a headless Chromium; `None` (after a loud warning) when they
/// are not installed and `LUMIO_REQUIRE_BROWSER` is not `1`.
pub async fn launch() -> Option<Browser> {
    let chromium = std::env::var_os("LUMIO_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]));
    let driver = std::env::var_os("LUMIO_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| find(&["/usr/bin/chromedriver"]));
    let (chromium, driver) = match (chromium, driver) {
        (Some(c), Some(d)) => (c, d),
        _ => {
            let why = "chromium and chromedriver are not installed \
                       (apt-get install -y chromium chromium-driver)";
            lumio_store::testing::skip_unless_required(why, Some("LUMIO_REQUIRE_BROWSER"));
            return None;
        }
    };
    Some(start(&chromium, &driver).await)
}

async fn start(chromium: &Path, driver_bin: &Path) -> Browser {
    let port = free_port();
    let driver = Command::new(driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().expect("profile dir");
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1280,900",
        &format!("--user-data-dir={}", profile.path().display()),
    ];
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => break client,
            Err(err) if Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("cannot start a Chromium session through chromedriver: {err}"),
        }
    };
    Browser {
        client,
        driver,
        closed: false,
        _profile: profile,
    }
}

impl Browser {
    /// Ends the browser session (Chromium exits) and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        self.closed = true;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Marks the current document, so [`Browser::wait_for_new_page`] can tell when the
    /// next one has replaced it.
    async fn mark_page(&self) {
        self.eval("document.documentElement.dataset.stale = '1'; return null")
            .await;
    }

    /// Waits until a new document has fully loaded (a click on a link or a submit button
    /// may return before the navigation it starts has finished).
    async fn wait_for_new_page(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = self
                .client
                .execute(
                    "return !document.documentElement.dataset.stale && document.readyState === 'complete'",
                    Vec::new(),
                )
                .await
                .map(|v| v == serde_json::Value::Bool(true))
                .unwrap_or(false);
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "no new page after 15 s");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Clicks something that navigates (a link, a submit button) and waits for the page.
    pub async fn click(&self, css: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no element {css}: {err}"));
        self.mark_page().await;
        element
            .click()
            .await
            .unwrap_or_else(|err| panic!("cannot click {css}: {err}"));
        self.wait_for_new_page().await;
    }

    /// Clicks something that changes the page in place (a `<summary>`).
    pub async fn toggle(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no element {css}: {err}"))
            .click()
            .await
            .unwrap_or_else(|err| panic!("cannot click {css}: {err}"));
    }

    /// Follows the link with this text and waits for the page.
    pub async fn click_link(&self, text: &str) {
        let link = self
            .client
            .find(Locator::LinkText(text))
            .await
            .unwrap_or_else(|err| panic!("no link {text:?}: {err}"));
        self.mark_page().await;
        link.click().await.unwrap();
        self.wait_for_new_page().await;
    }

    /// Reloads the page and waits for it.
    pub async fn reload(&self) {
        self.mark_page().await;
        self.client.refresh().await.unwrap();
        self.wait_for_new_page().await;
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no field {css}: {err}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no element {css}: {err}"))
            .text()
            .await
            .unwrap()
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// Runs a script in the page (WebDriver scripts are not subject to the page's CSP).
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failing test never reaches `close`: end the session (so Chromium exits) from a
        // helper thread, since `drop` cannot await, then stop chromedriver.
        if !self.closed {
            let client = self.client.clone();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
                });
            })
            .join();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Writes one of the docs' screenshots (`docs/<name>`), only when `LUMIO_UPDATE_DOCS=1`:
/// a plain test run leaves the checkout as it found it.
pub async fn docs_screenshot(browser: &Browser, name: &str) {
    if std::env::var_os("LUMIO_UPDATE_DOCS").is_none_or(|v| v != "1") {
        return;
    }
    let png = browser.client.screenshot().await.unwrap();
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    std::fs::write(docs.join(name), png).unwrap();
}
