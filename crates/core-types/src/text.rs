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
