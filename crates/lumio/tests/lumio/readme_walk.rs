//! Issue 24: the README walked top to bottom. Every command of every `sh` block from
//! "First steps" to "Your first action" runs in order, as written, with the real `lumio`
//! binary against a real server, so a step that is not true fails CI. A step whose
//! comment says `exit N` must exit N, every other step 0, and no step may print a value
//! the walk set.
//!
//! What the walk supplies that a reader has of their own: the server's URL and admin
//! token, a `key.pem` and a `.env` to import, the claim code and the ids that earlier
//! steps printed (for `lumio_claim_…` and `0123456789abcdef`), and two people: lines
//! marked `(admin…)` run with the instance-admin token, lines marked `(customer)` or
//! `(owner…)` in "Lumio staff and your extension" by the customer in their own home
//! directory, the rest by the reader with what `lumio login` and `claim` saved. Commands
//! that ask first on a terminal get `--yes`, as the README says scripts pass; one that
//! runs until stopped (`--follow`) must still be running after a few seconds.
//! The `npm` and `npx` lines (type-checking the project `lumio init` made) are left to
//! `scripts/test`'s SDK check, which makes such a project and runs `tsc` in it.

use std::path::{Path, PathBuf};

use crate::support::project::Project;
use crate::support::server::{Backend, Shell, TestServer};
use crate::support::Output;

/// One command line of a block, with the comment on it and on the lines under it.
struct Step {
    section: String,
    line: String,
    comment: String,
}

impl Step {
    /// The status the comment promises: the first `exit N`, else 0.
    fn status(&self) -> i32 {
        self.comment
            .split("exit ")
            .nth(1)
            .and_then(|rest| rest.get(..1))
            .and_then(|digit| digit.parse().ok())
            .unwrap_or(0)
    }
}

/// The words of a shell line: quotes removed, an unquoted `#` starting a comment.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut quoted) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => (quote, quoted) = (Some(c), true),
            (None, '#') if word.is_empty() && !quoted => break,
            (None, c) if c.is_whitespace() => {
                if quoted || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    quoted = false;
                }
            }
            (None, c) => word.push(c),
        }
    }
    if quoted || !word.is_empty() {
        words.push(word);
    }
    words
}

/// The comment of a line: after its first `#` outside quotes.
fn comment_of(line: &str) -> String {
    let mut quote = None;
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') => return line[at + 1..].trim().to_owned(),
            _ => {}
        }
    }
    String::new()
}

/// Every command of the `sh` blocks between "## First steps" and "## The SDK".
fn steps() -> Vec<Step> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let walked = readme
        .split("\n## First steps")
        .nth(1)
        .and_then(|rest| rest.split("\n## The SDK").next())
        .expect("README has First steps … The SDK");
    let mut steps: Vec<Step> = Vec::new();
    let mut section = "First steps".to_owned();
    let mut in_block = false;
    for line in walked.lines() {
        if let Some(heading) = line.strip_prefix('#').filter(|_| !in_block) {
            section = heading.trim_start_matches('#').trim().to_owned();
        } else if line.starts_with("```") {
            in_block = !in_block && line == "```sh";
        } else if in_block && line.trim_start().starts_with('#') {
            if let Some(step) = steps.last_mut() {
                step.comment.push(' ');
                step.comment
                    .push_str(line.trim_start().trim_start_matches('#').trim());
            }
        } else if in_block && !line.trim().is_empty() {
            steps.push(Step {
                section: section.clone(),
                line: line.trim().to_owned(),
                comment: comment_of(line),
            });
        }
    }
    steps
}

/// The 16-hex-digit ids in `text` (token and support-request ids).
fn ids(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|word| word.len() == 16 && word.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect()
}

/// The `lumio_claim_…` code in `text`.
fn claim_code(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|word| word.starts_with("lumio_claim_"))
        .map(|word| word.trim_end_matches(['.', ',', ')']).to_owned())
}

/// Who runs a line, and where.
struct Person {
    shell: Shell,
    cwd: PathBuf,
}

struct Walk {
    server: TestServer,
    reader: Person,
    customer: Person,
    /// The reader's copy of `examples/seed`, once a step `cd`s into it.
    seed: Option<Project>,
    claim_code: Option<String>,
    last_id: Option<String>,
    /// Values the walk set: no output may show one.
    values: Vec<String>,
}

impl Walk {
    fn person(&mut self, step: &Step) -> &mut Person {
        let staff_section = step.section.starts_with("Lumio staff");
        let comment = step.comment.trim_start();
        let customer = comment.starts_with("(customer)") || comment.starts_with("(owner");
        if staff_section && customer {
            &mut self.customer
        } else {
            &mut self.reader
        }
    }

    /// Runs one README line, checking what it promises.
    fn run(&mut self, step: &Step) {
        let words = shell_words(&step.line);
        match words.first().map(String::as_str) {
            // The server is already running, and `lumio` is the binary under test.
            Some("cargo") | Some("alias") => {}
            // Type-checking with npm and tsc: `scripts/test`'s SDK check runs the same
            // steps (a project from `lumio init`, the SDK installed, `tsc`).
            Some("npm") | Some("npx") => {}
            Some("cd") if words[1].ends_with("examples/seed") => {
                let seed = Project::from_example("seed");
                self.reader.cwd = seed.path().to_owned();
                self.seed = Some(seed);
            }
            // Into a directory an earlier step made (`lumio init hello-ext`).
            Some("cd") => {
                let dir = resolve(&self.reader, &words[1]);
                assert!(dir.is_dir(), "README, `{}`: no such directory", step.line);
                self.reader.cwd = dir;
            }
            Some("mkdir") => {
                std::fs::create_dir_all(resolve(&self.reader, words.last().unwrap())).unwrap();
            }
            Some("echo") => {
                assert_eq!(words[2], ">", "`echo TEXT > FILE` only: {}", step.line);
                std::fs::write(resolve(&self.reader, &words[3]), format!("{}\n", words[1]))
                    .unwrap();
            }
            Some("lumio") => self.run_lumio(step, &words[1..]),
            _ => panic!("the README walk does not know how to run `{}`", step.line),
        }
    }

    fn run_lumio(&mut self, step: &Step, words: &[String]) {
        let admin = step.comment.trim_start().starts_with("(admin");
        let (mut args, mut stdin, mut stdout) = (Vec::new(), None, None);
        let mut words = words.iter();
        while let Some(word) = words.next() {
            match word.as_str() {
                "<" => stdin = words.next().cloned(),
                ">" => stdout = words.next().cloned(),
                // `lumio man | man -l -`: the page is what Lumio makes.
                "|" => break,
                "http://127.0.0.1:7311" => args.push(self.server.url.clone()),
                "$(cat .lumio/admin-token)" => args.push(self.server.admin_token.clone()),
                "lumio_claim_…" => {
                    args.push(self.claim_code.clone().expect("a claim code was printed"))
                }
                "0123456789abcdef" => args.push(self.last_id.clone().expect("an id was printed")),
                // `[--extension my-ext]`: optional parts are taken.
                other => args.push(other.trim_matches(['[', ']']).to_owned()),
            }
        }
        if asks_first(&args) {
            args.push("--yes".to_owned());
        }
        if args.starts_with(&["env".to_owned(), "set".to_owned()]) {
            self.values.extend(set_values(&args[2..]));
        }
        let admin_token = admin.then(|| self.server.admin_token.clone());
        let person = self.person(step);
        let cwd = person.cwd.clone();
        let input = stdin.map(|file| std::fs::read_to_string(resolve(person, &file)).unwrap());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        person.shell.token = admin_token;
        let out = if args.contains(&"--follow") {
            following(&person.shell, &cwd, &args)
        } else {
            person.shell.run_in(&cwd, &args, input.as_deref())
        };
        person.shell.token = None;
        if let Some(file) = stdout {
            std::fs::write(resolve(person, &file), &out.stdout).unwrap();
        }
        self.check(step, &out);
        if let Some(code) = claim_code(&out.stdout).or_else(|| claim_code(&out.stderr)) {
            self.claim_code = Some(code);
        }
        if args.contains(&"create") || args.contains(&"request") {
            let printed = format!("{}\n{}", out.stdout, out.stderr);
            if let Some(id) = ids(&printed).pop() {
                self.last_id = Some(id);
            }
        }
    }

    fn check(&self, step: &Step, out: &Output) {
        assert_eq!(
            out.status.code(),
            Some(step.status()),
            "README, {}: `{}` (promises exit {}): {out:#?}\nserver log:\n{}",
            step.section,
            step.line,
            step.status(),
            self.server.log()
        );
        for value in &self.values {
            out.never_shows(value);
        }
    }
}

/// A command that runs until stopped (`lumio logs --follow`): it must still be running
/// after a few seconds; then it is stopped, and its output so far is checked like any
/// step's (exit 0 stands for "was still following").
fn following(shell: &Shell, cwd: &Path, args: &[&str]) -> Output {
    use std::process::Stdio;
    let mut cmd = crate::support::lumio(shell.home.path(), cwd);
    cmd.env("LUMIO_URL", &shell.url).args(args);
    if let Some(token) = &shell.token {
        cmd.env("LUMIO_TOKEN", token);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lumio");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let exited = child.try_wait().expect("poll lumio");
    if exited.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("lumio ends");
    // Still following is what the step promises: a success.
    let following = std::os::unix::process::ExitStatusExt::from_raw(0);
    Output {
        status: exited.unwrap_or(following),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The values `env set …` sets: `NAME VALUE`, or each `NAME=VALUE` (short ones, which
/// any output may hold by chance, are not looked for).
fn set_values(args: &[String]) -> Vec<String> {
    let values = match args {
        [name, value, ..] if !name.contains('=') && !value.starts_with('-') => vec![value.clone()],
        _ => args
            .iter()
            .filter_map(|arg| arg.split_once('=').map(|(_, value)| value.to_owned()))
            .collect(),
    };
    values
        .into_iter()
        .filter(|value| value.len() >= 6)
        .collect()
}

/// Whether the command asks for confirmation on a terminal (the walk is a script, so it
/// passes `--yes` as the README says scripts do).
fn asks_first(args: &[String]) -> bool {
    let has = |word: &str| args.iter().any(|arg| arg == word);
    (args.starts_with(&["extensions".to_owned(), "delete".to_owned()]))
        || (args.starts_with(&["env".to_owned(), "delete".to_owned()]) && has("--purge"))
}

/// `file` as a path of `person`: `~/…` in their home, else in their directory.
fn resolve(person: &Person, file: &str) -> PathBuf {
    match file.strip_prefix("~/") {
        Some(rest) => person.shell.home.path().join(rest),
        None => person.cwd.join(file),
    }
}

/// What a reader brings: a PEM key and a `.env`, with values the walk looks for.
fn fixtures(dir: &Path) -> Vec<String> {
    let pem_body = "MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAwalkREADME";
    std::fs::write(
        dir.join("key.pem"),
        format!("-----BEGIN PRIVATE KEY-----\n{pem_body}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let dotenv = ["readme-walk-dotenv-one", "readme-walk-dotenv-two"];
    std::fs::write(
        dir.join(".env"),
        format!("DB_URL={}\nSENTRY_DSN={}\n", dotenv[0], dotenv[1]),
    )
    .unwrap();
    [pem_body, dotenv[0], dotenv[1]].map(str::to_owned).to_vec()
}

#[test]
fn the_readme_is_true_from_first_steps_to_the_first_action() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let steps = steps();
    for needed in [
        "lumio init",
        "lumio run functions:hello",
        "lumio env set MY_API_KEY",
        "lumio run functions:badAction",
        "lumio access approve",
    ] {
        assert!(
            steps.iter().any(|s| s.line.starts_with(needed)),
            "the walk no longer reaches `{needed}`"
        );
    }
    let reader = server.anonymous_shell();
    let customer = server.anonymous_shell();
    let values = fixtures(&reader.cwd);
    let mut walk = Walk {
        reader: Person {
            cwd: reader.cwd.clone(),
            shell: reader,
        },
        customer: Person {
            cwd: customer.cwd.clone(),
            shell: customer,
        },
        server,
        seed: None,
        claim_code: None,
        last_id: None,
        values,
    };
    for step in &steps {
        walk.run(step);
    }
    assert!(walk.seed.is_some(), "the walk never reached examples/seed");
}

#[test]
fn shell_words_and_comments_are_split_as_a_shell_would() {
    assert_eq!(
        shell_words(r#"lumio run functions:x '{"query": "espn"}'   # a comment"#),
        ["lumio", "run", "functions:x", r#"{"query": "espn"}"#]
    );
    assert_eq!(
        shell_words(r#"lumio env set A "sk-1 2" # x"#),
        ["lumio", "env", "set", "A", "sk-1 2"]
    );
    assert_eq!(comment_of(r#"lumio x "a # b" # (admin) c"#), "(admin) c");
    assert_eq!(
        ids("Created x (id 0123456789abcdef)."),
        ["0123456789abcdef"]
    );
    assert_eq!(ids("lumio_0123456789abcdef_ff"), Vec::<String>::new());
}
