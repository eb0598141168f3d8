//! Whether the current user may submit to a partition, from what
//! `scontrol show partition` says of it. Pure.

use crate::parse::PartitionRow;

/// Who runs discovery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    /// The login name.
    pub name: String,
    /// The numeric user id.
    pub uid: u32,
    /// The names of the user's groups.
    pub groups: Vec<String>,
    /// The user's Slurm accounts (`sacctmgr`); `None` when unknown (no
    /// accounting).
    pub accounts: Option<Vec<String>>,
}

/// Why the user cannot (or should not) submit to the partition `p`; `None`
/// when nothing says so. Root (uid 0) passes the group and root-only
/// checks, as in Slurm.
pub fn refusal(p: &PartitionRow, user: &User) -> Option<String> {
    let root = user.uid == 0;
    if p.hidden {
        return Some("Hidden=YES".to_owned());
    }
    if p.root_only && !root {
        return Some("RootOnly=YES: only root may submit".to_owned());
    }
    if matches!(p.state.as_str(), "INACTIVE" | "DRAIN") {
        return Some(format!("State={}: it takes no new job", p.state));
    }
    if let Some(groups) = &p.allow_groups
        && !root
        && !user.groups.iter().any(|g| groups.contains(g))
    {
        return Some(format!(
            "AllowGroups={} and you are in none of them",
            groups.join(",")
        ));
    }
    if let Some(allowed) = &p.allow_accounts {
        match &user.accounts {
            Some(mine) if mine.iter().any(|a| allowed.contains(a)) => {}
            Some(_) => {
                return Some(format!(
                    "AllowAccounts={} and none is an account of yours",
                    allowed.join(",")
                ));
            }
            None => {
                return Some(format!(
                    "AllowAccounts={} and your accounts are unknown (sacctmgr answers nothing)",
                    allowed.join(",")
                ));
            }
        }
    }
    if !p.deny_accounts.is_empty()
        && let Some(mine) = &user.accounts
        && !mine.is_empty()
        && mine.iter().all(|a| p.deny_accounts.contains(a))
    {
        return Some(format!(
            "DenyAccounts={} holds every account of yours",
            p.deny_accounts.join(",")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(uid: u32, groups: &[&str], accounts: Option<&[&str]>) -> User {
        User {
            name: "alice".into(),
            uid,
            groups: groups.iter().map(|s| (*s).to_owned()).collect(),
            accounts: accounts.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn refusals() {
        let open = PartitionRow {
            name: "p".into(),
            state: "UP".into(),
            ..PartitionRow::default()
        };
        let alice = user(1000, &["users"], None);
        assert_eq!(refusal(&open, &alice), None);
        let hidden = PartitionRow {
            hidden: true,
            ..open.clone()
        };
        assert_eq!(refusal(&hidden, &alice).as_deref(), Some("Hidden=YES"));
        assert!(refusal(&hidden, &user(0, &[], None)).is_some());
        let root_only = PartitionRow {
            root_only: true,
            ..open.clone()
        };
        assert!(refusal(&root_only, &alice).unwrap().contains("RootOnly"));
        assert_eq!(refusal(&root_only, &user(0, &[], None)), None);
        let groups = PartitionRow {
            allow_groups: Some(vec!["physics".into()]),
            ..open.clone()
        };
        assert!(
            refusal(&groups, &alice)
                .unwrap()
                .contains("AllowGroups=physics")
        );
        assert_eq!(
            refusal(&groups, &user(1000, &["users", "physics"], None)),
            None
        );
        assert_eq!(refusal(&groups, &user(0, &["root"], None)), None);
        let accounts = PartitionRow {
            allow_accounts: Some(vec!["proj1".into()]),
            ..open.clone()
        };
        assert!(refusal(&accounts, &alice).unwrap().contains("unknown"));
        assert!(refusal(&accounts, &user(1000, &[], Some(&["proj2"]))).is_some());
        assert_eq!(refusal(&accounts, &user(1000, &[], Some(&["proj1"]))), None);
        let deny = PartitionRow {
            deny_accounts: vec!["proj2".into()],
            ..open.clone()
        };
        assert!(refusal(&deny, &user(1000, &[], Some(&["proj2"]))).is_some());
        assert_eq!(
            refusal(&deny, &user(1000, &[], Some(&["proj1", "proj2"]))),
            None
        );
        let drain = PartitionRow {
            state: "DRAIN".into(),
            ..open.clone()
        };
        assert!(refusal(&drain, &alice).is_some());
        let down = PartitionRow {
            state: "DOWN".into(),
            ..open
        };
        assert_eq!(refusal(&down, &alice), None);
    }
}
