//! Time and randomness come from the platform, so every validity rule can be tested at any date.

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Midnight UTC at the start of a calendar date.
    pub fn from_date(year: i32, month: u32, day: u32) -> Self {
        // Days from civil (Howard Hinnant's algorithm), valid for the proleptic Gregorian calendar.
        let y = i64::from(year) - i64::from(month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(month);
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Self((era * 146_097 + doe - 719_468) * 86_400)
    }

    /// The calendar date (UTC) this instant falls on.
    pub fn date(self) -> (i32, u32, u32) {
        let z = self.0.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        (year, month, day)
    }
}

/// The check time. Android's clock, the desktop's, or a fixed one in tests.
pub trait Clock {
    fn now(&self) -> UnixTime;
}

/// The operating system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        UnixTime(seconds)
    }
}

/// A clock stopped at one instant, for tests and for re-verifying a record at its own time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

/// Fresh random bytes for challenges and nonces.
pub trait RandomSource {
    fn fill(&mut self, out: &mut [u8]);
}

/// The operating system's random number generator.
pub struct SystemRandom;

impl RandomSource for SystemRandom {
    fn fill(&mut self, out: &mut [u8]) {
        // The OS generator failing is not recoverable by any caller, and a challenge without
        // fresh randomness must never be made: stop.
        #[allow(clippy::expect_used)]
        getrandom::fill(out).expect("the operating system's random number generator failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(UnixTime::from_date(1970, 1, 1), UnixTime(0));
        assert_eq!(UnixTime::from_date(2026, 11, 25), UnixTime(1_795_564_800));
        assert_eq!(UnixTime(1_795_564_800 + 86_399).date(), (2026, 11, 25));
        assert_eq!(UnixTime::from_date(2024, 2, 29).date(), (2024, 2, 29));
        assert_eq!(UnixTime::from_date(1969, 12, 31), UnixTime(-86_400));
    }
}
