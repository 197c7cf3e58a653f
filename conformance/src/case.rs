//! What a case is, what it concludes (`Verdict`), and the helpers that
//! state expectations. The context it runs in is `ctx.rs`.

use crate::catalogue::{self, Level, Requirement};
use serde::Serialize;

/// Where a case belongs; `--area` takes these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Lifecycle,
    Process,
    Filesystem,
    Namespaces,
    Devices,
    Hooks,
    Resources,
    Seccomp,
    Robustness,
    Security,
    Realworld,
    Engine,
    /// Configs drawn by the generated model (no fixed cases)
    Generated,
}

impl Area {
    pub fn name(self) -> &'static str {
        match self {
            Area::Lifecycle => "lifecycle",
            Area::Process => "process",
            Area::Filesystem => "filesystem",
            Area::Namespaces => "namespaces",
            Area::Devices => "devices",
            Area::Hooks => "hooks",
            Area::Resources => "resources",
            Area::Seccomp => "seccomp",
            Area::Robustness => "robustness",
            Area::Security => "security",
            Area::Realworld => "realworld",
            Area::Engine => "engine",
            Area::Generated => "generated",
        }
    }
}

/// One conformance case.
pub struct Case {
    pub name: &'static str,
    pub area: Area,
    /// The catalogue's requirements this case checks (constants of
    /// `catalogue::req`); a case must cite at least one.
    pub requirements: &'static [Requirement],
    pub run: fn(&mut Ctx) -> Checked,
}

impl Case {
    /// The strongest level among the requirements it checks.
    pub fn level(&self) -> Level {
        self.requirements
            .iter()
            .map(|r| r.level)
            .min()
            .unwrap_or(Level::May)
    }

    pub fn requirement_ids(&self) -> Vec<&'static str> {
        self.requirements.iter().map(|r| r.id).collect()
    }

    /// The newest spec version among its requirements.
    pub fn since(&self) -> &'static str {
        self.requirements
            .iter()
            .map(|r| r.since)
            .fold(
                "1.0.0",
                |a, b| if catalogue::version_le(a, b) { b } else { a },
            )
    }
}

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
            Verdict::Fail { expected, seen } => Verdict::Fail {
                expected,
                seen: format!("{seen} ({context})"),
            },
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
    Verdict::Fail {
        expected: expected.into(),
        seen: seen.into(),
    }
}

/// Fails unless `seen == expected`, naming `what`.
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, expected: T, seen: T) -> Checked {
    if expected == seen {
        Ok(())
    } else {
        Err(fail(
            format!("{what} = {expected:?}"),
            format!("{what} = {seen:?}"),
        ))
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

pub use crate::ctx::{BundleRef, Ctx, ProbeRun};
pub use crate::state_view::StateView;

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
