//! What a change notification says, written and read in one place. A payload names what
//! changed, never a value: `<origin>:<extension id>:<environment>:<name>` for a secret,
//! `<origin>:deploy:<extension id>:<environment>`, `<origin>:token:<id>`,
//! `<origin>:ext:<extension id>`, `<origin>:sync:0` for a heartbeat (older versions also sent
//! `sync:<seq>` barriers) and `<origin>:*`
//! for "drop everything". Secret names cannot contain `:` and extension ids are numbers,
//! so no secret payload reads as one of the others.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{rows, Change};

/// Identifies one store instance, so it can skip the notifications it sent itself (it
/// already announced them locally at commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Origin(u64);

impl Origin {
    pub(super) fn random() -> Self {
        // RandomState is seeded from the OS once per process; the counter tells apart
        // several stores in one process.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
        Self(hasher.finish())
    }
}

/// One notification on the `lumio_changes` channel: who sent it and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Payload {
    pub origin: Origin,
    pub change: Change,
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}:", self.origin.0)?;
        match &self.change {
            Change::Secret {
                extension_id,
                environment,
                name,
            } => write!(f, "{extension_id}:{environment}:{name}"),
            Change::Deployment {
                extension_id,
                environment,
            } => write!(f, "deploy:{extension_id}:{environment}"),
            Change::TokenRevoked { id } => write!(f, "token:{id}"),
            Change::Extension { extension_id } => write!(f, "ext:{extension_id}"),
            Change::Synced(seq) => write!(f, "sync:{seq}"),
            Change::Everything => f.write_str("*"),
        }
    }
}

/// A payload this build cannot read (another version's?).
#[derive(Debug)]
pub(super) struct Unreadable;

impl FromStr for Payload {
    type Err = Unreadable;

    fn from_str(payload: &str) -> Result<Self, Unreadable> {
        let (origin, rest) = payload.split_once(':').ok_or(Unreadable)?;
        let origin = Origin(u64::from_str_radix(origin, 16).map_err(|_| Unreadable)?);
        fn number<T: FromStr>(s: &str) -> Result<T, Unreadable> {
            s.parse().map_err(|_| Unreadable)
        }
        let environment = |s: &str| rows::environment(s).map_err(|_| Unreadable);
        let change = match rest.split_once(':') {
            None if rest == "*" => Change::Everything,
            Some(("sync", seq)) => Change::Synced(number(seq)?),
            Some(("token", id)) => Change::TokenRevoked { id: id.to_owned() },
            Some(("ext", id)) => Change::Extension {
                extension_id: number(id)?,
            },
            Some(("deploy", place)) => {
                let (extension_id, env) = place.split_once(':').ok_or(Unreadable)?;
                Change::Deployment {
                    extension_id: number(extension_id)?,
                    environment: environment(env)?,
                }
            }
            Some((extension_id, place)) => {
                let (env, name) = place.split_once(':').ok_or(Unreadable)?;
                Change::Secret {
                    extension_id: number(extension_id)?,
                    environment: environment(env)?,
                    name: name.to_owned(),
                }
            }
            None => return Err(Unreadable),
        };
        Ok(Self { origin, change })
    }
}

#[cfg(test)]
mod tests {
    use lumio_core::Environment;

    use super::*;

    #[test]
    fn every_change_round_trips() {
        let origin = Origin::random();
        for change in [
            Change::Secret {
                extension_id: 7,
                environment: Environment::Production,
                name: "API_KEY".into(),
            },
            Change::Deployment {
                extension_id: 9,
                environment: Environment::Staging,
            },
            Change::TokenRevoked {
                id: "00ff00ff00ff00ff".into(),
            },
            Change::Extension { extension_id: 12 },
            Change::Synced(3),
            Change::Everything,
        ] {
            let payload = Payload { origin, change };
            assert_eq!(payload.to_string().parse::<Payload>().unwrap(), payload);
        }
    }

    #[test]
    fn the_wire_form_is_stable() {
        let payload = Payload {
            origin: Origin(0xab),
            change: Change::Secret {
                extension_id: 7,
                environment: Environment::Production,
                name: "API_KEY".into(),
            },
        };
        assert_eq!(payload.to_string(), "ab:7:production:API_KEY");
        let barrier = Payload {
            origin: Origin(0xab),
            change: Change::Synced(2),
        };
        assert_eq!(barrier.to_string(), "ab:sync:2");
    }

    #[test]
    fn garbage_is_unreadable() {
        for garbage in ["garbage", "zz:*", "ab:", "ab:x:production:K", "ab:deploy:1"] {
            assert!(garbage.parse::<Payload>().is_err(), "{garbage}");
        }
    }
}
