//! A server whose clock the test moves, for what happens with time (due dates): the real
//! server in this process through `lumio-test-support` (a `lumio server` process has no
//! way to set its clock), driven by the real `lumio` binary through [`Shell`]s.

use std::time::Duration;

use lumio_test_support::{spawn_app, Backend, TestApp};
use tempfile::TempDir;

use super::server::Shell;

pub struct ClockedServer {
    pub app: TestApp,
    /// Runs the server's tasks while the test waits on `lumio` processes.
    runtime: tokio::runtime::Runtime,
}

impl ClockedServer {
    /// `None` when PostgreSQL is wanted but not available (the skip was announced).
    pub fn start(db: Backend) -> Option<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = runtime.block_on(spawn_app(db))?;
        Some(Self { app, runtime })
    }

    /// A shell holding the admin token.
    pub fn admin(&self) -> Shell {
        self.shell(&self.app.admin_token)
    }

    pub fn shell(&self, token: &str) -> Shell {
        let home = TempDir::new().unwrap();
        let cwd = home.path().to_path_buf();
        Shell {
            url: self.app.url.clone(),
            token: Some(token.to_owned()),
            home,
            cwd,
        }
    }

    /// Moves the server's clock `days` ahead.
    pub fn advance_days(&self, days: u64) {
        self.app.clock.advance(Duration::from_secs(days * 86_400));
    }

    /// Now, by the server's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.app.service().now()
    }

    /// Runs `f` on the server's runtime (its async helpers).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

impl Drop for ClockedServer {
    fn drop(&mut self) {
        self.runtime.block_on(self.app.stop());
    }
}
