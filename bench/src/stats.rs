//! Summary statistics of a set of samples: median, p99 (nearest rank), min,
//! max, mean.

use anyhow::Context;

/// A summary of samples (all in one unit).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest sample.
    pub min: f64,
    /// Median (mean of the two middle samples for an even count).
    pub median: f64,
    /// 99th percentile by nearest rank: the smallest sample that is at least
    /// as large as 99 % of the samples.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none (or any is NaN).
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() || samples.iter().any(|s| s.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Summary {
            n,
            min: sorted[0],
            median,
            p99: percentile_sorted(&sorted, 99.0),
            max: sorted[n - 1],
            mean: sorted.iter().sum::<f64>() / n as f64,
        })
    }

    /// The same summary with every figure multiplied by `factor` (a change
    /// of unit).
    pub fn scaled(self, factor: f64) -> Summary {
        Summary {
            n: self.n,
            min: self.min * factor,
            median: self.median * factor,
            p99: self.p99 * factor,
            max: self.max * factor,
            mean: self.mean * factor,
        }
    }
}

/// Summarises `samples`; an error naming `what` when there are none.
pub fn summary(samples: &[f64], what: &str) -> anyhow::Result<Summary> {
    Summary::of(samples).with_context(|| format!("no samples of {what}"))
}

/// The `p`-th percentile (0 < p <= 100) of ascending `sorted` by nearest
/// rank: the sample at rank ceil(p/100 * n).
fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_nan_have_no_summary() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let odd = Summary::of(&[5.0, 1.0, 3.0]).expect("samples");
        assert_eq!(odd.median, 3.0);
        let even = Summary::of(&[4.0, 1.0, 3.0, 2.0]).expect("samples");
        assert_eq!(even.median, 2.5);
        assert_eq!((even.min, even.max, even.mean), (1.0, 4.0, 2.5));
    }

    #[test]
    fn p99_is_nearest_rank() {
        // 1..=100: the 99th percentile is the 99th smallest.
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(Summary::of(&hundred).expect("samples").p99, 99.0);
        // 1..=200: rank ceil(0.99 * 200) = 198.
        let two_hundred: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(Summary::of(&two_hundred).expect("samples").p99, 198.0);
        // Fewer than 100 samples: the p99 is the largest.
        let thirty: Vec<f64> = (1..=30).rev().map(f64::from).collect();
        assert_eq!(Summary::of(&thirty).expect("samples").p99, 30.0);
        assert_eq!(Summary::of(&[7.0]).expect("one sample").p99, 7.0);
    }

    #[test]
    fn scaling_changes_the_unit() {
        let s = Summary::of(&[1000.0, 3000.0, 2000.0]).expect("samples");
        assert_eq!(s.median, 2000.0);
        let ms = s.scaled(1e-3);
        assert_eq!((ms.min, ms.median, ms.max), (1.0, 2.0, 3.0));
        assert_eq!(ms.n, 3);
    }
}
