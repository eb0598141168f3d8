//! The key a position of a launcher file belongs to
//! (`launcher[0].host.memory`), from the document's own spans: errors
//! of the deserializer carry a span, and the key is read off the parsed
//! document rather than off serde's path (whose segments name the
//! internals of `Spanned`).

use std::fmt::Write as _;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The path of the innermost value of `text` that holds `span`: table
/// keys joined by `.`, array elements as `[i]`; empty at the top level (or
/// when `text` does not parse). A table holds what its own span holds and
/// what its keys and values hold (the span of a `[[launcher]]` table is its
/// header alone); a key (an unknown one, say) is its own path.
pub(crate) fn key_at(text: &str, span: &Range<usize>) -> String {
    let mut key = String::new();
    if let Ok(document) = DeTable::parse(text) {
        walk_table(document.get_ref(), span, &mut key);
    }
    key
}

fn holds(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

fn contains(value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> bool {
    holds(&value.span(), span)
        || match value.get_ref() {
            DeValue::Table(table) => table
                .iter()
                .any(|(k, v)| holds(&k.span(), span) || contains(v, span)),
            DeValue::Array(items) => items.iter().any(|v| contains(v, span)),
            _ => false,
        }
}

fn walk_table(table: &DeTable<'_>, span: &Range<usize>, key: &mut String) {
    for (name, value) in table {
        if holds(&name.span(), span) || contains(value, span) {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(name.get_ref());
            if !holds(&name.span(), span) {
                walk_value(value, span, key);
            }
            return;
        }
    }
}

fn walk_value(value: &Spanned<DeValue<'_>>, span: &Range<usize>, key: &mut String) {
    match value.get_ref() {
        DeValue::Table(table) => walk_table(table, span, key),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if contains(item, span) {
                    let _ = write!(key, "[{i}]");
                    walk_value(item, span, key);
                    return;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::key_at;

    #[test]
    fn keys_of_positions() {
        let text = "[[launcher]]\nname = \"a\"\nhost = { cores = 1, memory = \"x\" }\n\n[[launcher]]\nname = \"b\"\ntags = [\"t\", 3]\n";
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            key_at(text, &(start..start + needle.len()))
        };
        assert_eq!(at("\"x\""), "launcher[0].host.memory");
        assert_eq!(at("\"b\""), "launcher[1].name");
        assert_eq!(at("3"), "launcher[1].tags[1]");
        assert_eq!(
            at("[[launcher]]"),
            "launcher[0]",
            "a table's header is the table"
        );
        let blank = text.find("\n\n").unwrap() + 1;
        assert_eq!(key_at(text, &(blank..blank)), "");
        assert_eq!(key_at("not = [toml", &(0..3)), "");
    }
}
