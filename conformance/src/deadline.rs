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
use std::time::Duration;

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

/// An expired deadline: how long was waited, and the scale if deadlines
/// were grown for this machine.
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
    check: impl FnMut() -> Option<T>,
) -> Result<T, Expired> {
    litmus_bundle::wait::poll(scaled(limit), every, check).map_err(|e| Expired { waited: e.waited })
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
    fn poll_waits_the_scaled_limit() {
        let expired =
            poll(Duration::from_millis(30), Duration::from_millis(5), || None::<()>).unwrap_err();
        assert!(expired.waited >= scaled(Duration::from_millis(30)));
    }
}
