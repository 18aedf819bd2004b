//! Issue 24: README's "Your first action" is run as written, line by line, against a real
//! server and a copy of `examples/seed`. A step whose comment says `exit N` must exit N,
//! every other step 0, and no step may print a value it set. (The README said badAction
//! is stopped, but only MY_API_KEY was set, so it returned `{"apiKey": null}`.)

mod support;

use support::project::Project;
use support::server::{Db, TestServer};

/// One `lumio …` line of the block: its words and the status its comment promises.
struct Step {
    words: Vec<String>,
    status: i32,
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

/// The `lumio` lines of README's "Your first action" block, with the `exit N` their
/// comments (and the comment lines under them) promise.
fn first_action_steps() -> Vec<Step> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let block = readme
        .split("## Your first action")
        .nth(1)
        .and_then(|rest| rest.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("README has the first-action block");
    let mut steps: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            if let Some((_, comment)) = steps.last_mut() {
                comment.push_str(trimmed);
            }
        } else if trimmed.starts_with("lumio ") {
            let comment = trimmed.split_once('#').map_or("", |(_, c)| c);
            steps.push((trimmed.to_owned(), comment.to_owned()));
        }
    }
    steps
        .into_iter()
        .map(|(line, comment)| Step {
            words: shell_words(&line),
            status: comment
                .split("exit ")
                .nth(1)
                .and_then(|rest| rest.get(..1))
                .and_then(|digit| digit.parse().ok())
                .unwrap_or(0),
        })
        .collect()
}

#[test]
fn the_first_action_steps_do_what_the_readme_says() {
    let Some(server) = TestServer::start(Db::Sqlite) else {
        return;
    };
    let steps = first_action_steps();
    assert!(
        steps
            .iter()
            .any(|s| s.words.join(" ") == "lumio run functions:badAction"),
        "the block no longer runs badAction"
    );
    let project = Project::from_example("seed");
    let user = server.anonymous_shell();
    let mut values = Vec::new();
    for step in &steps {
        let args: Vec<String> = step.words[1..]
            .iter()
            .map(|word| match word.as_str() {
                "http://127.0.0.1:7311" => server.url.clone(),
                "$(cat .lumio/admin-token)" => server.admin_token.clone(),
                _ => word.clone(),
            })
            .collect();
        if args.first().map(String::as_str) == Some("env") && args.len() == 4 {
            values.push(args[3].clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = user.run_in(project.path(), &args, None);
        assert_eq!(
            out.status.code(),
            Some(step.status),
            "`{}` (README promises exit {}): {out:#?}",
            step.words.join(" "),
            step.status
        );
        for value in &values {
            out.never_shows(value);
        }
    }
    assert!(!values.is_empty(), "the block sets no secret");
}

#[test]
fn shell_words_are_split_as_a_shell_would() {
    assert_eq!(
        shell_words(r#"lumio run functions:x '{"query": "espn"}'   # a comment"#),
        ["lumio", "run", "functions:x", r#"{"query": "espn"}"#]
    );
    assert_eq!(
        shell_words(r#"lumio env set A "sk-1 2" # x"#),
        ["lumio", "env", "set", "A", "sk-1 2"]
    );
}
