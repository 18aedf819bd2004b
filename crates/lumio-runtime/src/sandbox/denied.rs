//! Reads refused by an action's grants, counted per invocation for their `secret.denied`
//! records: one record per name with the number of calls, for at most
//! [`MAX_DENIED_NAMES`] names; past those, the further names are only counted (one record
//! says how many) and every further refused read throws `limit_exceeded`. A client of
//! an action that asks for names it is given cannot make one invocation write more than
//! `MAX_DENIED_NAMES + 1` records.

use std::collections::HashSet;

use lumio_core::SecretName;

use crate::host::{Denials, DeniedReads};

/// Distinct refused names recorded one by one per invocation.
pub const MAX_DENIED_NAMES: usize = 16;

/// How a refused read was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Counted in its name's record.
    Counted,
    /// The invocation is past [`MAX_DENIED_NAMES`]: counted in the further-names record,
    /// and the read throws `limit_exceeded`.
    OverLimit,
}

/// The refused reads of one invocation, recorded when it ends.
#[derive(Default)]
pub struct DeniedCounts {
    names: Vec<DeniedReads>,
    /// Distinct names refused past the limit (at most the invocation's `ctx.secrets.get`
    /// limit of them).
    further: HashSet<SecretName>,
}

impl DeniedCounts {
    /// Counts a refused read of `name`.
    pub fn count(&mut self, name: &SecretName) -> Denial {
        if let Some(known) = self.names.iter_mut().find(|d| d.name == *name) {
            known.count = known.count.saturating_add(1);
        } else if self.names.len() < MAX_DENIED_NAMES && self.further.is_empty() {
            self.names.push(DeniedReads {
                name: name.clone(),
                count: 1,
            });
        } else {
            self.further.insert(name.clone());
        }
        if self.further.is_empty() {
            Denial::Counted
        } else {
            Denial::OverLimit
        }
    }

    /// What the records say, once (later calls give nothing): `None` when nothing was
    /// refused.
    pub fn take<'a>(&mut self, grants: &'a [SecretName]) -> Option<Denials<'a>> {
        if self.names.is_empty() && self.further.is_empty() {
            return None;
        }
        let further_names = u32::try_from(self.further.len()).unwrap_or(u32::MAX);
        self.further.clear();
        Some(Denials {
            names: std::mem::take(&mut self.names),
            further_names,
            grants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(i: usize) -> SecretName {
        SecretName::parse(&format!("NAME_{i}")).unwrap()
    }

    #[test]
    fn names_past_the_limit_are_one_number_and_over_the_limit() {
        let mut counts = DeniedCounts::default();
        for round in 0..3 {
            for i in 0..MAX_DENIED_NAMES {
                assert_eq!(counts.count(&name(i)), Denial::Counted, "{round}");
            }
        }
        assert_eq!(counts.count(&name(100)), Denial::OverLimit);
        assert_eq!(counts.count(&name(101)), Denial::OverLimit);
        assert_eq!(counts.count(&name(101)), Denial::OverLimit);
        assert_eq!(counts.count(&name(0)), Denial::OverLimit);
        let denials = counts.take(&[]).unwrap();
        assert_eq!(denials.names.len(), MAX_DENIED_NAMES);
        assert_eq!(denials.names[0].count, 4);
        assert_eq!(denials.names[1].count, 3);
        assert_eq!(denials.further_names, 2);
        assert!(counts.take(&[]).is_none());
    }
}
