//! Job names and the directory names made of them.

/// The name of a job whose command has no file name.
pub const DEFAULT_NAME: &str = "job";

/// The start of a fresh job directory's name for a job named `name`
/// (`NAME-XXXXXX` once a launcher adds its six random characters): the
/// name with every character but letters, digits, `.`, `_` and `-`
/// replaced by `_`, at most 40 of them, never starting with `.` or `-`;
/// [`DEFAULT_NAME`] when nothing is left.
pub fn dir_prefix(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    while out.starts_with(['.', '-']) {
        out.remove(0);
    }
    if out.chars().all(|c| c == '_') {
        return DEFAULT_NAME.to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_prefixes() {
        assert_eq!(dir_prefix("python3"), "python3");
        assert_eq!(dir_prefix("a/b c"), "a_b_c");
        assert_eq!(dir_prefix("..hidden"), "hidden");
        assert_eq!(dir_prefix("--x"), "x");
        assert_eq!(dir_prefix(""), "job");
        assert_eq!(dir_prefix("é"), "job");
        assert_eq!(dir_prefix(&"x".repeat(100)).len(), 40);
    }
}
