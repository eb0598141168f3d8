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
        ConnectorConfig::Ssh(ssh) => connector_ssh::SshConnector::from_config(ssh)
            .map(|c| Arc::new(c) as Arc<dyn Connector>)
            .map_err(|e| BuildError::Failed(format!("connector `{name}`: {e}").into())),
    }
}

/// Makes a Slurm launcher for one match.
///
/// The Slurm launcher (`launcher-slurm`) plugs in here; until then an entry
/// of type slurm can be found and explained, and submitting to it is
/// refused with this message.
pub(crate) fn build_slurm(request: &SlurmRequest<'_>) -> Result<Arc<dyn Launcher>, BuildError> {
    Err(BuildError::NotAvailable(format!(
        "Slurm submission is not available yet (it would run sbatch {}); \
         `launch find` shows the launcher and its options",
        request.options.to_args().join(" ")
    )))
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
