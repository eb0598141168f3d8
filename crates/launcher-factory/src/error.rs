//! Why a launcher could not be made.

/// Why a launcher described by a file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// This program cannot make such a connector or launcher (yet): what,
    /// and what to do instead.
    #[error("{0}")]
    NotAvailable(String),
    /// The connector named `name` could not be made.
    #[error("connector `{name}`")]
    Connector {
        /// The connector's name in the file.
        name: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A launcher could not be made.
    #[error("cannot make the launcher")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The time left of the job this process runs in cannot be told.
    #[error("cannot tell the job's time left")]
    TimeLeft(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The error arose making the launcher of entry `entry`.
    #[error("launcher `{entry}`")]
    InLauncher {
        /// The launcher file's entry.
        entry: String,
        /// What went wrong.
        #[source]
        source: Box<BuildError>,
    },
}

impl BuildError {
    /// Whether it is (or wraps) [`BuildError::NotAvailable`].
    pub fn is_not_available(&self) -> bool {
        match self {
            BuildError::NotAvailable(_) => true,
            BuildError::Connector { .. } | BuildError::Failed(_) | BuildError::TimeLeft(_) => false,
            BuildError::InLauncher { source, .. } => source.is_not_available(),
        }
    }

    pub(crate) fn in_launcher(self, entry: &str) -> BuildError {
        BuildError::InLauncher {
            entry: entry.to_owned(),
            source: Box::new(self),
        }
    }
}
