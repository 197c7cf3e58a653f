//! Shared by the criterion benches (a module, not the library: the
//! library does not depend on criterion).

use criterion::{measurement::WallTime, BenchmarkGroup};
use litmus_benches::{next_id, Runtime};

/// One benchmark per runtime in `group`: `run --bundle BUNDLE ID`, which
/// must exit `code` every time (a failing run is not a fast one).
pub fn bench_run_exiting(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtimes: &[Runtime],
    bundle: &str,
    code: i32,
) {
    for rt in runtimes {
        group.bench_function(&rt.name, |b| {
            b.iter(|| {
                let id = next_id(&rt.name);
                assert_eq!(rt.status(&["run", "--bundle", bundle, &id]).unwrap(), Some(code));
            })
        });
    }
}
