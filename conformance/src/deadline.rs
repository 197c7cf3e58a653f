//! Deadlines that scale with the machine.
//!
//! Every wait of the suite is on an event (a state, an exit, a line of
//! output) with a deadline. The deadlines are generous for a quiet machine;
//! on a busy or slow one they grow by a scale factor: the one the preflight
//! measures (how long the runtime took to create the simplest container,
//! against what a loaded 2-core CI runner takes) times the user's
//! `--timeout-scale`. A deadline that expires says what was awaited and
//! for how long, so a slow machine is never mistaken for a broken runtime.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The scale in thousandths (1000 = 1.0).
static SCALE_PERMILLE: AtomicU32 = AtomicU32::new(1000);

/// A create of the preflight's minimal container slower than this means a
/// slow machine (or runtime): deadlines grow in proportion. Measured here:
/// 15-40 ms for litmus-runtime, crun and runc idle, up to 250 ms with both
/// cores loaded.
pub const REFERENCE_CREATE: Duration = Duration::from_millis(500);

/// The largest scale the preflight alone may set.
const MAX_MEASURED_SCALE: f64 = 8.0;

pub fn set_scale(scale: f64) {
    let permille = (scale.clamp(0.1, 1000.0) * 1000.0).round() as u32;
    SCALE_PERMILLE.store(permille, Ordering::Relaxed);
}

pub fn scale() -> f64 {
    SCALE_PERMILLE.load(Ordering::Relaxed) as f64 / 1000.0
}

/// The scale for a machine whose preflight create took `create`, times the
/// user's factor.
pub fn scale_for(create: Duration, user: f64) -> f64 {
    let measured =
        (create.as_secs_f64() / REFERENCE_CREATE.as_secs_f64()).clamp(1.0, MAX_MEASURED_SCALE);
    measured * user
}

/// `limit` on this machine.
pub fn scaled(limit: Duration) -> Duration {
    limit.mul_f64(scale())
}

/// An expired deadline: what was awaited and how long.
#[derive(Debug)]
pub struct Expired {
    pub waited: Duration,
}

impl std::fmt::Display for Expired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nothing after {:.1}s", self.waited.as_secs_f64())?;
        if scale() != 1.0 {
            write!(f, " (deadlines scaled x{:.2} for this machine)", scale())?;
        }
        Ok(())
    }
}

/// Polls `check` every `every` until it returns Some, for at most
/// `limit` scaled to this machine.
pub fn poll<T>(
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, Expired> {
    let started = Instant::now();
    let deadline = started + scaled(limit);
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(Expired {
                waited: started.elapsed(),
            });
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_preflight_scales_deadlines_and_a_fast_one_does_not() {
        assert_eq!(scale_for(Duration::from_millis(20), 1.0), 1.0);
        assert_eq!(scale_for(Duration::from_millis(1500), 1.0), 3.0);
        assert_eq!(scale_for(Duration::from_secs(60), 1.0), MAX_MEASURED_SCALE);
        assert_eq!(scale_for(Duration::from_millis(20), 4.0), 4.0);
    }

    #[test]
    fn poll_returns_the_value_or_how_long_it_waited() {
        let mut n = 0;
        assert_eq!(
            poll(Duration::from_secs(5), Duration::ZERO, || {
                n += 1;
                (n == 3).then_some(n)
            })
            .unwrap(),
            3
        );
        let expired = poll(Duration::from_millis(30), Duration::from_millis(5), || {
            None::<()>
        })
        .unwrap_err();
        assert!(expired.waited >= Duration::from_millis(30));
        assert!(
            expired.to_string().starts_with("nothing after 0."),
            "{expired}"
        );
    }
}
