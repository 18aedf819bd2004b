//! `lumio dev`'s eye on `server/`: the size and modification time of every `.ts` file,
//! polled. Polling needs no platform watcher (and no dependency for one) and sees edits on
//! network and container mounts that inotify misses; a project's `server/` is small.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How often `server/` is looked at.
pub const POLL: Duration = Duration::from_millis(150);
/// How long the files must stay unchanged before a deploy: an editor's save (write,
/// rename, a formatter's rewrite) and a `git checkout` become one deploy.
pub const SETTLE: Duration = Duration::from_millis(300);

/// What was seen of the `.ts` files under `server/` (`.d.ts` too: they change the type
/// check), skipping `node_modules` and dot-directories as `lumio deploy` does.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<PathBuf, (u64, Option<SystemTime>)>);

impl Snapshot {
    /// The files under `dir/server` now (none if it does not exist yet).
    pub fn take(dir: &Path) -> Self {
        let mut files = BTreeMap::new();
        walk(&dir.join("server"), &mut files);
        Self(files)
    }
}

fn walk(dir: &Path, files: &mut BTreeMap<PathBuf, (u64, Option<SystemTime>)>) {
    // A directory removed or renamed mid-walk is simply not there this time.
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if name != "node_modules" {
                walk(&path, files);
            }
        } else if name.ends_with(".ts") {
            // Through a link, as `lumio deploy` reads it.
            if let Ok(meta) = fs::metadata(&path) {
                files.insert(path, (meta.len(), meta.modified().ok()));
            }
        }
    }
}

/// Watches `dir/server` from `seen` on: [`Watch::next`] returns once the files changed and
/// then stayed unchanged for [`SETTLE`].
pub struct Watch<'a> {
    dir: &'a Path,
    seen: Snapshot,
}

impl<'a> Watch<'a> {
    /// Starts from the files as they are now.
    pub fn new(dir: &'a Path) -> Self {
        Self {
            dir,
            seen: Snapshot::take(dir),
        }
    }

    /// Waits for a settled change, calling `wait(POLL)` between looks; `wait` returning
    /// `false` (Ctrl-C) ends the watch with `false`.
    pub fn next(&mut self, mut wait: impl FnMut(Duration) -> bool) -> bool {
        let mut changed_at: Option<Instant> = None;
        loop {
            if !wait(POLL) {
                return false;
            }
            let now = Snapshot::take(self.dir);
            if now != self.seen {
                self.seen = now;
                changed_at = Some(Instant::now());
            } else if changed_at.is_some_and(|at| at.elapsed() >= SETTLE) {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_ts_files_only_and_their_changes() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        assert_eq!(Snapshot::take(dir), Snapshot::default());
        fs::create_dir_all(dir.join("server/lib")).unwrap();
        fs::create_dir_all(dir.join("server/node_modules")).unwrap();
        fs::write(dir.join("server/lib/a.ts"), "1").unwrap();
        fs::write(dir.join("server/types.d.ts"), "1").unwrap();
        fs::write(dir.join("server/notes.md"), "1").unwrap();
        fs::write(dir.join("server/node_modules/x.ts"), "1").unwrap();
        let first = Snapshot::take(dir);
        assert_eq!(first.0.len(), 2, "{first:?}");
        fs::write(dir.join("server/lib/a.ts"), "22").unwrap();
        assert_ne!(Snapshot::take(dir), first);
    }

    #[test]
    fn a_change_is_reported_once_it_settles_and_ctrl_c_ends_the_watch() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        fs::create_dir_all(dir.join("server")).unwrap();
        let mut watch = Watch::new(dir);
        let mut looks = 0;
        let changed = watch.next(|pause| {
            looks += 1;
            if looks == 2 {
                fs::write(dir.join("server/a.ts"), "export {};").unwrap();
            }
            std::thread::sleep(pause);
            looks < 100
        });
        assert!(changed);
        // Settling takes at least SETTLE / POLL further looks.
        assert!(looks > 2 + (SETTLE.as_millis() / POLL.as_millis()) as usize - 1);
        assert!(!watch.next(|_| false));
    }
}
