//! What can be wrong with an option.

/// A Slurm option that cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// Not a long option of `sbatch`.
    #[error(
        "unknown sbatch option `{name}` (the long option names of sbatch, without `--`){}",
        hint.as_deref().map_or_else(String::new, |h| format!(" (did you mean `{h}`?)"))
    )]
    Unknown {
        /// The name, as given.
        name: String,
        /// The closest known name, when one is close.
        hint: Option<String>,
    },
    /// An option the Slurm launcher sets itself.
    #[error(
        "`{name}` is set by the Slurm launcher itself (the job's files and directory, how it \
         is submitted and followed)"
    )]
    Reserved {
        /// The option's name.
        name: String,
    },
    /// A value of the wrong form.
    #[error("--{name}: {reason}")]
    InvalidValue {
        /// The option's name.
        name: String,
        /// The value, as given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
}
