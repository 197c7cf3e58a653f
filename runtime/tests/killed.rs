//! Root integration tests: a runtime command SIGKILLed at any instant is
//! recoverable. After the kill, `delete --force` must finish in bounded
//! time and leave no process, cgroup, mount or state behind.
//!
//! The sweep kills at every 2 ms from 0 to 100 ms, which spans every sync
//! point between the runtime's processes on this machine (create takes
//! 10-40 ms idle, longer under load, when the same offsets fall earlier in
//! its work).

mod common;

use common::{expect_exit, shell, Env};
use litmus_bundle::wait::output_within;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SWEEP_MS: std::ops::Range<u64> = 0..101;
const STEP_MS: usize = 2;
const DELETE_DEADLINE: Duration = Duration::from_secs(20);

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.std_runtime()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Runs `delete --force ID` with a deadline; Err says how it ended.
fn delete_force(env: &Env, id: &str) -> Result<(), String> {
    let done = output_within(env.std_runtime().args(["delete", "--force", id]), DELETE_DEADLINE)
        .map_err(|e| e.to_string())?;
    match done.status {
        None => Err(format!("delete --force hung for {DELETE_DEADLINE:?}")),
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(format!("delete --force exited {status}: {}", done.stderr_text())),
    }
}

/// What is left of container `id` with rootfs `rootfs`.
fn leftovers(env: &Env, id: &str, rootfs: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let rootfs = rootfs.canonicalize().unwrap();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let in_rootfs = std::fs::read_link(format!("/proc/{pid}/root"))
            .is_ok_and(|root| root.starts_with(&rootfs));
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
            .unwrap_or(true);
        if in_rootfs && !zombie {
            found.push(format!("process {pid}"));
        }
    }
    found.extend(cgroups_named(id).iter().map(|d| format!("cgroup {}", d.display())));
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let rootfs_text = rootfs.display().to_string();
    found.extend(
        mountinfo.lines().filter(|l| l.contains(&rootfs_text)).map(|l| format!("mount {l}")),
    );
    found.extend(env.state_dirs().iter().map(|d| format!("state {}", d.display())));
    found
}

/// Every cgroup directory named `id`, in every hierarchy, at any depth.
fn cgroups_named(id: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, id: &str, depth: u32, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                if entry.file_name().to_string_lossy() == id {
                    found.push(entry.path());
                }
                if depth > 0 {
                    walk(&entry.path(), id, depth - 1, found);
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), id, 8, &mut found);
    found
}

/// Spawns `args(id, bundle)` at each offset of the sweep, kills it there,
/// and checks that delete --force cleans up. `prepare` runs first (exec
/// needs a running container).
fn sweep(
    name: &str,
    script: &str,
    prepare: impl Fn(&Env, &str, &Path),
    args: impl Fn(&str, &Path) -> Vec<String>,
) {
    let env = Env::new();
    let mut failures = Vec::new();
    for (i, offset) in SWEEP_MS.step_by(STEP_MS).enumerate() {
        let bundle = env.bundle(&shell(script));
        let id = format!("t-kill-{name}-{i}");
        prepare(&env, &id, bundle.path());
        let args = args(&id, bundle.path());
        let mut child = spawn(&env, &args.iter().map(String::as_str).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(offset));
        let _ = child.kill();
        expect_exit(&mut child, common::DEADLINE, "a SIGKILLed runtime command");
        let deleted = delete_force(&env, &id);
        let left = leftovers(&env, &id, &bundle.rootfs());
        if deleted.is_err() || !left.is_empty() {
            failures.push(format!(
                "{name} killed at {offset} ms: {}; left: {left:?}",
                deleted.err().unwrap_or_else(|| "delete --force ok".into())
            ));
            for pid in left.iter().filter_map(|l| l.strip_prefix("process ")) {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn bundle_arg(bundle: &Path) -> String {
    bundle.display().to_string()
}

/// `OPERATION --bundle B ID`, for create and run.
fn of_bundle(operation: &'static str) -> impl Fn(&str, &Path) -> Vec<String> {
    move |id, bundle| [operation, "--bundle", &bundle_arg(bundle), id].map(String::from).to_vec()
}

#[test]
fn create_killed_at_any_instant_is_cleaned_up_by_delete_force() {
    sweep("create", "sleep 60", |_, _, _| {}, of_bundle("create"));
}

#[test]
fn run_killed_at_any_instant_is_cleaned_up_by_delete_force() {
    sweep("run", "sleep 60", |_, _, _| {}, of_bundle("run"));
}

#[test]
fn exec_killed_at_any_instant_is_cleaned_up_by_delete_force() {
    sweep(
        "exec",
        "sleep 60",
        |env, id, bundle| {
            // Not through assert_cmd: the container keeps stdout open.
            let mut run = spawn(env, &["run", "--detach", "--bundle", &bundle_arg(bundle), id]);
            let status = expect_exit(&mut run, common::DEADLINE, "run --detach");
            assert!(status.success(), "run --detach {id}");
        },
        |id, _| ["exec", id, "/bin/sh", "-c", "sleep 60"].map(String::from).to_vec(),
    );
}
