//! What the launcher file's connectors and Slurm launchers are made of in
//! this program: the one place that knows which kinds are available.

use std::sync::Arc;

use core_types::job::{Connector, Launcher};
use registry::{Backend, BuildError, ConnectorConfig, SlurmRequest};

/// Makes the connector a launcher file names `name`.
///
/// An SSH connector is made here but connects on first use (one session per
/// host, shared by every launcher that names it).
pub(crate) fn build_connector(
    name: &str,
    config: &ConnectorConfig,
) -> Result<Arc<dyn Connector>, BuildError> {
    match config {
        ConnectorConfig::Local => Ok(connector_local::LocalConnector::shared()),
        ConnectorConfig::Ssh(ssh) => connector_ssh::SshConnector::new(ssh.clone())
            .map(|c| Arc::new(c) as Arc<dyn Connector>)
            .map_err(|e| BuildError::Failed(format!("connector `{name}`: {e}").into())),
    }
}

/// Makes a Slurm launcher for one match: the entry's fixed and derived
/// options, its priority, its connector; the Slurm commands from `PATH`, or
/// from `$LAUNCH_SLURM_BIN` when set.
pub(crate) fn build_slurm(request: &SlurmRequest<'_>) -> Result<Arc<dyn Launcher>, BuildError> {
    let pairs: Vec<(String, String)> = request
        .options
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_string()))
        .collect();
    let options = launcher_slurm::SlurmOptions::try_from(pairs.as_slice())
        .map_err(|e| BuildError::Failed(e.into()))?;
    let mut launcher = launcher_slurm::SlurmLauncher::new(Arc::clone(&request.connector))
        .options(options)
        .priority(request.entry.priority)
        // One job followed at a time: a short poll is cheap for the cluster.
        .poll_interval(std::time::Duration::from_secs(1));
    if let Some(bin) = std::env::var_os("LAUNCH_SLURM_BIN").filter(|b| !b.is_empty()) {
        launcher = launcher.bin(bin);
    }
    Ok(Arc::new(launcher))
}

/// The backend of the `launch` command.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CliBackend;

impl Backend for CliBackend {
    fn connector(
        &self,
        name: &str,
        config: &ConnectorConfig,
    ) -> Result<Arc<dyn Connector>, BuildError> {
        build_connector(name, config)
    }

    fn slurm(&self, request: SlurmRequest<'_>) -> Result<Arc<dyn Launcher>, BuildError> {
        build_slurm(&request)
    }
}
