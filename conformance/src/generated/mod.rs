//! Generated configs: proptest draws containers from [`model`] (within
//! what the host can give), each runs through the runtime with the probe,
//! and [`check`] compares the probe's view with the config. A failing
//! config is shrunk to the smallest one that still fails before it is
//! reported, with the seed that reproduces it.
//!
//! Config number `i` of a run with seed `S` is drawn from seed `S + i`
//! alone, so `--generated 1 --seed S+i` reruns exactly that config.

pub mod check;
pub mod model;

use crate::case::Verdict;
use crate::cases::namespaces::NamespaceHolder;
use crate::catalogue::{req, Level, Requirement};
use crate::ctx::{Ctx, ProbeRun};
use crate::runner::{self, CaseResult, Outcome, RunOptions};
use model::{Generated, Host};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The seed CI and `cargo xtask conformance` use, so runs are comparable.
pub const DEFAULT_SEED: u64 = 20_261_123;
/// Runs spent shrinking one failure, at most, and time: proptest drops
/// one element per step, so a big config needs a few hundred.
const SHRINK_STEPS: u32 = 400;
const SHRINK_TIME: Duration = Duration::from_secs(90);
/// The requirement every generated config checks: the container is what
/// config.json says.
pub const REQUIREMENTS: &[Requirement] = &[req::RUNTIME_LIFECYCLE_CREATE_ENV];

/// How many configs to try: a count, or a time budget ("90s", "5m").
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    Count(u64),
    Time(Duration),
}

impl FromStr for Budget {
    type Err = String;

    fn from_str(s: &str) -> Result<Budget, String> {
        if let Ok(count) = s.parse::<u64>() {
            return Ok(Budget::Count(count));
        }
        humantime::parse_duration(s)
            .map(Budget::Time)
            .map_err(|_| format!("{s:?}: a count (25) or a time budget (90s, 5m)"))
    }
}

impl Budget {
    /// The seeds to try; with a time budget, more than will be used.
    fn seeds(self, base: u64) -> Vec<u64> {
        let count = match self {
            Budget::Count(n) => n,
            Budget::Time(_) => 100_000,
        };
        (0..count).map(|i| base.wrapping_add(i)).collect()
    }

    fn deadline(self) -> Option<Instant> {
        match self {
            Budget::Count(_) => None,
            Budget::Time(d) => Some(Instant::now() + d),
        }
    }
}

/// The config drawn from `seed`, as a proptest value tree (for shrinking).
fn draw(host: &Host, seed: u64) -> impl ValueTree<Value = Generated> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    model::strategy(host).new_tree(&mut runner).expect("the strategy never rejects")
}

/// A config `problem` says is wrong, shrunk.
#[derive(Debug)]
pub struct Found {
    pub minimal: Generated,
    pub problem: String,
    pub shrink_steps: u32,
}

/// Draws the config of `seed`; when `problem` finds something wrong with
/// it, shrinks it: first proptest's simplify/complicate walk (numbers
/// toward zero, lists shorter), then [`reduce`] on the config itself.
pub fn explore(
    host: &Host,
    seed: u64,
    max_steps: u32,
    max_time: Duration,
    problem: impl Fn(&Generated) -> Option<String>,
) -> Option<Found> {
    let deadline = Instant::now() + max_time;
    let mut tree = draw(host, seed);
    let mut found =
        Found { minimal: tree.current(), problem: problem(&tree.current())?, shrink_steps: 0 };
    // proptest shrinks one tuple element at a time, to the end: give it a
    // share of the budget and let the field-wise pass do the rest.
    let mut steps = 0;
    let mut failing = true;
    while steps < max_steps / 4 && Instant::now() < deadline {
        let moved = if failing { tree.simplify() } else { tree.complicate() };
        if !moved {
            break;
        }
        steps += 1;
        let candidate = tree.current();
        match problem(&candidate) {
            Some(why) => {
                found = Found {
                    minimal: candidate,
                    problem: why,
                    shrink_steps: found.shrink_steps + 1,
                };
                failing = true;
            }
            None => failing = false,
        }
    }
    Some(reduce(found, max_steps - steps, deadline, &problem))
}

/// The statements a problem is about: the text before the first ':' of
/// each line ("umask", "sysctl kernel.msgmax", "expected create to succeed").
fn signature(problem: &str) -> BTreeSet<&str> {
    problem.lines().map(|line| line.split(':').next().unwrap_or(line)).collect()
}

/// The field-wise pass: drop whole fields of the config (back to the
/// fixture's value), then single entries of its lists and maps, keeping
/// every cut after which the problem is still about (some of) the same
/// statements. A cut that makes a different problem (create now refuses
/// the config) is not the same failure, and is undone.
fn reduce(
    mut found: Found,
    max_steps: u32,
    deadline: Instant,
    problem: &impl Fn(&Generated) -> Option<String>,
) -> Found {
    let original = found.problem.clone();
    let target = signature(&original);
    let mut steps = 0;
    let mut current = found.minimal.to_json();
    'progress: loop {
        for candidate in cuts(&current) {
            if steps >= max_steps || Instant::now() >= deadline {
                break 'progress;
            }
            let Ok(model) = serde_json::from_value::<Generated>(candidate.clone()) else {
                continue;
            };
            let model = model.normalized();
            steps += 1;
            let Some(why) = problem(&model) else {
                continue;
            };
            let same_failure = signature(&why).is_subset(&target);
            if same_failure {
                current = model.to_json();
                found =
                    Found { minimal: model, problem: why, shrink_steps: found.shrink_steps + 1 };
                continue 'progress;
            }
        }
        break;
    }
    found
}

/// Every config one cut smaller than `value`: one field fewer, or one
/// entry fewer in one list or map.
fn cuts(value: &serde_json::Value) -> Vec<serde_json::Value> {
    use serde_json::Value;
    let Value::Object(fields) = value else {
        return Vec::new();
    };
    let with = |key: &str, field: Option<Value>| {
        let mut cut = fields.clone();
        match field {
            Some(v) => cut.insert(key.to_string(), v),
            None => cut.remove(key),
        };
        Value::Object(cut)
    };
    let mut out: Vec<Value> = fields.keys().map(|k| with(k, None)).collect();
    for (key, field) in fields {
        match field {
            Value::Array(items) if items.len() > 1 => {
                for i in 0..items.len() {
                    let mut fewer = items.clone();
                    fewer.remove(i);
                    out.push(with(key, Some(Value::Array(fewer))));
                }
            }
            Value::Object(map) if map.len() > 1 => {
                for entry in map.keys() {
                    let mut fewer = map.clone();
                    fewer.remove(entry);
                    out.push(with(key, Some(Value::Object(fewer))));
                }
            }
            _ => {}
        }
    }
    out
}

/// One generated container through one runtime.
pub struct Observed {
    pub run: Result<ProbeRun, String>,
    pub leaks: Vec<String>,
    /// The inode of each namespace the config joined (its holder's).
    pub joined: Vec<(model::Namespace, u64)>,
    /// The phases whose hooks ran, in the order they wrote the log.
    pub hooks_ran: Vec<String>,
    /// The limit files of the created container's cgroups (read only when
    /// the config sets limits).
    pub cgroup: std::collections::BTreeMap<String, String>,
}

/// Creates, starts and deletes the container `model` describes, in its own
/// work directory and `--root`. `name` makes the container ID (and so its
/// default cgroup) unique among configs running at once.
pub fn observe(options: &RunOptions, name: &'static str, model: &Generated) -> Observed {
    let failed = |why: String| Observed {
        run: Err(why),
        leaks: Vec::new(),
        joined: Vec::new(),
        hooks_ran: Vec::new(),
        cgroup: Default::default(),
    };
    let work = match tempfile::Builder::new().prefix("litmus-generated-").tempdir() {
        Ok(dir) => dir,
        Err(e) => return failed(format!("work directory: {e}")),
    };
    // The other containers of the pod: one holder per joined namespace,
    // alive until the container is gone.
    let mut holders = Vec::new();
    for ns in &model.joined {
        match NamespaceHolder::new(ns.clone_flag(), ns.proc_name()) {
            Ok(holder) => holders.push((*ns, holder)),
            Err(e) => return failed(format!("holding a {} namespace: {e:#}", ns.proc_name())),
        }
    }
    let paths: Vec<(model::Namespace, String)> =
        holders.iter().map(|(ns, h)| (*ns, h.path())).collect();
    let joined = holders.iter().filter_map(|(ns, h)| h.inode().ok().map(|i| (*ns, i))).collect();
    let mut cx = Ctx::new(options.runtime, options.rootfs, work.path().to_path_buf(), name);
    let limited = model.resources.is_some();
    let inspect = |created: &crate::state_view::StateView| {
        if limited {
            check::cgroup_files(created.pid)
        } else {
            Default::default()
        }
    };
    let (run, cgroup) = match model
        .to_spec(work.path(), &paths)
        .map_err(|e| format!("building the config: {e:#}"))
        .and_then(|spec| {
            cx.run_probe_inspecting(&spec, inspect).map_err(|verdict| match verdict {
                Verdict::Fail { expected, seen } => format!("expected {expected}; {seen}"),
                Verdict::Skip(why) => why,
            })
        }) {
        Ok((run, cgroup)) => (Ok(run), cgroup),
        Err(why) => (Err(why), Default::default()),
    };
    let leaks = cx.clean_up();
    drop(holders);
    // Poststop hooks have run by now: delete returned.
    let hooks_ran = std::fs::read_to_string(work.path().join(model::HOOK_LOG))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    Observed { run, leaks, joined, hooks_ran, cgroup }
}

/// What is wrong with one runtime's handling of `model`, if anything.
fn problem_with(
    options: &RunOptions,
    name: &'static str,
    host_ns: &[(model::Namespace, Option<u64>)],
    model: &Generated,
) -> Option<String> {
    let observed = observe(options, name, model);
    let mut problems = match &observed.run {
        Err(why) => vec![why.clone()],
        Ok(run) => {
            let mut found = check::differences(
                &check::expected(model, host_ns),
                &check::seen(model, &run.lines, host_ns, &observed.joined)
                    .into_iter()
                    .chain(check::seen_hooks(model, &observed.hooks_ran))
                    .chain(check::seen_resources(model, &observed.cgroup))
                    .collect(),
                "config.json says",
                "the container has",
            );
            if run.exit_code != Some(0) {
                found.push(format!("probe exit status {:?}, expected 0", run.exit_code));
            }
            found
        }
    };
    if !observed.leaks.is_empty() {
        problems.push(format!("left behind: {}", observed.leaks.join("; ")));
    }
    (!problems.is_empty()).then(|| problems.join("\n"))
}

/// Runs generated configs through `options.runtime`; one result per
/// config, named by its seed.
pub fn run(
    options: &RunOptions,
    budget: Budget,
    seed: u64,
    progress: &(dyn Fn(&CaseResult) + Sync),
) -> Vec<CaseResult> {
    let host = Host::probe(options.spec_version);
    let host_ns = check::host_namespaces();
    let deadline = budget.deadline();
    let results = runner::parallel_map(&budget.seeds(seed), options.jobs, |&seed| {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let started = Instant::now();
        let name = name_of(seed);
        let problem = |m: &Generated| problem_with(options, name, &host_ns, m);
        let outcome = match explore(&host, seed, SHRINK_STEPS, SHRINK_TIME, problem) {
            None => Outcome::Pass,
            Some(found) => Outcome::Fail {
                expected: "the container to be what config.json says".into(),
                seen: describe(&found, seed, options),
            },
        };
        let result = CaseResult {
            name,
            area: crate::case::Area::Generated.name(),
            level: Level::Must,
            requirements: REQUIREMENTS.iter().map(|r| r.id).collect(),
            outcome,
            beyond_declared: false,
            duration: started.elapsed(),
        };
        progress(&result);
        Some(result)
    });
    runner::remove_suite_cgroup_parents();
    results.into_iter().flatten().collect()
}

/// Results need `'static` names; a run names at most its budget's worth.
pub fn name_of(seed: u64) -> &'static str {
    Box::leak(format!("generated_{seed}").into_boxed_str())
}

fn describe(found: &Found, seed: u64, options: &RunOptions) -> String {
    format!(
        "{}\nminimal config ({} shrink steps): {}\nreproduce: litmus run --runtime {} --area generated --generated 1 --seed {seed}",
        found.problem,
        found.shrink_steps,
        found.minimal.to_json(),
        options.runtime.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host::probe("1.2.0")
    }

    #[test]
    fn budgets_are_counts_or_durations() {
        assert_eq!("25".parse(), Ok(Budget::Count(25)));
        assert_eq!("90s".parse(), Ok(Budget::Time(Duration::from_secs(90))));
        assert_eq!("2m".parse(), Ok(Budget::Time(Duration::from_secs(120))));
        assert!("lots".parse::<Budget>().unwrap_err().contains("lots"));
    }

    #[test]
    fn a_seed_always_draws_the_same_config() {
        let host = host();
        assert_eq!(draw(&host, 7).current(), draw(&host, 7).current());
        let distinct: std::collections::HashSet<String> =
            (0..20).map(|s| serde_json::to_string(&draw(&host, s).current()).unwrap()).collect();
        assert!(distinct.len() > 15, "seeds draw varied configs");
    }

    #[test]
    fn drawn_configs_respect_the_host_and_the_spec() {
        let host = host();
        for seed in 0..200 {
            let g = draw(&host, seed).current();
            let uts = g.namespaces.contains(&model::Namespace::Uts)
                || g.joined.contains(&model::Namespace::Uts);
            assert!(g.hostname.is_none() || uts, "hostname without UTS ns: {g:?}");
            assert!(
                g.joined.iter().all(|ns| !g.namespaces.contains(ns)),
                "a namespace both new and joined: {g:?}"
            );
            assert!(g.ambient.iter().all(|c| g.capabilities.contains(c)));
            for r in &g.rlimits {
                assert!(r.soft <= r.hard);
                let max = host.hard_limits.iter().find(|(k, _)| *k == r.kind).unwrap().1;
                assert!(r.hard <= max, "{r:?} above the host's hard limit {max}");
            }
            assert!(g.oom_score_adj.is_none_or(|a| a >= host.oom_score_adj_min));
            let paths: Vec<_> =
                g.joined.iter().map(|ns| (*ns, format!("/proc/1/ns/{}", ns.proc_name()))).collect();
            let spec = g.to_spec(&std::env::temp_dir().join("litmus-model-test"), &paths).unwrap();
            let json = serde_json::to_string(&spec).unwrap();
            assert!(json.contains(&format!("\"cwd\":\"{}\"", g.cwd)));
        }
    }

    /// The shrinker's contract, without a runtime: a problem that only
    /// needs "a tmpfs mount and uid != 0" shrinks to a config that has
    /// one tmpfs mount, no env, no rlimits, and still fails.
    #[test]
    fn failures_shrink_to_what_matters() {
        let host = host();
        let problem = |g: &Generated| {
            (!g.tmpfs.is_empty() && g.uid != 0).then(|| "tmpfs as non-root".to_string())
        };
        let seed = (0..500)
            .find(|&s| problem(&draw(&host, s).current()).is_some())
            .expect("some seed draws a tmpfs mount and a non-root user");
        let found = explore(&host, seed, 10_000, Duration::from_secs(60), problem)
            .expect("the drawn config fails");
        assert_eq!(found.minimal.tmpfs.len(), 1, "{:?}", found.minimal);
        assert!(found.minimal.env.is_empty(), "{:?}", found.minimal);
        assert!(found.minimal.rlimits.is_empty(), "{:?}", found.minimal);
        assert!(found.minimal.capabilities.is_empty(), "{:?}", found.minimal);
        assert!(problem(&found.minimal).is_some());
        assert!(found.shrink_steps > 0);
    }

    /// The field-wise pass keeps only what the problem needs, and never
    /// trades the failure for a different one.
    #[test]
    fn reduction_drops_every_field_the_problem_does_not_need() {
        let host = host();
        let seed = (0..500)
            .find(|&s| {
                let g = draw(&host, s).current();
                g.sysctls.len() >= 2 && g.env.len() >= 2 && g.rlimits.len() >= 2
            })
            .expect("some seed draws two sysctls, env vars and rlimits");
        let start = draw(&host, seed).current();
        let key = start.sysctls.keys().next().unwrap().clone();
        // Fails on one sysctl; "create" fails (a different problem) when
        // the rlimits are dropped, so the rlimits must stay.
        let problem = |g: &Generated| {
            if g.rlimits.is_empty() {
                return Some("expected create to succeed: no".to_string());
            }
            g.sysctls.contains_key(&key).then(|| format!("sysctl {key}: config 1, container 2"))
        };
        let found =
            Found { minimal: start.clone(), problem: problem(&start).unwrap(), shrink_steps: 0 };
        let reduced = reduce(found, 1000, Instant::now() + Duration::from_secs(30), &problem);
        let m = &reduced.minimal;
        assert_eq!(m.sysctls.keys().collect::<Vec<_>>(), vec![&key]);
        assert!(m.env.is_empty() && m.capabilities.is_empty() && m.tmpfs.is_empty());
        assert_eq!(m.rlimits.len(), 1, "one rlimit kept, the rest cut: {m:?}");
        assert_eq!(m.cwd, "/");
    }

    #[test]
    fn passing_configs_are_not_reported() {
        assert!(explore(&host(), 3, 10, Duration::from_secs(1), |_| None).is_none());
    }
}
