//! A spinner on stderr while the CLI waits for the server, only when stderr is a terminal
//! (scripts and pipes see nothing). Quick calls never show it: it appears after
//! [`QUIET_FOR`], or at once for the long steps a command names (`deploy`, `import`).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const QUIET_FOR: Duration = Duration::from_millis(300);
const TICK: Duration = Duration::from_millis(80);

/// What the command is doing, when it is a long step worth naming from the start.
static STEP: Mutex<Option<&'static str>> = Mutex::new(None);

/// No spinner at all: set by commands that stream their output (`lumio dev`), where one
/// would be drawn over lines another thread prints, and around long polls.
static SILENT: AtomicBool = AtomicBool::new(false);

/// Turns the spinner off for the rest of the process.
pub fn silence() {
    SILENT.store(true, Ordering::Relaxed);
}

/// Names the command's long step ("deploying"): its requests show the spinner at once.
pub fn step(label: &'static str) {
    *STEP.lock().unwrap_or_else(|e| e.into_inner()) = Some(label);
}

/// Shows the spinner while it lives (from the moment it is due).
pub struct Waiting {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Waiting {
    pub fn start() -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let shown = std::io::stderr().is_terminal() && !SILENT.load(Ordering::Relaxed);
        let thread = shown.then(|| {
            let step = *STEP.lock().unwrap_or_else(|e| e.into_inner());
            let (label, delay) = match step {
                Some(label) => (label, Duration::ZERO),
                None => ("waiting for the Lumio server", QUIET_FOR),
            };
            let done = done.clone();
            std::thread::spawn(move || spin(&done, label, delay))
        });
        Self { done, thread }
    }
}

fn spin(done: &AtomicBool, label: &'static str, delay: Duration) {
    let due = Instant::now() + delay;
    while Instant::now() < due {
        if done.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(TICK.min(delay));
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}… {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(label);
    while !done.load(Ordering::Relaxed) {
        bar.tick();
        std::thread::sleep(TICK);
    }
    bar.finish_and_clear();
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
