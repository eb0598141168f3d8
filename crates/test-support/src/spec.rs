//! Processes the connectors' tests start again and again.

use std::ffi::OsString;

use core_types::job::{ProcessSpec, StdioSpec};

/// `printf '%s\0' WORDS...`: writes each of `words` back, NUL-terminated,
/// which shows that arguments reach the program verbatim.
///
/// ```
/// use std::ffi::OsString;
///
/// let words = [OsString::from("a b"), OsString::new()];
/// let spec = test_support::spec::printf_words(&words);
/// assert_eq!(spec.args.len(), 3);
/// assert_eq!(test_support::spec::nul_terminated(&words), b"a b\0\0");
/// ```
pub fn printf_words(words: &[OsString]) -> ProcessSpec {
    ProcessSpec::new("printf")
        .args(["%s\\0"])
        .args(words.iter().cloned())
}

/// What [`printf_words`] writes: each word, NUL-terminated.
pub fn nul_terminated(words: &[OsString]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|w| w.as_encoded_bytes().iter().copied().chain([0]))
        .collect()
}

/// `sh -c script`, with no input, its standard output to `stdout`, its
/// standard error discarded.
pub fn sh_with_stdout(script: &str, stdout: StdioSpec) -> ProcessSpec {
    ProcessSpec::new("sh")
        .args(["-c", script])
        .stdio(StdioSpec::Null, stdout, StdioSpec::Null)
}

/// Words a shell would mangle: spaces, quotes, substitutions (`$(touch
/// /tmp/connector-ssh-pwned)` among them: a test checks that file never
/// appears), line breaks, bytes that are not UTF-8, the empty word, globs,
/// `~`, backslashes.
pub fn hostile_words() -> Vec<OsString> {
    use std::os::unix::ffi::OsStringExt;
    vec![
        OsString::from("a b"),
        OsString::from("it's \"quoted\""),
        OsString::from("$(touch /tmp/connector-ssh-pwned) `id`; exit 1 && rm -rf ~"),
        OsString::from("line\nbreak\n\n"),
        OsString::from_vec(b"bytes\xff\xfe not utf-8".to_vec()),
        OsString::new(),
        OsString::from("-n"),
        OsString::from("*"),
        OsString::from("~"),
        OsString::from("back\\slash\\"),
        OsString::from("'"),
        OsString::from("\t tab"),
        OsString::from("${HOME}"),
    ]
}
