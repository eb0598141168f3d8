//! Why settings or an address cannot be used. No message holds a secret:
//! a password in an address is replaced by `***`.

/// Why SSH settings or an `ssh://` address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// An `ssh://` address that does not parse.
    #[error("invalid SSH address `{input}`: {reason}")]
    Address {
        /// The address (a password in it replaced by `***`).
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// A setting that cannot be used.
    #[error("invalid SSH setting `{key}`: {reason}")]
    Config {
        /// The setting.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}
