//! `create` starts the intermediate on another CPU (process::start_elsewhere)
//! so both work at once; the container must still get the runtime's own
//! CPU affinity, whatever its caller gave it.

mod common;

use common::{bounded, shell, Env};
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;

fn allowed() -> Vec<usize> {
    let set = sched_getaffinity(Pid::from_raw(0)).unwrap();
    (0..CpuSet::count()).filter(|&c| set.is_set(c).unwrap()).collect()
}

/// The container's Cpus_allowed_list when the runtime runs on `cpus`.
fn container_cpus(env: &Env, cpus: &[usize], id: &str) -> String {
    let bundle = env.bundle(&shell("grep Cpus_allowed_list /proc/self/status"));
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c).unwrap();
    }
    let mut run = env.std_runtime();
    run.args(["run", "--bundle"]).arg(bundle.path()).arg(id);
    // SAFETY: sched_setaffinity is async-signal-safe; nothing else runs.
    unsafe {
        run.pre_exec(move || sched_setaffinity(Pid::from_raw(0), &set).map_err(Into::into));
    }
    let done = bounded(&mut run, id);
    assert!(done.success(), "{id}: {}", done.stderr_text());
    let out = done.stdout_text();
    out.trim().rsplit('\t').next().unwrap().trim().to_string()
}

fn list(cpus: &[usize]) -> String {
    // Cpus_allowed_list writes runs as ranges: 0-1, or a single 1.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &c in cpus {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == c => *end = c,
            _ => runs.push((c, c)),
        }
    }
    let text: Vec<String> = runs
        .iter()
        .map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
        .collect();
    text.join(",")
}

#[test]
fn the_container_gets_the_runtimes_cpu_affinity_not_the_one_its_intermediate_started_with() {
    let env = Env::new();
    let cpus = allowed();
    if cpus.len() < 2 {
        eprintln!("SKIP: one CPU allowed here; the intermediate is only moved with two or more");
        return;
    }
    assert_eq!(container_cpus(&env, &cpus, "t-affinity-all"), list(&cpus));
    // A caller's narrower mask is kept too (one CPU: nothing to move).
    let last = [*cpus.last().unwrap()];
    assert_eq!(container_cpus(&env, &last, "t-affinity-one"), list(&last));
    if cpus.len() >= 3 {
        let two = &cpus[..2];
        assert_eq!(container_cpus(&env, two, "t-affinity-two"), list(two));
    }
}
