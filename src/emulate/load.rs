//! The load loop: a bounded pool of workers, each driving one simulated register at a time
//! through its documents, resending every document until the reply settles it.
//!
//! Concurrency is the number of registers talking at once, which is what an OFD sees: each
//! worker owns one register's connection and sends that register's documents strictly in order.
//! A document is "settled" when its reply is judged (acked, rejected or invalid) or when it has
//! been retried for longer than the give-up limit; only then does the register move on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::link::{Link, LinkArgs};
use super::model::{Outgoing, RegisterModel, ReplyFraming, Verdict};
use super::stats::{Latencies, Stats};

/// Everything the loop needs besides the registers themselves.
pub struct Plan {
    /// HOST:PORT of the OFD.
    pub target: String,
    /// Link faults and connection reuse.
    pub link: LinkArgs,
    /// Registers talking at once.
    pub concurrency: usize,
    /// Stop handing out new documents after this instant (`--duration`).
    pub deadline: Option<Instant>,
    /// Give a document up when it is still unsettled this long after its first attempt.
    pub give_up_after: Duration,
    /// After each acknowledgement, resend the document and expect byte-identical bytes back.
    pub resend_check: bool,
    /// Seed of the link-fault generators.
    pub seed: u64,
    /// `--clock-start`: the time a register's documents are made at, instead of the clock.
    pub clock_start: Option<i64>,
    /// `--rate`: when documents are due; `None` sends each as soon as its register is free.
    pub pacer: Option<Pacer>,
}

/// Open-loop pacing: document *k* of the run is due at `start + k / rate`, whichever register
/// sends it. A register that takes a slot late (every register was still busy) sends at once
/// and the lateness counts in its delivery latency, so an overloaded server cannot hide behind
/// a load generator that politely waits for it.
pub struct Pacer {
    start: Instant,
    interval: Duration,
    issued: AtomicU64,
}

impl Pacer {
    /// `rate` documents per second from `start` on.
    pub fn new(start: Instant, rate: f64) -> Pacer {
        Pacer {
            start,
            interval: Duration::from_secs_f64(1.0 / rate),
            issued: AtomicU64::new(0),
        }
    }

    /// Wait for the next free slot; returns when it was due.
    async fn next_slot(&self) -> Instant {
        let k = self.issued.fetch_add(1, Ordering::Relaxed);
        let due = self.start + self.interval.mul_f64(k as f64);
        tokio::time::sleep_until(due.into()).await;
        due
    }
}

type Fleet = Arc<Mutex<VecDeque<Box<dyn RegisterModel>>>>;

/// Run every register to completion (or until `stop`/the deadline) and return the merged
/// latency figures. Counters go to `stats` as they happen.
pub async fn run(
    plan: Plan,
    framing: Arc<dyn ReplyFraming>,
    registers: Vec<Box<dyn RegisterModel>>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
) -> Latencies {
    let workers = plan.concurrency.clamp(1, registers.len().max(1));
    let fleet: Fleet = Arc::new(Mutex::new(registers.into()));
    let plan = Arc::new(plan);
    // One set of histograms for the run, not one per worker: a histogram of this range and
    // precision is 150 KB, and with a thousand workers, four each, the emulator zeroed 600 MB
    // while the run was timed (benches/README.md, "Eighteenth session").
    let latencies = Arc::new(Mutex::new(Latencies::new()));
    let mut tasks = JoinSet::new();
    for worker in 0..workers {
        let worker = Worker {
            plan: Arc::clone(&plan),
            framing: Arc::clone(&framing),
            stats: Arc::clone(&stats),
            stop: Arc::clone(&stop),
            rng: StdRng::seed_from_u64(plan.seed.wrapping_add(worker as u64)),
            latencies: Arc::clone(&latencies),
        };
        let fleet = Arc::clone(&fleet);
        tasks.spawn(worker.run(fleet));
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(error) = done {
            stats.error(format!("emulator.worker_failed: {error}"));
        }
    }
    let mut latencies = latencies
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::mem::take(&mut *latencies)
}

/// The time a register's document number `made` (from 0) is made at: the clock (`now`), or
/// with `--clock-start` one second per document after it, so a seed's bytes repeat.
fn document_time(clock_start: Option<i64>, made: i64, now: i64) -> i64 {
    clock_start.map_or(now, |start| start.saturating_add(made))
}

struct Worker {
    plan: Arc<Plan>,
    framing: Arc<dyn ReplyFraming>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    rng: StdRng,
    latencies: Arc<Mutex<Latencies>>,
}

impl Worker {
    async fn run(mut self, fleet: Fleet) {
        loop {
            let next = fleet
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .pop_front();
            let Some(register) = next else { break };
            self.drive(register).await;
            if self.stopping() {
                break;
            }
        }
    }

    /// Record one figure in the run's histogram `which`.
    fn record(&self, which: fn(&mut Latencies) -> &mut Histogram<u64>, elapsed: Duration) {
        let mut latencies = self
            .latencies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Latencies::record(which(&mut latencies), elapsed);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self
                .plan
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Send one register's documents in order over its own connection(s).
    async fn drive(&mut self, mut register: Box<dyn RegisterModel>) {
        let mut link = Link::new(self.plan.target.clone(), self.plan.link.clone());
        let mut connection: Option<TcpStream> = None;
        let mut documents_on_connection = 0u32;
        let mut made = 0i64;
        while !self.stopping() {
            let due = match &self.plan.pacer {
                Some(pacer) => pacer.next_slot().await,
                None => Instant::now(),
            };
            let now = document_time(self.plan.clock_start, made, crate::clock::unix_seconds());
            let Some(document) = register.next_document(now) else {
                break;
            };
            made += 1;
            Stats::bump(&self.stats.documents);
            self.deliver(
                &mut link,
                &mut connection,
                register.as_mut(),
                &document,
                due,
            )
            .await;
            documents_on_connection += 1;
            if documents_on_connection >= link.documents_per_connection() {
                close(connection.take()).await;
                documents_on_connection = 0;
            }
        }
        close(connection.take()).await;
    }

    /// Resend `document` until its reply settles it. Delivery latency and the give-up limit
    /// count from `due`: when the document was scheduled, or its first attempt when unpaced.
    async fn deliver(
        &mut self,
        link: &mut Link,
        connection: &mut Option<TcpStream>,
        register: &mut dyn RegisterModel,
        document: &Outgoing,
        due: Instant,
    ) {
        let first_attempt = due;
        self.record(|l| &mut l.start, first_attempt.elapsed());
        let mut attempts = 0u32;
        loop {
            if attempts > 0 && first_attempt.elapsed() > self.plan.give_up_after {
                Stats::bump(&self.stats.undelivered);
                self.stats.error(format!("undelivered.{}", document.kind));
                return;
            }
            let stream = match connection {
                Some(stream) => stream,
                None => match timed(link.connect()).await {
                    (Ok(stream), took) => {
                        self.record(|l| &mut l.connect, took);
                        Stats::bump(&self.stats.connections);
                        connection.insert(stream)
                    }
                    (Err(error), _) => {
                        self.stats.error(error.kind());
                        attempts += 1;
                        link.back_off(&mut self.rng).await;
                        continue;
                    }
                },
            };
            link.delay(&mut self.rng).await;
            if attempts > 0 {
                Stats::bump(&self.stats.resends);
            }
            attempts += 1;
            let sent_at = Instant::now();
            let outcome = link
                .exchange(stream, &document.frame, &*self.framing, &mut self.rng)
                .await;
            let reply = match outcome {
                Ok(reply) => reply,
                Err(error) => {
                    if matches!(error, super::link::LinkError::DroppedBeforeReply) {
                        Stats::bump(&self.stats.frames_sent);
                    }
                    self.stats.error(error.kind());
                    *connection = None;
                    link.back_off(&mut self.rng).await;
                    continue;
                }
            };
            Stats::bump(&self.stats.frames_sent);
            let exchange_time = sent_at.elapsed();
            link.delay(&mut self.rng).await;
            match register.check_reply(document, &reply) {
                Verdict::Acked => {
                    self.record(|l| &mut l.exchange, exchange_time);
                    self.record(|l| &mut l.delivery, first_attempt.elapsed());
                    Stats::bump(&self.stats.acked);
                    link.reset_back_off();
                    if self.plan.resend_check {
                        self.check_resend(document, &reply).await;
                    }
                    return;
                }
                Verdict::Rejected(code) => {
                    Stats::bump(&self.stats.rejected);
                    self.stats
                        .error(format!("rejected.{}.{code}", document.kind));
                    return;
                }
                Verdict::Invalid(what) => {
                    Stats::bump(&self.stats.invalid);
                    self.stats
                        .error(format!("invalid_reply.{}.{what}", document.kind));
                    return;
                }
                Verdict::RetryLater(code) => {
                    self.stats.error(format!("retry_later.{code}"));
                    *connection = None;
                    link.back_off(&mut self.rng).await;
                }
            }
        }
    }

    /// Send an acknowledged document once more, as a register that missed the reply would, and
    /// check the server answers with exactly the bytes it answered the first time. The check
    /// uses its own clean connection: it is about the server's memory, not about link faults.
    async fn check_resend(&mut self, document: &Outgoing, first_reply: &[u8]) {
        let clean = Link::new(
            self.plan.target.clone(),
            LinkArgs {
                drop_rate: 0.0,
                slow_write_bytes: 0,
                ..self.plan.link.clone()
            },
        );
        let mut stream = match clean.connect().await {
            Ok(stream) => stream,
            Err(error) => {
                self.stats.error(format!("resend_check.{}", error.kind()));
                return;
            }
        };
        Stats::bump(&self.stats.connections);
        match clean
            .exchange(&mut stream, &document.frame, &*self.framing, &mut self.rng)
            .await
        {
            Ok(second) if second == first_reply => Stats::bump(&self.stats.resend_checks_identical),
            Ok(_) => {
                Stats::bump(&self.stats.resend_checks_different);
                self.stats
                    .error(format!("resend_check.different_reply.{}", document.kind));
            }
            Err(error) => self.stats.error(format!("resend_check.{}", error.kind())),
        }
        close(Some(stream)).await;
    }
}

/// Close a connection the polite way: the server sees EOF, not a reset.
async fn close(connection: Option<TcpStream>) {
    if let Some(mut stream) = connection {
        let _ = stream.shutdown().await;
    }
}

/// `future`'s output and how long it took.
async fn timed<T>(future: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let output = future.await;
    (output, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::document_time;

    #[test]
    fn a_fixed_clock_gives_each_document_the_next_second() {
        assert_eq!(document_time(None, 5, 1_700_000_000), 1_700_000_000);
        assert_eq!(
            document_time(Some(1_600_000_000), 0, 1_700_000_000),
            1_600_000_000
        );
        assert_eq!(
            document_time(Some(1_600_000_000), 7, 1_700_000_000),
            1_600_000_007
        );
        assert_eq!(document_time(Some(i64::MAX), 1, 0), i64::MAX);
    }
}
