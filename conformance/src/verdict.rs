//! What a case concludes, and the helpers that state an expectation.

/// Why a case did not pass.
#[derive(Debug)]
pub enum Verdict {
    Fail { expected: String, seen: String },
    Skip(String),
}

pub type Checked = Result<(), Verdict>;

impl Verdict {
    /// A failure with `context` added to what was seen (a skip unchanged).
    pub fn seen_also(self, context: &str) -> Verdict {
        match self {
            Verdict::Fail { expected, seen } => {
                Verdict::Fail { expected, seen: format!("{seen} ({context})") }
            }
            skip => skip,
        }
    }
}

/// Anything that went wrong driving the runtime is the runtime's failure
/// unless a case says otherwise.
impl<E: Into<anyhow::Error>> From<E> for Verdict {
    fn from(e: E) -> Self {
        Verdict::Fail {
            expected: "the runtime to carry out the operation".into(),
            seen: format!("{:#}", e.into()),
        }
    }
}

pub fn fail(expected: impl Into<String>, seen: impl Into<String>) -> Verdict {
    Verdict::Fail { expected: expected.into(), seen: seen.into() }
}

/// Fails unless `seen == expected`, naming `what`.
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, expected: T, seen: T) -> Checked {
    if expected == seen {
        Ok(())
    } else {
        Err(fail(format!("{what} = {expected:?}"), format!("{what} = {seen:?}")))
    }
}

/// Fails unless `condition`, describing both sides.
pub fn expect(condition: bool, expected: impl Into<String>, seen: impl Into<String>) -> Checked {
    if condition {
        Ok(())
    } else {
        Err(fail(expected, seen))
    }
}

#[cfg(test)]
mod tests {
    use super::{fail, Verdict};

    #[test]
    fn seen_also_adds_context_to_failures_only() {
        match fail("nothing left", "cgroup x").seen_also("`delete` exited 1") {
            Verdict::Fail { seen, .. } => assert_eq!(seen, "cgroup x (`delete` exited 1)"),
            skip => panic!("{skip:?}"),
        }
        assert!(matches!(
            Verdict::Skip("no".into()).seen_also("ctx"),
            Verdict::Skip(reason) if reason == "no"
        ));
    }
}
