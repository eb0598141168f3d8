//! The `state` file: a job's end, one line.

use std::path::Path;

use core_types::job::{FailReason, JobState};

use crate::JobDirError;

/// The word after the exit code of a job that ended with no space left in
/// its directory (`exited 1 nospace`).
pub(crate) const NO_SPACE_WORD: &str = "nospace";

/// Whether a `state` file's bytes say the job ended: a line that is not
/// blank, whole (the file ends with a newline). The blanks of the
/// reservation, and a state being written, say it did not (yet).
pub fn state_written(text: &[u8]) -> bool {
    text.ends_with(b"\n")
        && text
            .split(|&b| b == b'\n')
            .next()
            .is_some_and(|line| !line.iter().all(u8::is_ascii_whitespace))
}

/// Reads a `state` file.
pub fn parse_state(text: &[u8], path: &Path) -> Result<JobState, JobDirError> {
    let text = String::from_utf8_lossy(text);
    let line = text.lines().next().unwrap_or("").trim();
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let corrupt = || JobDirError::Corrupt {
        path: path.to_path_buf(),
        reason: format!(
            "unknown state `{line}` (expected `exited N`, `exited N nospace`, `timeout`, \
             `cancelled`, `lost` or `error ...`)"
        ),
    };
    Ok(match word {
        "exited" => {
            let mut words = rest.split_whitespace();
            let code = words.next().and_then(|w| w.parse::<i32>().ok());
            match (code, words.next(), words.next()) {
                (Some(code), Some(NO_SPACE_WORD), None) => {
                    JobState::Failed(FailReason::NoSpace(code))
                }
                (Some(0), None, None) => JobState::Done,
                (Some(code), None, None) => JobState::Failed(FailReason::ExitCode(code)),
                _ => return Err(corrupt()),
            }
        }
        "timeout" => JobState::Failed(FailReason::Timeout),
        "cancelled" => JobState::Failed(FailReason::Cancelled),
        "lost" => JobState::Failed(FailReason::Lost),
        "error" => JobState::Failed(FailReason::Other(rest.trim().to_owned())),
        _ => return Err(corrupt()),
    })
}

/// The `state` line the launcher writes itself (a job cancelled before it
/// started, or one that could not start).
pub fn state_line(state: &JobState) -> String {
    match state {
        JobState::Failed(FailReason::Cancelled) => "cancelled\n".into(),
        JobState::Failed(FailReason::Timeout) => "timeout\n".into(),
        JobState::Failed(FailReason::ExitCode(code)) => format!("exited {code}\n"),
        JobState::Failed(FailReason::NoSpace(code)) => format!("exited {code} {NO_SPACE_WORD}\n"),
        JobState::Failed(FailReason::Other(text)) => {
            format!("error {}\n", text.replace('\n', " "))
        }
        JobState::Done => "exited 0\n".into(),
        JobState::Failed(FailReason::Lost) | JobState::Scheduled | JobState::Running => {
            "lost\n".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        let path = Path::new("state");
        for state in [
            JobState::Done,
            JobState::Failed(FailReason::ExitCode(3)),
            JobState::Failed(FailReason::Cancelled),
            JobState::Failed(FailReason::Timeout),
            JobState::Failed(FailReason::Lost),
            JobState::Failed(FailReason::Other("cannot start: x".into())),
            JobState::Failed(FailReason::NoSpace(0)),
            JobState::Failed(FailReason::NoSpace(7)),
        ] {
            assert_eq!(
                parse_state(state_line(&state).as_bytes(), path).unwrap(),
                state
            );
        }
        assert_eq!(
            parse_state(b"timeout 143\n", path).unwrap(),
            JobState::Failed(FailReason::Timeout)
        );
        // A line written over the reserved blanks, when they could not be cut.
        assert_eq!(
            parse_state(format!("{:<63}\n", "exited 1 nospace").as_bytes(), path).unwrap(),
            JobState::Failed(FailReason::NoSpace(1))
        );
        assert!(state_written(format!("{:<63}\n", "exited 0").as_bytes()));
        assert!(state_written(b"cancelled\n"));
        for not_yet in [&b""[..], &[b' '; 64][..], b"exited 1", b"exit      ", b"\n"] {
            assert!(!state_written(not_yet), "{not_yet:?}");
        }
        for bad in ["exited", "exited x", "exited 1 full", "exited 1 nospace x"] {
            assert!(parse_state(bad.as_bytes(), path).is_err(), "{bad}");
        }
        let err = parse_state(b"bogus", path).unwrap_err().to_string();
        assert!(err.contains("bogus") && err.contains("state"), "{err}");
    }
}
