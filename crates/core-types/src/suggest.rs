//! "Did you mean" hints: the closest known word to a misspelt one
//! (Levenshtein distance, from `strsim`), within a third of its length.

/// The closest of `candidates` to `word`: at most one edit per three
/// characters of `word` (at least one), the first of equally close ones.
///
/// ```
/// use core_types::suggest::{closest, did_you_mean};
///
/// assert_eq!(closest("partiton", ["qos", "partition"]), Some("partition"));
/// assert_eq!(closest("zzz", ["qos", "partition"]), None);
/// assert_eq!(did_you_mean("clustr", ["cluster"]), " (did you mean `cluster`?)");
/// assert_eq!(did_you_mean("x", ["cluster"]), "");
/// ```
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)` for the closest candidate, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!(" (did you mean `{c}`?)"))
}
