//! Container startup, through each runtime's command line:
//!   run-true              `run` of a container whose process is /bin/true
//!   create-start-delete   the three calls an engine makes, separately
//!   exec                  `exec /bin/true` into a running container
//!   run-100               100 sequential `run`s (not in quick mode)
//! with two floors for scale: /bin/true itself, and unshare + chroot into
//! the same rootfs. Peak RSS of the runtime during `run` is written to
//! target/litmus-bench/rss.json.

mod common;

use common::bench_run_exiting;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use litmus_benches::{bundle, next_id, peak_rss_kib, quick, rootfs, runtimes};
use std::process::{Command, Stdio};
use std::time::Duration;

fn configure<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<M>) {
    if quick() {
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(2));
    } else {
        group.sample_size(30);
        group.measurement_time(Duration::from_secs(8));
    }
}

fn quiet(cmd: &mut Command) -> std::process::ExitStatus {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning");
    litmus_benches::finish(child, "a timed runtime command").expect("bounded")
}

fn startup(c: &mut Criterion) {
    let rootfs = rootfs().expect("rootfs fixture");
    let runtimes = runtimes().expect("runtimes");
    let true_bundle = bundle(&rootfs, &["/bin/true"], |_| {}).expect("bundle");
    let sleep_bundle = bundle(&rootfs, &["/bin/sleep", "3600"], |_| {}).expect("bundle");
    let true_path = true_bundle.path().display().to_string();
    let sleep_path = sleep_bundle.path().display().to_string();

    let mut group = c.benchmark_group("run-true");
    configure(&mut group);
    group.bench_function("floor-bin-true", |b| {
        b.iter(|| assert!(quiet(&mut Command::new("/bin/true")).success()))
    });
    let rootfs_dir = true_bundle.rootfs();
    group.bench_function("floor-unshare-chroot", |b| {
        b.iter(|| {
            let status = quiet(
                Command::new("unshare")
                    .args(["--mount", "--pid", "--fork", "--ipc", "--uts", "--net", "chroot"])
                    .arg(&rootfs_dir)
                    .arg("/bin/true"),
            );
            assert!(status.success());
        })
    });
    bench_run_exiting(&mut group, &runtimes, &true_path, 0);
    group.finish();

    let mut group = c.benchmark_group("create-start-delete");
    configure(&mut group);
    for rt in &runtimes {
        group.bench_function(&rt.name, |b| {
            b.iter(|| {
                let id = next_id("csd");
                rt.ok(&["create", "--bundle", &true_path, &id]).unwrap();
                rt.ok(&["start", &id]).unwrap();
                rt.ok(&["delete", "--force", &id]).unwrap();
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("exec");
    configure(&mut group);
    for rt in &runtimes {
        let id = next_id("exec");
        rt.ok(&["run", "--detach", "--bundle", &sleep_path, &id]).unwrap();
        group.bench_function(&rt.name, |b| {
            b.iter(|| assert_eq!(rt.status(&["exec", &id, "/bin/true"]).unwrap(), Some(0)))
        });
        rt.ok(&["delete", "--force", &id]).unwrap();
    }
    group.finish();

    if !quick() {
        let mut group = c.benchmark_group("run-100");
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(30));
        for rt in &runtimes {
            group.bench_function(&rt.name, |b| {
                b.iter(|| {
                    for _ in 0..100 {
                        let id = next_id("seq");
                        assert_eq!(
                            rt.status(&["run", "--bundle", &true_path, &id]).unwrap(),
                            Some(0)
                        );
                    }
                })
            });
        }
        group.finish();
    }

    // Peak RSS is a maximum, not a timing: the largest of a few runs.
    let mut rss = serde_json::Map::new();
    for rt in &runtimes {
        let peak =
            (0..5).map(|_| peak_rss_kib(rt, &true_bundle).expect("peak rss")).max().unwrap_or(0);
        rss.insert(rt.name.clone(), peak.into());
    }
    let path = litmus_benches::extra_results_dir().join("rss.json");
    std::fs::write(&path, serde_json::Value::Object(rss).to_string()).expect("writing rss.json");
}

criterion_group!(benches, startup);
criterion_main!(benches);
