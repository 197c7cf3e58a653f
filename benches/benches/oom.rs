//! OOM handling: a container limited to 16 MiB whose process allocates
//! until the kernel kills it.
//!   oom-run-137   `run` until it reports exit status 137
//! and, outside criterion (it is a latency to an event, not a call), the
//! time from `start` to the OOM line of `events`, written to
//! target/litmus-bench/oom-event.json (null for runtimes without events).

mod common;

use common::bench_run_exiting;
use criterion::{criterion_group, criterion_main, Criterion};
use litmus_benches::{
    bundle, limit_memory, median_of, quick, rootfs, runtimes, start_to_oom_event,
};
use std::time::Duration;

const LIMIT: i64 = 16 << 20;

fn oom(c: &mut Criterion) {
    let rootfs = rootfs().expect("rootfs fixture");
    let runtimes = runtimes().expect("runtimes");
    let hog = bundle(&rootfs, &["/litmus-probe", "alloc", "256"], |s| limit_memory(s, LIMIT))
        .expect("bundle");
    let hog_path = hog.path().display().to_string();

    let mut group = c.benchmark_group("oom-run-137");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if quick() { 3 } else { 10 }));
    bench_run_exiting(&mut group, &runtimes, &hog_path, 137);
    group.finish();

    let mut latencies = serde_json::Map::new();
    let samples = if quick() { 3 } else { 11 };
    for rt in &runtimes {
        let median = median_of(samples, || start_to_oom_event(rt, &hog_path));
        let value = match median {
            Ok(d) => serde_json::json!(d.as_nanos() as u64),
            Err(e) => {
                eprintln!("{}: no OOM event latency: {e:#}", rt.name);
                serde_json::Value::Null
            }
        };
        latencies.insert(rt.name.clone(), value);
    }
    let path = litmus_benches::extra_results_dir().join("oom-event.json");
    std::fs::write(&path, serde_json::Value::Object(latencies).to_string()).expect("writing");
}

criterion_group!(benches, oom);
criterion_main!(benches);
