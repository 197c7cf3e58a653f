//! Before the cases: can the runtime start the simplest container at all?
//! If not, every case would fail for one reason; saying that reason once,
//! with what to do about it, is more useful than sixty failures.

use crate::case::Verdict;
use crate::ctx::Ctx;
use crate::runner::RunOptions;

/// Creates (and deletes) one minimal container; Err(explanation) if the
/// runtime cannot. Only create: a runtime that breaks start must meet the
/// cases that say so, not a generic "cannot run" here. Ok is how long the
/// create took: the machine's (and runtime's) speed, which deadlines
/// scale with (see `deadline`).
pub fn check(options: &RunOptions) -> Result<std::time::Duration, String> {
    let work = tempfile::Builder::new()
        .prefix("litmus-preflight-")
        .tempdir()
        .map_err(|e| format!("creating a work directory: {e}"))?;
    let mut cx = Ctx::new(options.runtime, options.rootfs, work.path().to_path_buf(), "preflight");
    let spec = cx.spec(&["exit", "0"]);
    let outcome = (|| -> Result<std::time::Duration, Verdict> {
        let bundle = cx.bundle(&spec)?;
        let id = cx.new_id();
        let started = std::time::Instant::now();
        cx.create_ok(&id, bundle)?;
        Ok(started.elapsed())
    })();
    cx.clean_up();
    match outcome {
        Ok(took) => Ok(took),
        Err(Verdict::Fail { seen, .. }) => Err(explain(&seen)),
        Err(Verdict::Skip(reason)) => Err(reason),
    }
}

/// The runtime's words, plus a hint for the failures we know.
fn explain(seen: &str) -> String {
    let mut message = format!("the runtime could not run a minimal container: {seen}");
    if seen.contains("hybrid") && litmus_bundle::is_hybrid_cgroup_host() {
        message += "\n\nThis host mounts cgroup2 at /sys/fs/cgroup/unified beside the v1 \
                    controllers (a hybrid layout), which this runtime refuses (crun 1.8 does). \
                    Run the suite where cgroup2 is hidden from it:\n  \
                    unshare -m sh -c 'umount /sys/fs/cgroup/unified && litmus run --runtime ...'";
    }
    message
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_failures_get_a_hint_and_others_keep_the_runtimes_words() {
        let plain = super::explain("create failed: boom");
        assert!(plain.contains("create failed: boom"));
        assert!(!plain.contains("unshare -m"));
        let hybrid = super::explain("cgroups in hybrid mode not supported");
        if litmus_bundle::is_hybrid_cgroup_host() {
            assert!(hybrid.contains("umount /sys/fs/cgroup/unified"), "{hybrid}");
        }
    }
}
