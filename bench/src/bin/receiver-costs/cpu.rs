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

/// Name prefix of the verification pool's threads (rayon's global pool, named by
/// [`name_pool_threads`]): the receiver's parallel share.
const POOL: &str = "verify-";

/// Names rayon's global pool's threads [`POOL`]`N`, so that the receiver's CPU time splits into
/// what runs on every core (parsing, verification, receipts) and the rest: the async runtime
/// and the one thread a batch is stored on, the serial part that bounds ingest. Call before
/// the receiver first uses the pool.
pub(crate) fn name_pool_threads() {
    // Fails only if the pool was built already, which leaves its threads unnamed: the split
    // then reads 0 for the pool.
    let _ = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("{POOL}{i}"))
        .build_global();
}

/// CPU time used so far (user and system).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    /// The whole process.
    process: Duration,
    /// The receiver's threads: those not named as the calling thread.
    receiver: Duration,
    /// Of those, the verification pool's.
    pool: Duration,
}

/// What a piece of work cost between two [`Usage`] readings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spent {
    /// The calling thread's and those named as it: the client.
    pub(crate) client: Duration,
    /// The other threads': the receiver.
    pub(crate) receiver: Duration,
    /// Of the receiver's, the verification pool's.
    pub(crate) pool: Duration,
}

impl Usage {
    /// Now, from `/proc/self/stat` and `/proc/self/task/*/`; zero where unreadable.
    pub(crate) fn now() -> Self {
        let own = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
        let (mut receiver, mut pool) = (Duration::ZERO, Duration::ZERO);
        for task in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            let Ok(name) = std::fs::read_to_string(task.path().join("comm")) else {
                continue;
            };
            if name == own {
                continue;
            }
            let spent = stat_cpu(&task.path().join("stat").to_string_lossy());
            receiver += spent;
            if name.starts_with(POOL) {
                pool += spent;
            }
        }
        Self {
            process: stat_cpu("/proc/self/stat"),
            receiver,
            pool,
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
            pool: now.pool.saturating_sub(self.pool).min(receiver),
        }
    }
}

impl Spent {
    /// Microseconds of receiver and client CPU per record, as printed beside a rate.
    pub(crate) fn per_record(&self, records: usize) -> String {
        let each = |d: Duration| d.as_secs_f64() * 1e6 / records.max(1) as f64;
        format!(
            "CPU per record: receiver {:.0} µs (verification pool {:.0}, batch thread and runtime {:.0}), client {:.0} µs",
            each(self.receiver),
            each(self.pool),
            each(self.receiver.saturating_sub(self.pool)),
            each(self.client)
        )
    }
}

/// The process's CPU time so far (every thread), for figures that need no split.
pub(crate) fn process_cpu() -> Duration {
    stat_cpu("/proc/self/stat")
}

/// CPU time of the PostgreSQL server's processes on this machine so far (every process named
/// `postgres`: the backends serving the receiver's connections, the WAL writer, the
/// checkpointer), for a figure that counts the database's share of ingest too. Zero when the
/// server runs elsewhere; processes that end meanwhile drop out, so a reading across the
/// receiver's pool being opened or closed undercounts.
pub(crate) fn postgres_server() -> Duration {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|entry| stat_cpu(&entry.path().join("stat").to_string_lossy()))
        .sum()
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
