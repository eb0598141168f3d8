//! Host files: what a machine, a Slurm partition or a node type offers,
//! written in TOML or JSON, and the detection of the local machine.
//!
//! A host file gives `cores`, `memory` (a size string such as `"32GiB"` or an
//! integer of bytes), optionally `mem_per_cpu` and `cpu_per_gpu`,
//! `max_duration` (a duration string such as `"10d"` or integer seconds;
//! absent or 0 means unlimited), `priority`, `min_gpu` and a list of
//! `accelerators`, each with a `kind` (`cuda`, `mps`, `rocm`, `generic`, or
//! `gpu` for `generic`), a `memory`, optionally a `min_memory`, a `model` and
//! a `count` (1 to 1024) that expands into that many accelerators. Unknown
//! keys are errors, and errors name the file, the position, the key and why.
//!
//! ```
//! let text = r#"
//! cores = 16
//! memory = "32GiB"
//! max_duration = "10d"
//! accelerators = [
//!   { kind = "cuda", memory = "32GiB", model = "A100", count = 4 },
//! ]
//! "#;
//! let host = hostspec::from_toml_str(text, "hosts/a.toml")?;
//! assert_eq!(host.cores, 16);
//! assert_eq!(host.accelerators.len(), 4);
//! assert_eq!(host.max_duration.seconds(), 864_000);
//!
//! // Written back, the four accelerators are one entry again.
//! let written = hostspec::to_toml_string(&host);
//! assert!(written.contains(r#"{ kind = "cuda", memory = "32GiB", model = "A100", count = 4 }"#));
//! assert_eq!(hostspec::from_toml_str(&written, "again.toml")?, host);
//!
//! let err = hostspec::from_json_str(
//!     r#"{"cores": 1, "memory": 1, "accelerators": [{"kind": "cuda", "memory": 1, "count": 0}]}"#,
//!     "hosts/b.json",
//! )
//! .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "hosts/b.json:1:83: accelerators[0].count: 0 is not a valid count (1 to 1024)"
//! );
//! # Ok::<(), hostspec::HostSpecError>(())
//! ```

mod detect;
mod error;
mod schema;
mod write;

use std::path::Path;

use core_types::HostSpec;

pub use detect::{detect, parse_cpuinfo, parse_meminfo, parse_nvidia_smi, parse_sysctl_memsize};
pub use error::{HostSpecError, KeyPrefix, Position, line_column};
pub use schema::{HostTable, MAX_ACCELERATORS, Priority, parse_kind};
pub use write::to_toml_string;

use schema::RawHost;

/// The host file format, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.toml`
    Toml,
    /// `.json`
    Json,
}

impl Format {
    /// The format a file name's extension says (`.toml` or `.json`, in any
    /// letter case), or `None`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("toml") {
            Some(Format::Toml)
        } else if ext.eq_ignore_ascii_case("json") {
            Some(Format::Json)
        } else {
            None
        }
    }
}

/// Reads a host from TOML text; `source_name` names it in errors (usually
/// the file name).
pub fn from_toml_str(text: &str, source_name: &str) -> Result<HostSpec, HostSpecError> {
    let deserializer = match toml::Deserializer::parse(text) {
        Ok(d) => d,
        Err(err) => return Err(toml_error(text, source_name, String::new(), &err)),
    };
    match serde_path_to_error::deserialize::<_, RawHost>(deserializer) {
        Ok(raw) => Ok(raw.into_host()),
        Err(err) => {
            let key = key_of(err.path());
            Err(toml_error(text, source_name, key, &err.into_inner()))
        }
    }
}

/// A TOML syntax or schema error, with the line and column of its span.
fn toml_error(text: &str, source_name: &str, key: String, err: &toml::de::Error) -> HostSpecError {
    let (line, column) = match err.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    HostSpecError::Invalid {
        file: source_name.to_owned(),
        line,
        column,
        key,
        message: err.message().trim().to_owned(),
    }
}

/// Reads a host from JSON text; `source_name` names it in errors (usually
/// the file name).
pub fn from_json_str(text: &str, source_name: &str) -> Result<HostSpec, HostSpecError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let raw = serde_path_to_error::deserialize::<_, RawHost>(&mut deserializer).map_err(|err| {
        let key = key_of(err.path());
        json_error(source_name, key, &err.into_inner())
    })?;
    deserializer
        .end()
        .map_err(|err| json_error(source_name, String::new(), &err))?;
    Ok(raw.into_host())
}

/// Reads a host file: TOML or JSON by its extension.
pub fn load(path: impl AsRef<Path>) -> Result<HostSpec, HostSpecError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let format = Format::from_path(path)
        .ok_or_else(|| HostSpecError::UnknownFormat { file: name.clone() })?;
    let text = std::fs::read_to_string(path).map_err(|source| HostSpecError::Read {
        file: name.clone(),
        source,
    })?;
    match format {
        Format::Toml => from_toml_str(&text, &name),
        Format::Json => from_json_str(&text, &name),
    }
}

/// The key path of an error, empty at the top level.
fn key_of(path: &serde_path_to_error::Path) -> String {
    let key = path.to_string();
    if key == "." { String::new() } else { key }
}

fn json_error(source_name: &str, key: String, err: &serde_json::Error) -> HostSpecError {
    let (line, column) = if err.line() == 0 {
        (None, None)
    } else {
        (Some(err.line()), Some(err.column()))
    };
    let mut message = err.to_string();
    // serde_json appends the position; it is shown in front instead.
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message.truncate(stripped.len());
    }
    HostSpecError::Invalid {
        file: source_name.to_owned(),
        line,
        column,
        key,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.toml")), Some(Format::Toml));
        assert_eq!(Format::from_path(Path::new("b.JSON")), Some(Format::Json));
        assert_eq!(Format::from_path(Path::new("b.yaml")), None);
        assert_eq!(Format::from_path(Path::new("toml")), None);
    }

    #[test]
    fn toml_errors_name_line_key_and_reason() {
        let text = "cores = 4\nmemory = \"8GiB\"\naccelerators = [\n  { kind = \"cuda\", memory = \"8GiB\" },\n  { kind = \"cuda\", memory = \"8GiB\", count = 0 },\n]\n";
        let err = from_toml_str(text, "hosts/a.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "hosts/a.toml:5:45: accelerators[1].count: 0 is not a valid count (1 to 1024)"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = from_toml_str("cores = 1\nmemory = 1\ncolor = \"red\"\n", "h.toml").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("h.toml:3:1: color: unknown field `color`"),
            "{text}"
        );
        let err = from_json_str(
            r#"{"cores": 1, "memory": 1, "accelerators": [{"kind": "cuda", "memory": 1, "mem": 2}]}"#,
            "h.json",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("accelerators[0].mem: unknown field `mem`"),
            "{text}"
        );
    }

    #[test]
    fn json_trailing_text_is_an_error() {
        let err = from_json_str(r#"{"cores": 1, "memory": 1} x"#, "h.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("h.json:1:27: trailing characters"),
            "{err}"
        );
    }

    #[test]
    fn missing_required_keys() {
        let err = from_toml_str("cores = 1\n", "h.toml").unwrap_err();
        assert!(err.to_string().contains("missing field `memory`"), "{err}");
        let err = from_json_str("{}", "h.json").unwrap_err();
        assert!(err.to_string().contains("missing field `cores`"), "{err}");
    }

    #[test]
    fn sizes_and_durations_accept_strings_and_integers() {
        let a = from_toml_str(
            "cores = 1\nmemory = \"1GiB\"\nmax_duration = \"1h\"\n",
            "a.toml",
        )
        .unwrap();
        let b = from_json_str(
            r#"{"cores": 1, "memory": 1073741824, "max_duration": 3600}"#,
            "b.json",
        )
        .unwrap();
        assert_eq!(a, b);
        let err = from_toml_str("cores = 1\nmemory = \"1 parsec\"\n", "c.toml").unwrap_err();
        assert!(
            err.to_string().contains("memory: unknown size unit"),
            "{err}"
        );
        let err = from_toml_str("cores = 1\nmemory = -1\n", "c.toml").unwrap_err();
        assert!(err.to_string().contains("memory: -1 is negative"), "{err}");
    }
}
