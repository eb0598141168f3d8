//! The reference answers computed by experimaestro 2.7.0
//! (`tests/data/parse.jsonl`, copied from the project's conformance suite).

use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    expr: String,
    valid: bool,
    #[serde(default)]
    value: Option<serde_json::Value>,
}

fn cases() -> Vec<Case> {
    include_str!("../data/parse.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("conformance line is JSON"))
        .collect()
}

/// Spellings experimaestro rejects and we accept on purpose (the units of
/// the README's "The language").
const EXTENSIONS: &[&str] = &["mem=4T", "2minutes"];

#[test]
fn the_suite_is_all_there() {
    let cases = cases();
    assert_eq!(cases.len(), 402);
    assert_eq!(cases.iter().filter(|c| c.valid).count(), 291);
}

#[test]
fn valid_expressions_have_experimaestros_values() {
    for case in cases().into_iter().filter(|c| c.valid) {
        let req = reqparse::parse(&case.expr)
            .unwrap_or_else(|e| panic!("{:?} must parse:\n{e}", case.expr));
        let got = serde_json::to_value(&req).unwrap();
        assert_eq!(Some(&got), case.value.as_ref(), "value of {:?}", case.expr);
    }
}

#[test]
fn invalid_expressions_are_rejected_unless_they_use_an_extension() {
    let mut accepted_extensions = 0;
    for case in cases().into_iter().filter(|c| !c.valid) {
        let uses_extension = EXTENSIONS.iter().any(|x| case.expr.contains(x));
        match reqparse::parse(&case.expr) {
            Ok(req) => {
                assert!(
                    uses_extension,
                    "{:?} must be rejected, got {req}",
                    case.expr
                );
                accepted_extensions += 1;
            }
            Err(err) => {
                assert!(
                    !uses_extension,
                    "{:?} uses only an extension, yet:\n{err}",
                    case.expr
                );
                // Every error points inside (or just past) the input.
                assert!(err.offset() <= case.expr.len());
            }
        }
    }
    assert_eq!(accepted_extensions, 15);
}

#[test]
fn extensions_replaced_by_experimaestros_spelling_parse_to_the_same_value() {
    let a = reqparse::parse("duration=2minutes & cuda(mem=4T)").unwrap();
    let b = reqparse::parse("duration=2m & cuda(mem=4000G)").unwrap();
    assert_eq!(a, b);
}

#[test]
fn canonical_form_round_trips_on_every_valid_case() {
    for case in cases().into_iter().filter(|c| c.valid) {
        let req = reqparse::parse(&case.expr).unwrap();
        let text = req.to_string();
        let again = reqparse::parse(&text)
            .unwrap_or_else(|e| panic!("canonical {text:?} of {:?} must parse:\n{e}", case.expr));
        assert_eq!(again, req, "{text}");
        assert_eq!(
            again.to_string(),
            text,
            "the canonical form is a fixed point"
        );
    }
}
