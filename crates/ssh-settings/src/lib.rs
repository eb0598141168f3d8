//! An SSH connector's settings, without any SSH library: the one
//! [`SshConfig`] (host, port, user, identity file, known hosts file,
//! [`HostKeyPolicy`], timeouts, default directory), with the connector's
//! defaults for whatever is not set; [`Secret`]s that no `Debug` or message
//! shows; and `ssh://[user@]host[:port][/path]` addresses ([`SshAddress`]).
//!
//! The launcher file (`[connector.NAME]` tables) and the SSH connector
//! both build on these types, so that neither depends on the other. The
//! rules that turn settings into what a connection uses (the user name,
//! the known hosts file, `~` expanded) are here too, as plain functions.
//!
//! ```
//! use std::time::Duration;
//! use ssh_settings::{HostKeyPolicy, SshAddress, SshConfig};
//!
//! let address: SshAddress = "ssh://me@login.example.org:2222/scratch/me".parse()?;
//! assert_eq!(address.user.as_deref(), Some("me"));
//! assert_eq!(address.port, Some(2222));
//!
//! let config = SshConfig::from_address("ssh://me@login.example.org:2222/scratch/me")?
//!     .host_key_policy(HostKeyPolicy::AcceptNew);
//! assert_eq!(config.target(), "me@login.example.org:2222");
//! assert_eq!(config.connect_timeout, Duration::from_secs(10));
//! assert_eq!(config.host_key_policy.name(), "accept-new");
//!
//! let err = SshConfig::from_address("ssh://me:hunter2@login.example.org").unwrap_err();
//! assert!(err.to_string().contains("me:***@") && !err.to_string().contains("hunter2"));
//! # Ok::<(), ssh_settings::SettingsError>(())
//! ```

mod address;
mod config;
mod error;
mod resolve;
pub mod ssh_config;

pub use address::SshAddress;
pub use config::{ConfigFiles, HostKeyPolicy, Secret, SshConfig, Transport, expand_home, home};
pub use error::SettingsError;
pub use resolve::{ConfigWarning, LocalEnv, Origin, Resolved, parse_jump};
