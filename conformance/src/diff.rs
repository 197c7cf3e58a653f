//! Differential mode: the same fixed cases and generated configs through
//! two runtimes, and every place where they part ways: a case one passes
//! and the other fails, a config one runs and the other refuses, an exit
//! status, a state document or a probe view that differs. Generated
//! divergences are shrunk to the smallest config that still diverges.

use crate::generated::check::{self, View};
use crate::generated::model::{Generated, Host, Namespace};
use crate::generated::{self, Budget, Observed};
use crate::runner::{self, CaseResult, Outcome, RunOptions};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Shrinking a divergence runs both runtimes per step: fewer steps.
const SHRINK_STEPS: u32 = 200;
const SHRINK_TIME: Duration = Duration::from_secs(90);

#[derive(Debug, Serialize)]
pub struct Divergence {
    /// A case name, or generated_SEED.
    pub subject: String,
    pub differences: Vec<String>,
    /// For generated configs: the smallest config that still diverges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimal_config: Option<Generated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct DiffReport {
    pub left: String,
    pub right: String,
    pub cases_compared: usize,
    pub generated_compared: usize,
    pub divergences: Vec<Divergence>,
}

fn outcome_word(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Pass => "pass".into(),
        Outcome::Fail { seen, .. } => format!("FAIL ({})", first_line(seen, 120)),
        Outcome::Skip { reason } => format!("skip ({})", first_line(reason, 120)),
    }
}

fn first_line(text: &str, max: usize) -> String {
    text.lines().next().unwrap_or("").chars().take(max).collect()
}

/// Fixed cases whose outcome kind differs (pass, fail, skip).
pub fn cases(left: &[CaseResult], right: &[CaseResult], names: (&str, &str)) -> Vec<Divergence> {
    left.iter()
        .zip(right)
        .filter(|(l, r)| std::mem::discriminant(&l.outcome) != std::mem::discriminant(&r.outcome))
        .map(|(l, r)| Divergence {
            subject: l.name.to_string(),
            differences: vec![
                format!("{}: {}", names.0, outcome_word(&l.outcome)),
                format!("{}: {}", names.1, outcome_word(&r.outcome)),
            ],
            minimal_config: None,
            seed: None,
        })
        .collect()
}

/// One runtime's handling of a generated config, as comparable text: how
/// far it got, the exit status, the state after create, what the probe
/// saw for each statement of the config, and whether anything leaked.
fn view(model: &Generated, observed: &Observed, host_ns: &[(Namespace, Option<u64>)]) -> View {
    let mut view = View::new();
    match &observed.run {
        // The step that failed ("expected create to succeed"), not the
        // runtime's wording of the error.
        Err(why) => {
            let step = why.split(';').next().unwrap_or(why);
            view.insert("outcome".into(), format!("failed: {step}"));
        }
        Ok(run) => {
            view.insert("outcome".into(), "ran".into());
            view.insert("exit status".into(), format!("{:?}", run.exit_code));
            let state = &run.created_state;
            view.insert("state after create: status".into(), state.status.clone());
            view.insert(
                "state after create: pid".into(),
                if state.pid > 0 { "set" } else { "missing" }.into(),
            );
            view.extend(check::seen(model, &run.lines, host_ns, &observed.joined));
            view.extend(check::seen_hooks(model, &observed.hooks_ran));
            view.extend(check::seen_resources(model, &observed.cgroup));
        }
    }
    view.insert(
        "left behind after delete".into(),
        if observed.leaks.is_empty() { "nothing".into() } else { observed.leaks.join("; ") },
    );
    view
}

/// Generated configs through both runtimes; a divergence per config that
/// the two handle differently.
pub fn generated(
    left: &RunOptions,
    right: &RunOptions,
    names: (&str, &str),
    budget: Budget,
    seed: u64,
    progress: &(dyn Fn(&str) + Sync),
) -> (usize, Vec<Divergence>) {
    // Generate within what both claim: the older spec version decides.
    let version = if crate::catalogue::version_le(left.spec_version, right.spec_version) {
        left.spec_version
    } else {
        right.spec_version
    };
    let host = Host::probe(version);
    let host_ns = check::host_namespaces();
    let deadline = match budget {
        Budget::Time(d) => Some(Instant::now() + d),
        Budget::Count(_) => None,
    };
    let seeds: Vec<u64> = match budget {
        Budget::Count(n) => (0..n).map(|i| seed.wrapping_add(i)).collect(),
        Budget::Time(_) => (0..100_000).map(|i| seed.wrapping_add(i)).collect(),
    };
    let outcomes = runner::parallel_map(&seeds, left.jobs, |&seed| {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let name = generated::name_of(seed);
        let diverges = |model: &Generated| {
            let l = view(model, &generated::observe(left, name, model), &host_ns);
            let r = view(model, &generated::observe(right, name, model), &host_ns);
            let found = check::differences(&l, &r, names.0, names.1);
            (!found.is_empty()).then(|| found.join("\n"))
        };
        let found = generated::explore(&host, seed, SHRINK_STEPS, SHRINK_TIME, diverges);
        progress(name);
        Some(found.map(|f| Divergence {
            subject: name.to_string(),
            differences: f.problem.lines().map(String::from).collect(),
            minimal_config: Some(f.minimal),
            seed: Some(seed),
        }))
    });
    runner::remove_suite_cgroup_parents();
    let compared = outcomes.iter().filter(|o| o.is_some()).count();
    (compared, outcomes.into_iter().flatten().flatten().collect())
}

impl DiffReport {
    pub fn human(&self) -> String {
        let mut out = format!(
            "litmus diff: {} vs {}\n{} cases and {} generated configs compared, {} divergences\n",
            self.left,
            self.right,
            self.cases_compared,
            self.generated_compared,
            self.divergences.len()
        );
        for d in &self.divergences {
            out += &format!("\n  {}\n", d.subject);
            for line in &d.differences {
                out += &format!("    {line}\n");
            }
            if let (Some(config), Some(seed)) = (&d.minimal_config, d.seed) {
                out += &format!(
                    "    minimal config: {}\n    reproduce: litmus diff ... --area generated --generated 1 --seed {seed}\n",
                    serde_json::to_string(config).expect("the model serializes")
                );
            }
        }
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Level;

    fn result(name: &'static str, outcome: Outcome) -> CaseResult {
        CaseResult {
            name,
            area: "process",
            level: Level::Must,
            requirements: vec![],
            outcome,
            beyond_declared: false,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn only_cases_with_different_outcomes_diverge() {
        let fail = || Outcome::Fail { expected: "x".into(), seen: "y\nmore".into() };
        let left = vec![
            result("same_pass", Outcome::Pass),
            result("same_fail", fail()),
            result("split", Outcome::Pass),
        ];
        let right = vec![
            result("same_pass", Outcome::Pass),
            result("same_fail", fail()),
            result("split", fail()),
        ];
        let found = cases(&left, &right, ("a", "b"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject, "split");
        assert_eq!(found[0].differences, vec!["a: pass", "b: FAIL (y)"]);
    }

    #[test]
    fn a_refusal_and_a_run_differ_in_outcome_not_in_wording() {
        let refused = |why: &str| Observed {
            run: Err(why.into()),
            leaks: vec![],
            joined: vec![],
            hooks_ran: vec![],
            cgroup: Default::default(),
        };
        let dummy = Generated { cwd: "/".into(), ..Generated::default() };
        let a = view(&dummy, &refused("expected create to succeed; runc said X"), &[]);
        let b = view(&dummy, &refused("expected create to succeed; crun said Y"), &[]);
        assert!(check::differences(&a, &b, "a", "b").is_empty());
        let leaky = Observed {
            run: Err("expected create to succeed; z".into()),
            leaks: vec!["cgroup /sys/fs/cgroup/pids/x".into()],
            joined: vec![],
            hooks_ran: vec![],
            cgroup: Default::default(),
        };
        let c = view(&dummy, &leaky, &[]);
        assert_eq!(
            check::differences(&a, &c, "a", "c"),
            vec!["left behind after delete: a nothing, c cgroup /sys/fs/cgroup/pids/x"]
        );
    }
}
