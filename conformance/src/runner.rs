//! Running cases: each in its own work directory and `--root`, several at a
//! time, followed by a leak check that is reported against the runtime.

use crate::case::{Case, Verdict};
use crate::catalogue::{self, Level};
use crate::ctx::Ctx;
use litmus_bundle::RootfsBuilder;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail { expected: String, seen: String },
    Skip { reason: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    pub name: &'static str,
    pub area: &'static str,
    pub level: Level,
    pub requirements: Vec<&'static str>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The case checks a rule newer than the spec version the runtime
    /// declares: run so that users see what the runtime does, reported
    /// apart and never part of the verdict.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub beyond_declared: bool,
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

pub struct RunOptions<'a> {
    pub runtime: &'a Path,
    pub rootfs: &'a RootfsBuilder,
    pub jobs: usize,
    /// The runtime-spec version the runtime claims; newer requirements skip.
    pub spec_version: &'a str,
    /// Keep the work directory of failed cases.
    pub keep_failed: bool,
}

/// Runs `cases`, calling `progress` as each finishes; results come back
/// in the order of `cases`.
pub fn run(
    cases: &[&'static Case],
    options: &RunOptions,
    progress: &(dyn Fn(&CaseResult) + Sync),
) -> Vec<CaseResult> {
    let order = crate::cases::start_order(cases);
    let started = parallel_map(&order, options.jobs, |&i| {
        let result = run_one(cases[i], options);
        progress(&result);
        result
    });
    remove_suite_cgroup_parents();
    // Back in the order of `cases`.
    let mut results: Vec<(usize, CaseResult)> = order.into_iter().zip(started).collect();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// `f` over `items` on `jobs` threads; results in the order of `items`.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(items.len()).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = f(item);
                results.lock().expect("no poisoned results")[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .expect("no poisoned results")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

fn run_one(case: &'static Case, options: &RunOptions) -> CaseResult {
    let started = Instant::now();
    let beyond_declared = !catalogue::version_le(case.since(), options.spec_version);
    let finish = |outcome| CaseResult {
        name: case.name,
        area: case.area.name(),
        level: case.level(),
        requirements: case.requirement_ids(),
        outcome,
        beyond_declared,
        duration: started.elapsed(),
    };
    if let Some((release, replacement)) = case.superseded() {
        if catalogue::version_le(release, options.spec_version) {
            return finish(Outcome::Skip {
                reason: format!(
                    "runtime-spec {release} replaced this rule by {replacement}; the runtime \
                     speaks {}",
                    options.spec_version
                ),
            });
        }
    }
    if let Some(reason) =
        crate::rootless::user().and_then(|_| crate::rootless::needs_root(case.name))
    {
        return finish(Outcome::Skip { reason: format!("needs root: {reason}") });
    }
    let work = match tempfile::Builder::new().prefix(&format!("litmus-{}-", case.name)).tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            return finish(Outcome::Fail {
                expected: "a work directory".into(),
                seen: e.to_string(),
            })
        }
    };
    let mut cx = Ctx::new(options.runtime, options.rootfs, work.path().to_path_buf(), case.name);
    let verdict = (case.run)(&mut cx);
    let leaks = cx.clean_up();
    let outcome = match (verdict, leaks.is_empty()) {
        (Err(Verdict::Fail { expected, seen }), _) => Outcome::Fail { expected, seen },
        (_, false) => Outcome::Fail {
            expected: "nothing left behind after delete --force".into(),
            seen: leaks.join("; "),
        },
        (Err(Verdict::Skip(reason)), true) => Outcome::Skip { reason },
        (Ok(()), true) => Outcome::Pass,
    };
    drop(cx);
    if options.keep_failed && matches!(outcome, Outcome::Fail { .. }) {
        let kept: PathBuf = work.keep();
        eprintln!("litmus: kept work directory of {} at {}", case.name, kept.display());
    }
    finish(outcome)
}

/// Cases that set cgroupsPath put containers under /litmus-suite; the
/// runtime removes the leaf on delete, the suite removes the parent.
pub fn remove_suite_cgroup_parents() {
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for entry in entries.flatten() {
        let _ = std::fs::remove_dir(entry.path().join("litmus-suite"));
    }
    let _ = std::fs::remove_dir("/sys/fs/cgroup/litmus-suite");
}
