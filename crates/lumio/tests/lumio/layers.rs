//! Issue 25: the crates' dependencies are exactly ARCHITECTURE.md's Layers table, and
//! point one way. Read from `cargo metadata`, so a new arrow (or a gone one) fails here
//! until the table, and the reasoning beside it, says so.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The table: each crate's allowed dependencies, in its row order (floors), and the
/// dev-dependencies allowed to point down.
struct Layers {
    rows: Vec<(String, BTreeSet<String>)>,
    dev_exceptions: BTreeSet<(String, String)>,
}

const SUPPORT: &str = "lumio-test-support";

fn layers() -> Layers {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../ARCHITECTURE.md"
    ))
    .expect("ARCHITECTURE.md");
    let section = text
        .split("\n## Layers\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("ARCHITECTURE.md has a Layers section");
    let crate_names = |cell: &str| -> BTreeSet<String> {
        cell.split(',')
            .map(|name| name.replace("*(to go)*", "").trim().to_owned())
            .filter(|name| !name.is_empty())
            .collect()
    };
    let rows = section
        .lines()
        .filter_map(|line| line.strip_prefix("| lumio"))
        .map(|rest| {
            let mut cells = rest.split('|');
            let name = format!("lumio{}", cells.next().unwrap().trim());
            (name, crate_names(cells.next().unwrap_or("")))
        })
        .collect();
    let dev_line = section
        .split("Dev-dependencies that point down the table:")
        .nth(1)
        .expect("the Layers section names its dev-dependency exceptions");
    let dev_exceptions = dev_line
        .split(['.', ';'])
        .next()
        .unwrap()
        .split(',')
        .filter_map(|arrow| arrow.split_once('→'))
        .map(|(from, to)| {
            let to = to.split_whitespace().next().unwrap_or("");
            (from.trim().to_owned(), to.to_owned())
        })
        .collect();
    Layers {
        rows,
        dev_exceptions,
    }
}

/// Each workspace crate's workspace dependencies: (normal and build, dev).
fn metadata() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = json["packages"].as_array().unwrap();
    let members: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    packages
        .iter()
        .map(|package| {
            let (mut normal, mut dev) = (BTreeSet::new(), BTreeSet::new());
            for dep in package["dependencies"].as_array().unwrap() {
                let name = dep["name"].as_str().unwrap().to_owned();
                if !members.contains(&name) || package["name"] == dep["name"] {
                    continue;
                }
                match dep["kind"].as_str() {
                    Some("dev") => dev.insert(name),
                    _ => normal.insert(name),
                };
            }
            (package["name"].as_str().unwrap().to_owned(), (normal, dev))
        })
        .collect()
}

#[test]
fn the_dependencies_are_the_layers_table_and_point_one_way() {
    let layers = layers();
    let actual = metadata();
    let floor: BTreeMap<&str, usize> = layers
        .rows
        .iter()
        .enumerate()
        .map(|(at, (name, _))| (name.as_str(), at))
        .collect();
    let listed: BTreeSet<&str> = floor.keys().copied().collect();
    let members: BTreeSet<&str> = actual.keys().map(String::as_str).collect();
    assert_eq!(
        listed, members,
        "the table's crates are not the workspace's"
    );
    let mut wrong = Vec::new();
    for (name, allowed) in &layers.rows {
        let (normal, dev) = &actual[name];
        for extra in normal.difference(allowed) {
            wrong.push(format!("{name} → {extra}: not in the table"));
        }
        for gone in allowed.difference(normal) {
            wrong.push(format!(
                "{name} → {gone}: in the table, no longer a dependency"
            ));
        }
        for dep in normal {
            if floor.get(dep.as_str()) >= floor.get(name.as_str()) {
                wrong.push(format!("{name} → {dep}: points down the table"));
            }
        }
        for dep in dev {
            let down = floor.get(dep.as_str()) >= floor.get(name.as_str());
            let excepted = layers.dev_exceptions.contains(&(name.clone(), dep.clone()));
            if down && dep != SUPPORT && !excepted {
                wrong.push(format!("{name} → {dep} (dev): points down the table"));
            }
        }
    }
    for (from, to) in &layers.dev_exceptions {
        let still = actual.get(from).is_some_and(|(_, dev)| dev.contains(to));
        if !still {
            wrong.push(format!(
                "{from} → {to} (dev): an exception that no longer exists"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md's Layers table and the crates disagree:\n{}",
        wrong.join("\n")
    );
}

/// Issue 25: `lumio-client` links neither store nor crypto: the workspace crates
/// `lumio-cli` reaches through normal (and build) dependencies, theirs and so on
/// (optional ones included), are the wire contract and the core. The declared arrows are the whole
/// story: a crate from a registry cannot depend on a crate of this workspace (and
/// `cargo metadata`'s resolved graph would need every platform's packages downloaded).
#[test]
fn the_client_links_only_the_wire_contract_and_the_core() {
    let actual = metadata();
    let (mut linked, mut todo) = (BTreeSet::new(), vec!["lumio-cli"]);
    while let Some(name) = todo.pop() {
        for dep in &actual[name].0 {
            if linked.insert(dep.as_str()) {
                todo.push(dep);
            }
        }
    }
    assert_eq!(
        linked,
        BTreeSet::from(["lumio-api", "lumio-core"]),
        "lumio-cli must link no workspace crate but the wire contract and the core \
         (ARCHITECTURE.md, crates/lumio-cli)"
    );
}
