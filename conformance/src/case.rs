//! What a case is: its name, area, the requirements it proves and how it
//! runs (in a `Ctx`, to a `Verdict`).

use crate::catalogue::{self, Level, Requirement};
use crate::ctx::Ctx;
use serde::Serialize;

pub use crate::verdict::{expect, expect_eq, fail, Checked, Verdict};

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
    /// What a container run by an unprivileged user (`--rootless`) must
    /// still guarantee
    Rootless,
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
            Area::Rootless => "rootless",
            Area::Generated => "generated",
        }
    }
}

/// An area module's list of cases, `CASES`: under each area, each case
/// function with the catalogue requirements (`catalogue::req` names) it
/// proves. A case is named after its function, so the two cannot differ.
#[macro_export]
macro_rules! cases {
    ($($area:ident: { $($run:ident => [$($req:ident),+ $(,)?],)+ })+) => {
        pub const CASES: &[$crate::case::Case] = &[$($($crate::case::Case {
            name: stringify!($run),
            area: $crate::case::Area::$area,
            requirements: &[$($crate::catalogue::req::$req),+],
            run: $run,
        },)+)+];
    };
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
        self.requirements.iter().map(|r| r.level).min().unwrap_or(Level::May)
    }

    pub fn requirement_ids(&self) -> Vec<&'static str> {
        self.requirements.iter().map(|r| r.id).collect()
    }

    /// The earliest release that replaced one of its requirements, with the
    /// replacement (a runtime speaking it is judged by the replacement).
    pub fn superseded(&self) -> Option<(&'static str, &'static str)> {
        let mut replaced: Vec<_> =
            self.requirements.iter().filter_map(|r| catalogue::superseded(r.id)).collect();
        replaced.sort_by_key(|(release, _)| catalogue::release(release));
        replaced.first().copied()
    }

    /// The newest spec version among its requirements.
    pub fn since(&self) -> &'static str {
        self.requirements.iter().map(|r| r.since).fold("1.0.0", |a, b| {
            if catalogue::version_le(a, b) {
                b
            } else {
                a
            }
        })
    }
}
