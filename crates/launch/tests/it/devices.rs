//! A job sees exactly the devices it was given: the caller's
//! `CUDA_VISIBLE_DEVICES`, `ROCR_VISIBLE_DEVICES` and `HIP_VISIBLE_DEVICES`
//! never reach it; each is empty when it has no device of that kind.

use std::path::Path;

use crate::cli_find::launch_in;

/// Prints the three variables, `unset` for one that is not set.
const SHOW: &str = "printf '[%s][%s][%s]' \"${CUDA_VISIBLE_DEVICES-unset}\" \
                    \"${ROCR_VISIBLE_DEVICES-unset}\" \"${HIP_VISIBLE_DEVICES-unset}\"";

const FILE: &str = "[[launcher]]\nname = \"box\"\ntype = \"direct\"\n\
    host = { cores = 2, memory = \"4GiB\", accelerators = [\
    { kind = \"cuda\", memory = \"8GiB\" }, { kind = \"rocm\", memory = \"8GiB\", count = 2 }] }\n";

/// `launch run [--config FILE] EXPR -- sh -c SHOW` with the caller's own
/// device variables set: what the job printed.
fn seen(home: &Path, config: Option<&Path>, expr: &str) -> String {
    let dir = home.join(format!(
        "jobs/{}-{}",
        expr.replace(|c: char| !c.is_alphanumeric(), "_"),
        config.is_some()
    ));
    let dir = dir.to_str().unwrap();
    let mut args = vec!["run"];
    if let Some(file) = config {
        args.extend(["--config", file.to_str().unwrap()]);
    }
    args.extend(["--job-dir", dir, expr, "--", "sh", "-c", SHOW]);
    let env = [
        ("CUDA_VISIBLE_DEVICES", Path::new("7")),
        ("ROCR_VISIBLE_DEVICES", Path::new("3")),
        ("HIP_VISIBLE_DEVICES", Path::new("5")),
    ];
    let out = launch_in(home, &args, &env);
    crate::support::assert_ok(&out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_callers_device_variables_never_reach_a_job() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("launchers.toml");
    std::fs::write(&file, FILE).unwrap();
    // This machine, as detected.
    assert_eq!(seen(home.path(), None, "cpu(cores=1)"), "[][][]");
    for (expr, expected) in [
        ("cpu(cores=1)", "[][][]"),
        ("cuda(mem=1GiB)", "[0][][]"),
        ("rocm(mem=1GiB)", "[][0][0]"),
        ("rocm(mem=1GiB) * 2", "[][0,1][0,1]"),
    ] {
        assert_eq!(seen(home.path(), Some(&file), expr), expected, "{expr}");
    }
}
