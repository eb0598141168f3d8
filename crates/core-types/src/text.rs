//! Text from users, made safe to print: a name that holds a NUL, a line
//! break or a right-to-left override must not reach a terminal raw.

use std::borrow::Cow;

/// Whether `c` changes how the text around it reads on a terminal:
/// control characters (C0, DEL, C1) and the invisible formatting ones
/// (bidirectional overrides and isolates, zero-width characters, the byte
/// order mark).
fn unsafe_to_print(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` with each such character written as `\u{…}` (`\n`, `\t`, `\r`
/// as themselves escaped); borrowed when there is none.
///
/// ```
/// use core_types::text::printable;
///
/// assert_eq!(printable("gpu-fast"), "gpu-fast");
/// assert_eq!(printable("a\nb\u{0}c"), "a\\nb\\0c");
/// assert_eq!(printable("evil\u{202E}txt"), "evil\\u{202e}txt");
/// ```
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_to_print) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_to_print(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An error and its causes, `: `-joined, as the `launch` binary prints
/// them.
///
/// ```
/// use core_types::text::error_chain;
///
/// #[derive(Debug)]
/// struct CannotRead(std::io::Error);
/// impl std::fmt::Display for CannotRead {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("cannot read `x`")
///     }
/// }
/// impl std::error::Error for CannotRead {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let err = CannotRead(std::io::Error::other("disk on fire"));
/// assert_eq!(error_chain(&err), "cannot read `x`: disk on fire");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cause = e.source();
    }
    out
}
