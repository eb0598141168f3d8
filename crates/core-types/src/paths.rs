//! The XDG base directory rule, as one pure function of the environment's
//! values: `$XDG_CONFIG_HOME`, `$XDG_STATE_HOME`... when set to an absolute
//! path, else a directory under `$HOME`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// An XDG base directory: `xdg` (the variable's value) when it is an
/// absolute path; else `home/fallback` (`~/.config`, `~/.local/state`);
/// `None` when neither is usable (an empty, unset or relative variable is
/// ignored, as the XDG specification says).
///
/// ```
/// use std::path::PathBuf;
/// use core_types::paths::xdg_base;
///
/// let home = Some("/h".as_ref());
/// assert_eq!(xdg_base(Some("/x".as_ref()), home, ".config"), Some(PathBuf::from("/x")));
/// assert_eq!(xdg_base(Some("rel".as_ref()), home, ".config"), Some(PathBuf::from("/h/.config")));
/// assert_eq!(xdg_base(None, home, ".local/state"), Some(PathBuf::from("/h/.local/state")));
/// assert_eq!(xdg_base(None, Some("".as_ref()), ".config"), None);
/// ```
pub fn xdg_base(xdg: Option<&OsStr>, home: Option<&OsStr>, fallback: &str) -> Option<PathBuf> {
    xdg.map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| Path::new(h).join(fallback))
        })
}

/// An XDG base directory of this process: [`xdg_base`] of `$VAR` and
/// `$HOME`.
pub fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    xdg_base(
        std::env::var_os(var).as_deref(),
        std::env::var_os("HOME").as_deref(),
        fallback,
    )
}
