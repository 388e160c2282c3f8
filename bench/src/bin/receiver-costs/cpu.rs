//! CPU time, split between the receiver and its client, for figures that a shared machine's
//! load does not distort the way it distorts wall-clock time.
//!
//! The receiver runs in this process on threads of its own (the async runtime, its blocking
//! pool, rayon's pool, the database pool), all started from the runtime, so none carries the
//! process's name; the client (the bench's poster, or the core's `SyncClient` as a device runs
//! it, with the threads it starts) runs on the main thread and threads that inherit its name.
//! So the receiver's share is the CPU time of the live threads named otherwise, and the
//! client's is the rest of the process's (threads that ended included). Both come from `/proc`
//! in clock ticks of 10 ms (`USER_HZ`, fixed at 100 by the kernel's ABI): over seconds of work
//! the rounding is a fraction of a percent.

use std::time::Duration;

/// CPU time used so far (user and system).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    /// The whole process.
    process: Duration,
    /// The receiver's threads: those not named as the calling thread.
    receiver: Duration,
}

/// What a piece of work cost between two [`Usage`] readings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spent {
    /// The calling thread's and those named as it: the client.
    pub(crate) client: Duration,
    /// The other threads': the receiver.
    pub(crate) receiver: Duration,
}

impl Usage {
    /// Now, from `/proc/self/stat` and `/proc/self/task/*/`; zero where unreadable.
    pub(crate) fn now() -> Self {
        let own = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
        let receiver = std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .flatten()
                    .filter(|task| {
                        std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c != own)
                    })
                    .map(|task| stat_cpu(&task.path().join("stat").to_string_lossy()))
                    .sum()
            })
            .unwrap_or_default();
        Self {
            process: stat_cpu("/proc/self/stat"),
            receiver,
        }
    }

    /// What was spent since `self`.
    pub(crate) fn since(self) -> Spent {
        let now = Self::now();
        let process = now.process.saturating_sub(self.process);
        let receiver = now.receiver.saturating_sub(self.receiver).min(process);
        Spent {
            client: process.saturating_sub(receiver),
            receiver,
        }
    }
}

impl Spent {
    /// Microseconds of receiver and client CPU per record, as printed beside a rate.
    pub(crate) fn per_record(&self, records: usize) -> String {
        let each = |d: Duration| d.as_secs_f64() * 1e6 / records.max(1) as f64;
        format!(
            "CPU per record: receiver {:.0} µs, client {:.0} µs",
            each(self.receiver),
            each(self.client)
        )
    }
}

/// The process's CPU time so far (every thread), for figures that need no split.
pub(crate) fn process_cpu() -> Duration {
    stat_cpu("/proc/self/stat")
}

/// utime + stime of a `/proc/…/stat` file.
fn stat_cpu(path: &str) -> Duration {
    let ticks = std::fs::read_to_string(path)
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = stat.get(stat.rfind(')')? + 2..)?.to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}
