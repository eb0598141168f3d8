//! The launcher file (`launchers.toml`): which launcher serves a job's
//! requirement, declared instead of programmed (experimaestro's
//! `launchers.py`, done the Rust way).
//!
//! A [`Registry`] is a checked launcher file: its connectors
//! ([`ConnectorConfig`]), its launchers ([`LauncherEntry`]: direct, slurm or
//! dynamic, with tags, priorities, hosts and fixed Slurm options). Mistakes
//! are errors naming the file, the line and the key ([`RegistryError`]).
//! [`Registry::find`] applies the finder's rules and gives the chosen
//! entry, the alternative and the derived Slurm options
//! ([`slurm_options::derive`]); [`Registry::explain`] says, for every
//! alternative and entry, why it was chosen or not. [`discover`] says where
//! the file is (`--config`, `$LAUNCH_CONFIG`, the XDG path, else a direct
//! launcher on this machine). Making the chosen launcher is the
//! `launcher-factory` crate's: this one depends on no launcher and no
//! connector.
//!
//! Loading, checking, finding and explaining are pure functions of the
//! text and the requirement; only [`Registry::load`], [`ConfigSource::load`]
//! and [`load_discovered`] read files.
//!
//! ```
//! use registry::{Registry, Verdict};
//!
//! let file = r#"
//! [connector.cluster]
//! type = "ssh"
//! host = "login.example.org"
//!
//! [[launcher]]
//! name = "gpu-fast"
//! type = "slurm"
//! connector = "cluster"
//! priority = 10
//! tags = ["gpu"]
//! host = { cores = 32, memory = "128GiB", max_duration = "100h",
//!          accelerators = [{ kind = "cuda", memory = "24GiB", count = 8 }] }
//! slurm = { partition = "fast" }
//!
//! [[launcher]]
//! name = "workstation"
//! type = "direct"
//! host = { cores = 16, memory = "64GiB" }
//! "#;
//! let registry = Registry::from_toml_str(file, "launchers.toml")?;
//!
//! // The first alternative no launcher serves; the second, both: the higher priority wins.
//! let req = reqparse::parse("cuda(mem=40GiB) * 2 | duration=4h & cuda(mem=24GiB) * 2")?;
//! let found = registry.find(&req, &[] as &[&str]).expect("a launcher");
//! assert_eq!(registry.entries()[found.entry].name, "gpu-fast");
//! assert_eq!(found.alternative, 1);
//! assert_eq!(
//!     found.options.to_args(),
//!     ["--partition=fast", "--time=4:00:00", "--gpus-per-node=2"]
//! );
//!
//! // Why, in words.
//! let why = registry.explain(&req, &[] as &[&str]);
//! assert_eq!(
//!     why.alternatives[0].entries[0].to_string(),
//!     "gpu-fast: asks for 2 cuda accelerators of 40GiB, the host has 8 cuda accelerators \
//!      of 24GiB, none of which can serve them"
//! );
//! assert!(matches!(why.alternatives[1].entries[0].verdict, Verdict::Chosen { .. }));
//!
//! // Tags narrow the choice.
//! let cpu = reqparse::parse("cpu(cores=4)")?;
//! assert!(registry.find(&cpu, &["cpu"]).is_none());
//!
//! // Mistakes name the file, the line and the key.
//! let err = Registry::from_toml_str(
//!     "[[launcher]]\nname = \"a\"\ntype = \"direct\"\nconnector = \"clustr\"\nhost = { cores = 1, memory = 1 }\n",
//!     "bad.toml",
//! )
//! .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "bad.toml:4:13: launcher[0].connector: no connector is named `clustr` \
//!      (define it in a [connector.clustr] table; `local` is built in)"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod connector;
mod discover;
mod error;
mod file;
mod finder;
mod generate;
mod keys;

pub use connector::{ConnectorConfig, LOCAL};
pub use discover::{ConfigSource, DiscoveryEnv, discover, load_discovered};
pub use error::{InvalidKind, RegistryError};
pub use file::{EntryKind, LauncherEntry};
pub use finder::{
    AlternativeReport, EntryReport, Explanation, Found, Registry, Verdict, derive_on,
};
pub use generate::local_file;
pub use ssh_settings::{HostKeyPolicy, Origin, Resolved, SshConfig};

/// The source name of the default registry (no launcher file).
pub const DEFAULT_SOURCE: &str = "<default: this machine>";
