//! Where the launcher file is looked for, first found wins: `--config
//! FILE`; `$LAUNCH_CONFIG`; `$XDG_CONFIG_HOME/launch/launchers.toml`
//! (`~/.config/launch/launchers.toml`); else the default, a direct launcher
//! on this machine.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use core_types::HostSpec;

use crate::Registry;
use crate::error::RegistryError;

/// The environment values discovery reads, taken as parameters so that
/// callers (and tests) decide where they come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryEnv {
    /// `$LAUNCH_CONFIG`.
    pub launch_config: Option<OsString>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<OsString>,
    /// `$HOME`.
    pub home: Option<OsString>,
}

impl DiscoveryEnv {
    /// The values of this process's environment.
    pub fn from_process() -> Self {
        DiscoveryEnv {
            launch_config: std::env::var_os("LAUNCH_CONFIG"),
            xdg_config_home: std::env::var_os("XDG_CONFIG_HOME"),
            home: std::env::var_os("HOME"),
        }
    }

    /// `$XDG_CONFIG_HOME/launch/launchers.toml`, or
    /// `$HOME/.config/launch/launchers.toml` when `$XDG_CONFIG_HOME` is
    /// unset, empty or relative (the XDG rule); `None` without either.
    pub fn xdg_path(&self) -> Option<PathBuf> {
        let config_home = core_types::paths::xdg_base(
            self.xdg_config_home.as_deref(),
            self.home.as_deref(),
            ".config",
        )?;
        Some(config_home.join("launch").join("launchers.toml"))
    }
}

/// Where the launcher file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--config FILE`.
    Flag(PathBuf),
    /// `$LAUNCH_CONFIG`.
    Env(PathBuf),
    /// `$XDG_CONFIG_HOME/launch/launchers.toml` (or under `~/.config`), which exists.
    Xdg(PathBuf),
    /// No file: a direct launcher on this machine.
    Default,
}

impl ConfigSource {
    /// The file, unless it is the default.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::Flag(p) | ConfigSource::Env(p) | ConfigSource::Xdg(p) => Some(p),
            ConfigSource::Default => None,
        }
    }

    /// What named it, for messages: `--config`, `$LAUNCH_CONFIG`, ...
    pub const fn via(&self) -> &'static str {
        match self {
            ConfigSource::Flag(_) => "--config",
            ConfigSource::Env(_) => "$LAUNCH_CONFIG",
            ConfigSource::Xdg(_) => "the XDG configuration directory",
            ConfigSource::Default => "default",
        }
    }

    /// Reads and checks the file, or makes the default from `local_host`
    /// (called only for the default, so detection happens only then).
    pub fn load(&self, local_host: impl FnOnce() -> HostSpec) -> Result<Registry, RegistryError> {
        let Some(path) = self.path() else {
            return Registry::local_default(&local_host());
        };
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| RegistryError::Read {
            file: name.clone(),
            via: Some(self.via()),
            error,
        })?;
        Registry::from_toml_str(&text, &name)
    }
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            Some(path) => write!(f, "{} (from {})", path.display(), self.via()),
            None => f.write_str("no launcher file: a direct launcher on this machine"),
        }
    }
}

/// Where the launcher file is, first found wins: `flag` (`--config`);
/// `$LAUNCH_CONFIG` (when set and not empty); the XDG path when `exists`
/// says it does; else [`ConfigSource::Default`].
///
/// A file named by `--config` or `$LAUNCH_CONFIG` is used even when it does
/// not exist (reading it then fails, naming it): a file asked for by name
/// is never silently replaced by another.
pub fn discover(
    flag: Option<&Path>,
    env: &DiscoveryEnv,
    exists: impl Fn(&Path) -> bool,
) -> ConfigSource {
    if let Some(path) = flag {
        return ConfigSource::Flag(path.to_owned());
    }
    if let Some(path) = env.launch_config.as_ref().filter(|p| !p.is_empty()) {
        return ConfigSource::Env(PathBuf::from(path));
    }
    match env.xdg_path() {
        Some(path) if exists(&path) => ConfigSource::Xdg(path),
        _ => ConfigSource::Default,
    }
}

/// [`discover`] in this process's environment, then
/// [`ConfigSource::load`] with [`hostspec::detect`] for the default.
pub fn load_discovered(flag: Option<&Path>) -> Result<(ConfigSource, Registry), RegistryError> {
    let source = discover(flag, &DiscoveryEnv::from_process(), Path::is_file);
    let registry = source.load(hostspec::detect)?;
    Ok((source, registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(launch: Option<&str>, xdg: Option<&str>, home: Option<&str>) -> DiscoveryEnv {
        DiscoveryEnv {
            launch_config: launch.map(Into::into),
            xdg_config_home: xdg.map(Into::into),
            home: home.map(Into::into),
        }
    }

    #[test]
    fn xdg_rules() {
        assert_eq!(
            env(None, Some("/x"), Some("/h")).xdg_path(),
            Some(PathBuf::from("/x/launch/launchers.toml"))
        );
        // Empty or relative: ignored, as the XDG specification says.
        for xdg in [Some(""), Some("rel/dir"), None] {
            assert_eq!(
                env(None, xdg, Some("/h")).xdg_path(),
                Some(PathBuf::from("/h/.config/launch/launchers.toml")),
                "{xdg:?}"
            );
        }
        assert_eq!(env(None, None, None).xdg_path(), None);
        assert_eq!(env(None, None, Some("")).xdg_path(), None);
    }

    #[test]
    fn order() {
        let all = env(Some("/env.toml"), Some("/x"), Some("/h"));
        let yes = |_: &Path| true;
        let no = |_: &Path| false;
        assert_eq!(
            discover(Some(Path::new("f.toml")), &all, yes),
            ConfigSource::Flag("f.toml".into())
        );
        assert_eq!(
            discover(None, &all, no),
            ConfigSource::Env("/env.toml".into())
        );
        let no_env = env(Some(""), Some("/x"), Some("/h"));
        assert_eq!(
            discover(None, &no_env, yes),
            ConfigSource::Xdg("/x/launch/launchers.toml".into())
        );
        assert_eq!(discover(None, &no_env, no), ConfigSource::Default);
        assert_eq!(
            discover(None, &no_env, |p: &Path| p.starts_with("/x")),
            ConfigSource::Xdg("/x/launch/launchers.toml".into())
        );
    }
}
