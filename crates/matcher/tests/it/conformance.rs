//! `tests/data/match.jsonl`: 400 hosts and expressions with the expected
//! answer (ours) and experimaestro 2.7.0's.

use core_types::{HostSpec, Requirement};
use serde_json::Value;

pub struct Case {
    pub line: usize,
    pub host: HostSpec,
    pub expr: String,
    pub requirement: Requirement,
    pub expected: Value,
    pub experimaestro: Value,
}

pub fn cases() -> Vec<Case> {
    let text = include_str!("../data/match.jsonl");
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let value: Value = serde_json::from_str(line).unwrap();
            let source = format!("match.jsonl:{}", i + 1);
            let host = hostspec::from_json_str(&value["host"].to_string(), &source)
                .unwrap_or_else(|e| panic!("{e}"));
            let expr = value["expr"].as_str().unwrap().to_owned();
            let requirement = reqparse::parse(&expr).unwrap_or_else(|e| panic!("{source}: {e}"));
            Case {
                line: i + 1,
                host,
                expr,
                requirement,
                expected: value["expected"].clone(),
                experimaestro: value["experimaestro"].clone(),
            }
        })
        .collect()
}

/// The JSON form of a match, as in the file.
fn as_json(found: Option<&matcher::Match>) -> Value {
    match found {
        None => serde_json::json!({"matched": false}),
        Some(m) => {
            serde_json::json!({"matched": true, "alternative": m.alternative, "score": m.score})
        }
    }
}

fn same(got: &Value, want: &Value) -> bool {
    got["matched"] == want["matched"]
        && got["alternative"].as_u64() == want["alternative"].as_u64()
        && got["score"].as_f64() == want["score"].as_f64()
}

#[test]
fn every_case_matches_expected() {
    let cases = cases();
    assert_eq!(cases.len(), 400);
    let mut failures = Vec::new();
    for case in &cases {
        let found = matcher::match_requirement(&case.requirement, &case.host);
        let got = as_json(found.as_ref());
        if !same(&got, &case.expected) {
            failures.push(format!(
                "line {}: {} => {got}, expected {}",
                case.line, case.expr, case.expected
            ));
        }
        if let Some(m) = &found {
            let alt = &case.requirement.alternatives[m.alternative];
            crate::assert_valid(
                &alt.accelerators,
                &case.host.accelerators,
                &m.assignment.to_vec(),
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn prepared_hosts_and_explanations_agree() {
    for case in cases() {
        let prepared = matcher::PreparedHost::new(&case.host);
        let found = matcher::match_requirement(&case.requirement, &case.host);
        assert_eq!(prepared.match_requirement(&case.requirement), found);
        let one = matcher::match_hosts(&case.requirement, std::slice::from_ref(&case.host));
        assert_eq!(
            one.as_ref().map(|m| (m.host, m.alternative)),
            found.as_ref().map(|m| (0, m.alternative))
        );
        for alt in &case.requirement.alternatives {
            let explained = matcher::explain_alternative(alt, &case.host);
            assert_eq!(
                explained.as_ref().ok(),
                matcher::match_alternative(alt, &case.host).as_ref()
            );
            assert_eq!(
                matcher::mismatches(alt, &case.host).is_empty(),
                explained.is_ok(),
                "line {}",
                case.line
            );
        }
    }
}

/// experimaestro's answer is ours with the greedy pairing in place of the
/// bipartite matching: this checks our reading of its algorithm.
#[test]
fn greedy_only_reproduces_experimaestro() {
    for case in cases() {
        let greedy_match = case
            .requirement
            .alternatives
            .iter()
            .enumerate()
            .find(|(_, alt)| {
                matcher::match_alternative(alt, &case.host).is_some()
                    && matcher::greedy_assignment(&alt.accelerators, &case.host.accelerators)
                        .is_some()
            });
        let got = match greedy_match {
            None => serde_json::json!({"matched": false}),
            Some((i, _)) => {
                serde_json::json!({"matched": true, "alternative": i, "score": case.host.priority})
            }
        };
        assert!(
            same(&got, &case.experimaestro),
            "line {}: {} => {got}, experimaestro {}",
            case.line,
            case.expr,
            case.experimaestro
        );
    }
}

#[test]
fn several_hosts_at_once() {
    let cases = cases();
    let hosts: Vec<HostSpec> = cases.iter().map(|c| c.host.clone()).collect();
    let prepared = matcher::PreparedHosts::new(&hosts);
    assert_eq!(prepared.len(), hosts.len());
    for case in cases.iter().step_by(7) {
        let best = matcher::match_hosts(&case.requirement, &hosts);
        assert_eq!(
            prepared.match_requirement(&case.requirement),
            best,
            "line {}",
            case.line
        );
        // Nothing scores better than the chosen host.
        if let Some(best) = &best {
            for (i, host) in hosts.iter().enumerate() {
                if let Some(m) = matcher::match_requirement(&case.requirement, host) {
                    assert!(m.score < best.score || (m.score <= best.score && i >= best.host));
                }
            }
        } else {
            assert!(
                hosts
                    .iter()
                    .all(|h| matcher::match_requirement(&case.requirement, h).is_none())
            );
        }
    }
}
