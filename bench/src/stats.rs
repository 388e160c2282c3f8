//! Medians of repeated host-time measurements.

use std::time::{Duration, Instant};

/// The median of `samples` (the lower middle one for an even count); zero when there are none.
pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => Duration::ZERO,
        n => sorted[(n - 1) / 2],
    }
}

/// Runs `work` `runs` times (at least once) and returns the median wall time.
pub fn median_of(runs: usize, mut work: impl FnMut()) -> Duration {
    let samples: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    median(&samples)
}

/// A duration for tables: µs below 10 ms, ms above.
pub fn format_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 10_000.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{:.1} ms", micros / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_middle() {
        let ms = |n| Duration::from_millis(n);
        assert_eq!(median(&[ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(median(&[ms(4), ms(1), ms(3), ms(2)]), ms(2));
        assert_eq!(median(&[]), Duration::ZERO);
    }

    #[test]
    fn durations_read_in_sensible_units() {
        assert_eq!(format_duration(Duration::from_micros(1234)), "1234 µs");
        assert_eq!(format_duration(Duration::from_micros(12_345)), "12.3 ms");
    }
}
