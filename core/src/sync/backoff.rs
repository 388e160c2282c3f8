//! Exponential backoff with full jitter: the n-th wait is uniform in `[0, min(max, base·2^n)]`,
//! so devices that come back online together do not retry in step.

use std::time::Duration;

use crate::verify::RandomSource;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32, random: &mut dyn RandomSource) -> Duration {
        let factor = 1u64 << attempt.min(30);
        let ceiling = self
            .base
            .saturating_mul(u32::try_from(factor).unwrap_or(u32::MAX))
            .min(self.max);
        let mut bytes = [0u8; 8];
        random.fill(&mut bytes);
        let fraction = (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
        ceiling.mul_f64(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u8);
    impl RandomSource for Fixed {
        fn fill(&mut self, out: &mut [u8]) {
            out.fill(self.0);
        }
    }

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        let top = |n| backoff.delay(n, &mut Fixed(0xff));
        assert!(top(0) <= Duration::from_millis(100));
        assert!(top(3) > top(2));
        assert!(top(20) <= Duration::from_secs(2));
        assert_eq!(backoff.delay(5, &mut Fixed(0)), Duration::ZERO);
    }
}
