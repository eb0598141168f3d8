//! The conformance cases where experimaestro's greedy pairing misses a
//! valid assignment: the greedy pairing fails, ours is valid.

use crate::conformance::cases;

#[test]
fn the_six_cases_where_greedy_pairing_fails() {
    let differing: Vec<_> = cases()
        .into_iter()
        .filter(|c| c.expected != c.experimaestro)
        .collect();
    assert_eq!(differing.len(), 6);
    for case in differing {
        let found = matcher::match_requirement(&case.requirement, &case.host)
            .unwrap_or_else(|| panic!("line {}: {} should match", case.line, case.expr));
        let alt = &case.requirement.alternatives[found.alternative];
        let devices = &case.host.accelerators;
        assert_eq!(
            matcher::greedy_assignment(&alt.accelerators, devices),
            None,
            "line {}: greedy pairing should fail",
            case.line
        );
        assert!(!found.assignment.is_greedy(), "line {}", case.line);
        let assignment = found.assignment.to_vec();
        crate::assert_valid(&alt.accelerators, devices, &assignment);
        assert!(crate::brute_force(&alt.accelerators, devices));
        // Hopcroft–Karp alone finds one too.
        let hk = matcher::bipartite_assignment(&alt.accelerators, devices).unwrap();
        crate::assert_valid(&alt.accelerators, devices, &hk);
        // experimaestro either found nothing or settled for a later alternative.
        let theirs = case.experimaestro["alternative"].as_u64();
        assert!(
            theirs.is_none_or(|t| t as usize > found.alternative),
            "line {}",
            case.line
        );
    }
}
