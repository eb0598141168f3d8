//! What connectors and Slurm launchers are made of: a [`Backend`].
//! [`StandardBackend`] makes every kind this build has (SSH and Slurm
//! with the default features); [`LocalBackend`] only this machine's.

use std::sync::Arc;

use core_types::HostSpec;
use core_types::job::{Connector, Launcher};
use registry::{ConnectorConfig, LauncherEntry};
use slurm_options::SlurmOptions;

use crate::error::BuildError;

/// What a backend makes: a shared connector or launcher.
pub type Made<T> = Result<Arc<T>, BuildError>;

/// What a Slurm launcher is made from.
#[derive(Debug)]
pub struct SlurmRequest<'a> {
    /// The launcher file's entry.
    pub entry: &'a LauncherEntry,
    /// Its connector.
    pub connector: Arc<dyn Connector>,
    /// What its machines offer.
    pub host: &'a HostSpec,
    /// Its fixed options and those derived from the matched alternative
    /// (derived once, by the finder).
    pub options: SlurmOptions,
}

/// Makes connectors and Slurm launchers; direct and dynamic launchers are
/// made by [`Launchers`](crate::Launchers) itself. What a backend does not
/// override is this machine's alone: the `local` connector, and a clear
/// refusal of the rest.
pub trait Backend: Send + Sync {
    /// The connector `name` of the file, configured as `config` (called
    /// once per name; the result is shared).
    fn connector(&self, name: &str, config: &ConnectorConfig) -> Made<dyn Connector> {
        match config {
            ConnectorConfig::Local => Ok(connector_local::LocalConnector::shared()),
            other @ ConnectorConfig::Ssh(_) => Err(BuildError::NotAvailable(format!(
                "connector `{name}`: {} connectors are not available in this program ({})",
                other.type_name(),
                other.describe()
            ))),
        }
    }

    /// A Slurm launcher for one match.
    fn slurm(&self, request: SlurmRequest<'_>) -> Made<dyn Launcher> {
        let _ = request;
        Err(BuildError::NotAvailable(
            "Slurm launchers are not available in this program".into(),
        ))
    }
}

/// Every kind of connector and launcher this build has: `local`; SSH
/// connectors with the `ssh` feature; Slurm launchers with the `slurm`
/// feature, their commands from `PATH`, or from `$LAUNCH_SLURM_BIN` when
/// set. A kind compiled out is refused as [`BuildError::NotAvailable`].
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardBackend;

impl Backend for StandardBackend {
    fn connector(&self, name: &str, config: &ConnectorConfig) -> Made<dyn Connector> {
        match config {
            #[cfg(feature = "ssh")]
            ConnectorConfig::Ssh(ssh) => connector_ssh::SshConnector::new(ssh.clone())
                .map(|c| Arc::new(c) as Arc<dyn Connector>)
                .map_err(|e| BuildError::Connector {
                    name: name.to_owned(),
                    source: Box::new(e),
                }),
            // This machine (and SSH when compiled out): what LocalBackend makes.
            _ => LocalBackend.connector(name, config),
        }
    }

    #[cfg(feature = "slurm")]
    fn slurm(&self, request: SlurmRequest<'_>) -> Made<dyn Launcher> {
        let mut launcher = launcher_slurm::SlurmLauncher::new(Arc::clone(&request.connector))
            .derived_options(request.options)
            .priority(request.entry.priority)
            // One job followed at a time: a short poll is cheap for the cluster.
            .poll_interval(std::time::Duration::from_secs(1));
        if let Some(bin) = std::env::var_os("LAUNCH_SLURM_BIN").filter(|b| !b.is_empty()) {
            launcher = launcher.bin(bin);
        }
        Ok(Arc::new(launcher))
    }
}

/// The backend of a program that runs jobs only on this machine: the
/// `local` connector; SSH connectors and Slurm launchers are refused with a
/// clear message.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalBackend;

impl Backend for LocalBackend {}
