//! Interleaved rounds: the figures `cargo xtask bench` turns into ratios.
//!
//! Within a round every contender (runtime or floor) takes one sample in
//! turn, A B C, C A B, B C A ..., each turn in a fresh pseudo-random order:
//! a fixed cycle would always run a contender right after the same other
//! one, and a container's teardown (a network namespace is cleaned up by a
//! kernel worker after its last process is gone) then weighs on whoever
//! follows it, every time (measured: one build 1.23x "slower" than an
//! identical copy of itself). A round's figure per contender is the median
//! of its samples. A
//! busy spell on a shared machine then lands on every contender alike
//! instead of on whichever ran during it (all of A, then all of B, lets a
//! one-minute burst of load decide a ratio). The per-round figures are
//! kept: the ratio of two contenders is taken round by round, and its
//! median and spread over rounds are what is reported and checked.

use anyhow::Result;
use serde_json::{Map, Value};

/// One contender in a metric: a name and how to take one sample of it.
pub struct Contender<'a> {
    pub name: String,
    pub sample: Box<dyn FnMut() -> Result<f64> + 'a>,
}

impl<'a> Contender<'a> {
    pub fn new(name: impl Into<String>, sample: impl FnMut() -> Result<f64> + 'a) -> Self {
        Contender { name: name.into(), sample: Box::new(sample) }
    }
}

/// Per contender, its figure in each round (the median of that round's
/// samples), in the order contenders were given.
pub type PerRound = Vec<(String, Vec<f64>)>;

/// Runs `rounds` rounds of `per_round` interleaved samples each.
pub fn interleaved(
    contenders: &mut [Contender<'_>],
    rounds: usize,
    per_round: usize,
) -> Result<PerRound> {
    let n = contenders.len();
    let mut result: PerRound = contenders.iter().map(|c| (c.name.clone(), Vec::new())).collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Shuffle(0x9e37_79b9_7f4a_7c15);
    for _ in 0..rounds {
        let mut samples = vec![Vec::with_capacity(per_round); n];
        for _ in 0..per_round {
            rng.shuffle(&mut order);
            for &i in &order {
                samples[i].push((contenders[i].sample)()?);
            }
        }
        for (i, s) in samples.iter_mut().enumerate() {
            result[i].1.push(median(s));
        }
    }
    Ok(result)
}

/// xorshift64*: a fixed seed, so two runs interleave alike.
struct Shuffle(u64);

impl Shuffle {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fisher-Yates.
    fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// The median (the mean of the middle two for an even count); NaN if empty.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// As JSON: {"contender": [round figures...]}.
pub fn to_json(per_round: &PerRound) -> Value {
    let mut doc = Map::new();
    for (name, values) in per_round {
        doc.insert(name.clone(), values.iter().copied().map(Value::from).collect());
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn every_turn_runs_each_contender_once_and_no_one_always_follows_the_same() {
        let log = RefCell::new(String::new());
        let logging = |c: char, v: f64| {
            let log = &log;
            move || {
                log.borrow_mut().push(c);
                Ok(v)
            }
        };
        let mut contenders = vec![
            Contender::new("a", logging('a', 1.0)),
            Contender::new("b", logging('b', 2.0)),
            Contender::new("c", logging('c', 3.0)),
        ];
        let result = interleaved(&mut contenders, 2, 10).unwrap();
        drop(contenders);
        let log = log.into_inner();
        let turns: Vec<&str> = (0..20).map(|t| &log[3 * t..3 * t + 3]).collect();
        for turn in &turns {
            let mut sorted: Vec<char> = turn.chars().collect();
            sorted.sort();
            assert_eq!(sorted, ['a', 'b', 'c'], "{log}");
        }
        // Within turns, "a" is preceded by b and by c at least once each.
        let before_a: std::collections::BTreeSet<char> = turns
            .iter()
            .filter_map(|t| t.find('a').filter(|&i| i > 0).map(|i| t.as_bytes()[i - 1] as char))
            .collect();
        assert_eq!(before_a.len(), 2, "{log}");
        let firsts: std::collections::BTreeSet<char> =
            turns.iter().map(|t| t.chars().next().unwrap()).collect();
        assert_eq!(firsts.len(), 3, "everyone goes first sometimes: {log}");
        assert_eq!(result[0], ("a".into(), vec![1.0, 1.0]));
        assert_eq!(result[2], ("c".into(), vec![3.0, 3.0]));
    }

    #[test]
    fn a_round_figure_is_the_median_of_its_samples() {
        let mut values = [5.0, 1.0, 3.0, 100.0, 2.0].into_iter();
        let mut contenders = vec![Contender::new("a", || Ok(values.next().unwrap()))];
        let result = interleaved(&mut contenders, 1, 5).unwrap();
        assert_eq!(result[0].1, vec![3.0]);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn a_failing_sample_fails_the_run() {
        let mut contenders = vec![Contender::new("a", || anyhow::bail!("exited 1"))];
        assert!(interleaved(&mut contenders, 1, 1).is_err());
    }
}
