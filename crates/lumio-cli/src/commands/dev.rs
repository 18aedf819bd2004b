//! `lumio dev [DIR]`: the developer's loop on staging. Deploys at start and whenever the
//! `.ts` files under `server/` change (type-checked first when the project has
//! TypeScript), and follows staging's logs meanwhile. A broken save prints its error and
//! the loop goes on; staging keeps running the last good deployment. Ctrl-C ends it (exit 0).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use lumio_api::actions::DeploymentList;
use lumio_api::ErrorCode;
use lumio_core::Environment;

use super::dev_watch::Watch;
use super::logs::{self, Filter};
use super::typecheck::{self, Tsc};
use super::{deploy, Scoped};
use crate::cli::DevArgs;
use crate::config;
use crate::error::{self, CliError, Failure};
use crate::output;

pub fn run(args: DevArgs) -> anyhow::Result<()> {
    refuse_other_modes(&args)?;
    // Deploy lines and log lines stream from two threads: no spinner between them.
    crate::progress::silence();
    let scope = Scoped::resolve_in(&args.common, Some(&args.dir))?;
    // Before the first request: from here on Ctrl-C ends the loop instead of the process.
    let interrupted = ctrl_c()?;
    let place = scope.place();
    // Also checks the token and the extension: without them there is nothing to develop.
    let listed: DeploymentList = scope.client.get(&scope.api().deployments())?;
    let mut dev = Dev {
        last_good: listed.deployments.first().map(|d| d.version),
        scope,
        dir: &args.dir,
        typecheck: !args.no_typecheck,
    };
    output::line(format!(
        "Developing {place} from {}: deploying now and on every save of server/**/*.ts \
         (Ctrl-C stops)",
        args.dir.display()
    ))?;
    output::note(dev.typecheck_note());
    follow_logs(Scoped::resolve_in(&args.common, Some(&args.dir))?);
    // Taken before the first deploy, so a save during it is deployed next.
    let mut watch = Watch::new(&args.dir);
    dev.round();
    while watch.next(|pause| !interrupted_within(&interrupted, pause)) {
        dev.round();
    }
    output::note("Stopped.");
    Ok(())
}

/// `lumio dev` is for people, on staging.
fn refuse_other_modes(args: &DevArgs) -> anyhow::Result<()> {
    if args.common.json {
        return Err(
            CliError::usage("`lumio dev` prints for people and has no --json")
                .with_hint("scripts use `lumio deploy --json` and `lumio logs --json`")
                .into(),
        );
    }
    if config::explicit_environment(&args.common)? == Some(Environment::Production) {
        return Err(CliError::usage("`lumio dev` deploys to staging only")
            .with_hint(
                "once staging works, deploy to production with `lumio deploy --env production`",
            )
            .into());
    }
    Ok(())
}

/// The loop's state between saves.
struct Dev<'a> {
    scope: Scoped,
    dir: &'a Path,
    typecheck: bool,
    /// The version staging runs: the last deploy that succeeded.
    last_good: Option<i64>,
}

impl Dev<'_> {
    fn typecheck_note(&self) -> String {
        match (self.typecheck, Tsc::find(self.dir)) {
            (false, _) => "Deploying without a type check (--no-typecheck).".to_owned(),
            (true, Some(_)) => "Type-checking with the project's TypeScript before each deploy \
                 (--no-typecheck skips it)."
                .to_owned(),
            (true, None) => "TypeScript is not installed here, so saves are deployed without \
                             a type check; run `npm install --save-dev typescript` to check them."
                .to_owned(),
        }
    }

    /// One deploy: type check (when TypeScript is installed), upload, and what came of it.
    /// Every failure is printed, never returned: the loop goes on.
    fn round(&mut self) {
        if let Err(err) = self.try_round() {
            // Ctrl-C on a terminal reaches tsc too: its death is no error of the code.
            if !INTERRUPTED.load(Ordering::Relaxed) {
                error::report(&self.with_hint(err), false);
            }
        }
    }

    fn try_round(&mut self) -> anyhow::Result<()> {
        let place = self.scope.place();
        if self.typecheck {
            // Looked for at every save: installing TypeScript mid-session turns it on.
            if let Some(tsc) = Tsc::find(self.dir) {
                if let Some(errors) = tsc.check(self.dir)? {
                    output::note(&errors);
                    return Err(typecheck::failed(&errors).into());
                }
            }
        }
        let answer = deploy::upload(&self.scope, self.dir)?;
        self.last_good = Some(answer.version);
        for line in deploy::summary(&answer, &place) {
            output::line(line)?;
        }
        deploy::warn_missing(&answer, &place);
        Ok(())
    }

    /// A failed save's hint says what staging runs meanwhile; other hints (the server is
    /// down, the token expired) stay.
    fn with_hint(&self, err: anyhow::Error) -> anyhow::Error {
        let running = match self.last_good {
            Some(version) => format!("{} still runs version {version}", self.scope.place()),
            None => format!("nothing is deployed to {} yet", self.scope.place()),
        };
        match err.downcast::<CliError>() {
            Ok(mut cli) if broken_code(&cli) => {
                cli.hint = Some(format!("fix it and save again; {running}"));
                cli.into()
            }
            Ok(cli) => cli.into(),
            Err(err) => err,
        }
    }
}

/// A failure of the code itself (compile error, refused grant, type error, nothing to
/// upload), as opposed to one of the connection.
fn broken_code(cli: &CliError) -> bool {
    cli.code == Some(ErrorCode::DeployError)
        || (cli.code.is_none() && cli.failure == Failure::General)
}

/// Prints each new invocation of the scope's environment, as `lumio logs --follow` does
/// (console output masked by the server, secret reads by name and outcome), from a
/// thread of its own. A failed request (the server restarting) is said once, and the
/// follow starts again.
fn follow_logs(scope: Scoped) {
    const RETRY: Duration = Duration::from_secs(2);
    std::thread::spawn(move || {
        let mut failing = false;
        loop {
            let followed = logs::follow(&scope, &Filter::default(), |invocation| {
                failing = false;
                output::line(logs::render_invocation(invocation).trim_end())
            });
            let Err(err) = followed else { continue };
            if error::is_broken_pipe(&err) {
                return;
            }
            if !failing {
                output::note(format!("cannot follow the logs: {err:#}; trying again"));
                failing = true;
            }
            std::thread::sleep(RETRY);
        }
    });
}

/// Whether Ctrl-C came within `pause`.
fn interrupted_within(interrupted: &Receiver<()>, pause: Duration) -> bool {
    match interrupted.recv_timeout(pause) {
        Ok(()) => true,
        Err(RecvTimeoutError::Timeout) => false,
        // The listener is gone (it cannot be, short of a panic): keep pacing the loop.
        Err(RecvTimeoutError::Disconnected) => {
            std::thread::sleep(pause);
            false
        }
    }
}

/// Set at the first Ctrl-C, before its message is sent.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A message on the returned channel for every Ctrl-C (SIGINT), which no longer ends the
/// process: the loop ends between deploys and the command exits 0. The handler is in
/// place when this returns.
fn ctrl_c() -> anyhow::Result<Receiver<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (tx, rx) = mpsc::channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut sigint = {
            let _inside = runtime.enter();
            signal(SignalKind::interrupt())?
        };
        std::thread::spawn(move || {
            runtime.block_on(async move {
                while sigint.recv().await.is_some() {
                    INTERRUPTED.store(true, Ordering::Relaxed);
                    if tx.send(()).is_err() {
                        break;
                    }
                }
            })
        });
    }
    #[cfg(not(unix))]
    std::thread::spawn(move || {
        runtime.block_on(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                INTERRUPTED.store(true, Ordering::Relaxed);
                if tx.send(()).is_err() {
                    break;
                }
            }
        })
    });
    Ok(rx)
}
