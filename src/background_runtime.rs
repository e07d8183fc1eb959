//! The second tokio runtime of `ofd all`: the roles that run beside ingest (forwarder, projector,
//! account API, bundled tax sink) get their own worker threads, at a lower OS priority.
//!
//! # Why
//!
//! One runtime has no priorities: a projector decoding a batch of documents, a forwarder
//! serialising a batch for the tax authority or the sink parsing it hold a worker thread for as
//! long as their step runs, and a register's frame that becomes readable meanwhile waits for a
//! free worker. The ack path is the one thing an OFD must not slow down; the other roles only
//! need to keep up on average. Measured on 2 cores under `ofd all` with batches of 100, this
//! runtime took the closed-loop rates up 10-17 % and a paced KZ run's p99 from 107-113 to
//! 80-89 ms (benches/README.md, issue 20, fifth round); with batches of 500 it changed nothing
//! measurable, the acks then waiting for the write turn rather than for a thread.
//!
//! So `ofd all` runs those roles on this runtime, whose threads the kernel schedules at nice
//! [`NICE`]: while ingest has work they get a small share of the CPU, and when it has none they
//! get all of it. What they open from here inherits the priority: their own database pool
//! (its SQLite connections run on threads they spawn, and a Linux thread starts with its
//! creator's nice value) and their listeners' I/O. They share nothing with ingest but the
//! store's turns to write ([`crate::store::Store::with_write_turns_of`]). A background
//! transaction holding the turn runs at the lower priority while an ingest commit waits for it
//! (an inversion the nice value keeps short rather than prevents: it still gets about a tenth of
//! a contended core); the batches of 100 `ofd all` gives those roles bound what it holds.
//!
//! # Invariants
//!
//! - Each thread lowers its own priority as it starts, before it polls any task; a failure is
//!   logged and the thread runs at normal priority (slower acks under load, nothing lost).
//! - Only lowering: a process cannot raise a thread back without privileges, and never needs to.
//! - On systems other than Linux the nice value is per process, so nothing is changed there.

use std::time::Duration;

/// The nice value of the background roles' threads: a CFS weight of 110 against ingest's 1024,
/// about a tenth of a contended core.
pub const NICE: i32 = 10;

/// How long `ofd all` waits, after every role has drained, for tasks of this runtime that did
/// not end with their role (a connection being closed, a blocking call) before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Build the background runtime: `threads` workers named `ofd-background`, each at [`NICE`].
pub fn build(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("ofd-background")
        .on_thread_start(lower_this_threads_priority)
        .enable_all()
        .build()
}

/// Lower the calling thread's priority to nice [`NICE`] unless it is lower already (Linux: the
/// nice value is per thread).
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let this = Some(rustix::thread::gettid());
        let lowered = getpriority_process(this).and_then(|nice| {
            if nice < NICE {
                setpriority_process(this, NICE)
            } else {
                Ok(())
            }
        });
        if let Err(error) = lowered {
            tracing::warn!(%error, "could not lower a background thread's priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of the calling thread, from the kernel's own view of it.
    #[cfg(target_os = "linux")]
    fn this_threads_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("proc stat");
        // Fields after the command name (which may hold spaces) start at ") ".
        let after = &stat[stat.rfind(") ").expect("stat format") + 2..];
        // state is field 3; nice is field 19.
        after
            .split(' ')
            .nth(19 - 3)
            .expect("nice field")
            .parse()
            .expect("number")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn background_tasks_run_at_the_lower_priority_and_the_caller_does_not() {
        let before = this_threads_nice();
        let runtime = build(2).expect("runtime");
        let (task_nice, spawned_thread_nice) = runtime.block_on(async {
            tokio::spawn(async {
                // A thread the task starts (as a SQLite connection does) inherits it too.
                let inherited = std::thread::spawn(this_threads_nice)
                    .join()
                    .expect("thread");
                (this_threads_nice(), inherited)
            })
            .await
            .expect("task")
        });
        let expected = before.max(NICE);
        assert_eq!(task_nice, expected);
        assert_eq!(spawned_thread_nice, expected);
        assert_eq!(
            this_threads_nice(),
            before,
            "the caller's own thread is left alone"
        );
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
    }
}
