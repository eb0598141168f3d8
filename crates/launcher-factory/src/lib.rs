//! Makes the launchers a launcher file describes, above every launcher and
//! connector crate: the file crate (`registry`) finds an entry, this crate
//! turns it into a [`Launcher`](core_types::job::Launcher) that runs jobs.
//!
//! [`Launchers`] finds with a file's rules and makes the chosen launcher
//! (direct launchers once per entry, so that every job found for one
//! shares its capacity; dynamic ones over the members that match; Slurm
//! launchers with the options the finder derived) through a [`Backend`]:
//! [`StandardBackend`] has every kind this build has (features `ssh` and
//! `slurm`, on by default), [`LocalBackend`] only this machine.
//! [`LauncherFinder`] lets code find alone, or `.or(file)`.
//! [`time_left`] tells a job's code how long it has left, whatever its
//! launcher.
//!
//! ```
//! use core_types::job::{Job, JobState};
//! use launcher_factory::{LauncherFinder, Launchers, StandardBackend};
//! use registry::Registry;
//!
//! let file = r#"
//! [[launcher]]
//! name = "workstation"
//! type = "direct"
//! host = { cores = 2, memory = "4GiB" }
//! "#;
//! let registry = Registry::from_toml_str(file, "launchers.toml")?;
//! let launchers = Launchers::new(registry, StandardBackend);
//!
//! let requirement = reqparse::parse("cpu(cores=1)")?;
//! let choice = launchers.find_launcher(&requirement, &[])?;
//! assert_eq!(choice.name, "workstation");
//!
//! let dir = tempfile::tempdir()?;
//! let job = Job::new(dir.path().join("job"), ["true"])
//!     .alternative(requirement.alternatives[choice.alternative].clone());
//! assert_eq!(choice.launcher.submit(job)?.wait()?, JobState::Done);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backend;
mod error;
mod launchers;
mod remaining;

pub use backend::{Backend, LocalBackend, Made, SlurmRequest, StandardBackend};
pub use error::BuildError;
pub use launcher_dynamic::Decision;
pub use launchers::{Choice, FindError, LauncherFinder, LauncherFinderExt, Launchers, Or};
pub use remaining::{TimeLeft, time_left, time_left_of};
