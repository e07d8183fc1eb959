//! The group-commit writer: the only database writer on the ingest hot path.
//!
//! # Design note
//!
//! Many connections submit work; one task owns one dedicated database connection and turns
//! whatever has queued up into a single transaction, so a batch of N documents costs one commit
//! (one fsync on SQLite) instead of N.
//!
//! - **Bounded queue.** [`Writer::submit`] waits for room in the channel: when the database is
//!   slower than the listeners, connections slow down instead of memory growing.
//! - **Batching.** The task takes the first queued item, then keeps taking items until it holds
//!   `max_batch` of them or `max_delay` has passed since the first, then BEGIN, apply each, COMMIT.
//! - **Documents in bulk.** Plain documents ([`Writer::store`], the hot path) are inserted with a
//!   few multi-row statements per batch rather than one statement each; only those whose key
//!   already exists (resends, conflicts) go through the per-document path. Other work
//!   ([`Writer::submit`]) runs after them in the same transaction, in queue order, except that
//!   work of a kind that asks for it ([`TxWork::GROUPED`], the KZ exchange) runs all together
//!   through [`TxWork::apply_all`] where the first of its kind stands: every statement is a
//!   round trip to the driver's thread, and those round trips, not SQLite, are what a batch of
//!   small works spends its time on.
//! - **Ack after commit.** Each submitter's future resolves only after COMMIT has returned (or
//!   with an error, in which case the caller must not acknowledge). A commit error is reported as
//!   an error even though the transaction may in fact have committed: a document stored but not
//!   acknowledged is resent by the register and answered as a duplicate, whereas the reverse would
//!   lose a document.
//! - **Isolation of failures.** If any item fails, the whole batch is rolled back and each item is
//!   re-run in its own transaction, so one bad item fails alone. This is why [`TxWork::apply`]
//!   takes `&self`: work must be repeatable and must touch nothing but the connection it is given.
//! - **A thread of its own.** The writer is the one serial step every acknowledgement waits for,
//!   and a batch makes several round trips to the database driver. As one task among thousands of
//!   connection tasks it waited behind them in the runtime's queue after each round trip (a
//!   100-document commit took 80 ms of which a few were database work), so it runs on a
//!   single-threaded runtime on a dedicated thread, scheduled by the OS beside the workers.
//! - **Checkpoints elsewhere.** On SQLite the writer's connection checkpoints the WAL only as a
//!   backstop; a background task does it (module [`checkpoint`]).
//! - **Shutdown.** When every [`Writer`] handle is dropped the channel closes; the task drains
//!   and commits what is still queued, then exits. Graceful shutdown relies on this: drop the
//!   handles, then await the task's `JoinHandle`.
//! - **Lost connection.** After a failed transaction the connection is pinged; if it is dead, or
//!   still inside the failed transaction (a COMMIT refused on a full disk), it is replaced from
//!   the pool before the next batch. If BEGIN is what failed, nothing was done
//!   yet, so the batch is retried once at once on the replacement.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt as _;
use sqlx::{AnyConnection, Connection as _};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::documents::{insert_document, insert_new_documents, InsertOutcome, NewDocument};
use super::tx_work::TxWork;
use super::{checkpoint, Backend, Store, TurnTaker};

/// Called after every committed batch; the ingest role feeds its Prometheus histograms from here.
pub type BatchObserver = Arc<dyn Fn(&CommittedBatch) + Send + Sync>;

/// What the writer reports of one committed batch.
#[derive(Clone, Copy, Debug)]
pub struct CommittedBatch {
    /// Items in the transaction.
    pub items: usize,
    /// From the start of the commit (the wait for the turn included) to COMMIT's return.
    pub took: Duration,
    /// Of `took`, the wait for this process's turn to write to SQLite: the time the batch spent
    /// behind the projector's or forwarder's transaction (zero on PostgreSQL).
    pub turn_wait: Duration,
}

/// Tuning of the group-commit writer.
#[derive(Clone)]
pub struct WriterConfig {
    /// Most items in one transaction.
    pub max_batch: usize,
    /// Longest wait, counted from the first item of a batch, for more items to join it.
    pub max_delay: Duration,
    /// Capacity of the submission channel (backpressure beyond this).
    pub queue: usize,
    /// Metrics hook, called once per committed batch.
    pub observer: Option<BatchObserver>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_batch: 512,
            max_delay: Duration::from_micros(500),
            queue: 8192,
            observer: None,
        }
    }
}

impl std::fmt::Debug for WriterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterConfig")
            .field("max_batch", &self.max_batch)
            .field("max_delay", &self.max_delay)
            .field("queue", &self.queue)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// Why a submission did not commit. Nothing of the work is durable unless noted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The work or its transaction failed in the database (the commit itself may be uncertain).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// No database connection could be obtained for the writer.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The writer task has stopped and accepts no more work.
    #[error("the writer has stopped")]
    Closed,
}

/// Handle for submitting work to the writer task; clone one per connection.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Box<dyn Job>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("queue_depth", &self.queue_depth())
            .finish()
    }
}

impl Writer {
    /// Start the writer on `store`, on a thread of its own (see the design note). It ends after
    /// every handle has been dropped and the queue is drained; the returned handle resolves then.
    /// Must be called inside a tokio runtime.
    pub fn spawn(store: Store, cfg: WriterConfig) -> (Writer, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let task = WriterTask {
            store,
            conn: None,
            max_batch: cfg.max_batch.max(1),
            max_delay: cfg.max_delay,
            observer: cfg.observer,
            turn_wait: Duration::ZERO,
        };
        // SQLite: checkpoints run beside the writer, not inside its commits (see `checkpoint`).
        let checkpoints = CancellationToken::new();
        if task.store.backend() == Backend::Sqlite {
            tokio::spawn(checkpoint::run(task.store.clone(), checkpoints.clone()));
        }
        let handle = tokio::task::spawn_blocking(move || {
            let _stop_checkpoints = checkpoints.drop_guard();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("ofd-writer")
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(task.run(rx)),
                // Dropping `rx` makes every submission fail with `Closed`: nothing is acked.
                Err(error) => tracing::error!(%error, "cannot start the group-commit writer"),
            }
        });
        (Writer { tx }, handle)
    }

    /// Queue `work` (waiting for room if the queue is full) and resolve after the transaction
    /// holding it has committed, or with an error, in which case the caller must not acknowledge.
    pub async fn submit<W: TxWork>(&self, work: W) -> Result<W::Output, WriteError> {
        let (reply, result) = oneshot::channel();
        let job = Box::new(Pending {
            work,
            output: None,
            reply,
        });
        self.tx.send(job).await.map_err(|_| WriteError::Closed)?;
        result.await.map_err(|_| WriteError::Closed)?
    }

    /// Store one document (the ingest hot path) and resolve after its transaction has committed,
    /// with what storing it did under the idempotency rule; on an error the caller must not
    /// acknowledge. Same as submitting a unit of work that calls
    /// [`insert_document`], but batched into multi-row inserts.
    pub async fn store(&self, document: NewDocument) -> Result<InsertOutcome, WriteError> {
        let (reply, result) = oneshot::channel();
        let job = Box::new(StoreDocument {
            document,
            outcome: None,
            reply,
        });
        self.tx.send(job).await.map_err(|_| WriteError::Closed)?;
        result.await.map_err(|_| WriteError::Closed)?
    }

    /// A handle for readiness probes that does not keep the writer alive (see [`WriterWatch`]).
    pub fn watch(&self) -> WriterWatch {
        WriterWatch {
            tx: self.tx.downgrade(),
        }
    }

    /// Items waiting in the queue (a gauge for metrics).
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

/// Watches a writer without owning it: the writer still drains and stops when the last
/// [`Writer`] is dropped, so a probe endpoint that outlives the connections cannot hold it open.
#[derive(Clone)]
pub struct WriterWatch {
    tx: mpsc::WeakSender<Box<dyn Job>>,
}

impl WriterWatch {
    /// Pass an empty unit of work through the queue and a commit: resolves once the writer has
    /// committed everything queued before it. Readiness probes call it under a deadline, so a
    /// writer that stopped committing (a database that hangs, a lock never released) makes the
    /// role unready instead of silently queueing registers' documents. `Closed` once stopped.
    pub async fn heartbeat(&self) -> Result<(), WriteError> {
        let tx = self.tx.upgrade().ok_or(WriteError::Closed)?;
        Writer { tx }.submit(Heartbeat).await
    }
}

/// The work of [`WriterWatch::heartbeat`]: nothing, committed like everything else.
struct Heartbeat;

impl TxWork for Heartbeat {
    type Output = ();

    fn apply<'c>(&'c self, _conn: &'c mut AnyConnection) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        async { Ok(()) }.boxed()
    }
}

/// A queued [`TxWork`] with its reply channel, type-erased so one channel carries every kind.
trait Job: Send {
    /// Apply the work, keeping its output until the transaction's fate is known.
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection)
        -> BoxFuture<'c, Result<(), sqlx::Error>>;
    /// Deliver the kept output (after COMMIT) or the error to the submitter.
    fn finish(self: Box<Self>, result: Result<(), WriteError>);
    /// The document, when the job is nothing but storing one; the writer then tries the batch's
    /// documents in bulk first.
    fn document(&self) -> Option<&NewDocument> {
        None
    }
    /// The bulk insert settled [`Job::document`] (stored it, or found it stored with the same
    /// bytes); `run` is then skipped for this transaction.
    fn settled_in_bulk(&mut self, _outcome: InsertOutcome) {}
    /// For work that runs grouped ([`TxWork::GROUPED`]): its kind, and how to run every job of
    /// that kind in the batch at once.
    fn group(&self) -> Option<(TypeId, GroupRunner)> {
        None
    }
    /// The job itself, for a group runner to find its own type behind `dyn Job`.
    fn as_any(&self) -> &dyn Any;
    /// The job itself, mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Runs the jobs of one grouped kind together (see [`run_group`]).
type GroupRunner = for<'a> fn(
    Vec<&'a mut Box<dyn Job>>,
    &'a mut AnyConnection,
) -> BoxFuture<'a, Result<(), sqlx::Error>>;

/// [`TxWork::apply_all`] over the jobs of kind `W`; each keeps its own output.
fn run_group<'a, W: TxWork>(
    mut jobs: Vec<&'a mut Box<dyn Job>>,
    conn: &'a mut AnyConnection,
) -> BoxFuture<'a, Result<(), sqlx::Error>> {
    async move {
        let outputs = {
            let works: Vec<&W> = jobs
                .iter()
                .filter_map(|job| job.as_any().downcast_ref::<Pending<W>>())
                .map(|pending| &pending.work)
                .collect();
            if works.len() != jobs.len() {
                return Err(sqlx::Error::Protocol(
                    "writer: a job in the wrong group".into(),
                ));
            }
            W::apply_all(works, conn).await?
        };
        if outputs.len() != jobs.len() {
            return Err(sqlx::Error::Protocol(
                "writer: apply_all gave the wrong number of outputs".into(),
            ));
        }
        for (job, output) in jobs.iter_mut().zip(outputs) {
            if let Some(pending) = job.as_any_mut().downcast_mut::<Pending<W>>() {
                pending.output = Some(output);
            }
        }
        Ok(())
    }
    .boxed()
}

/// A queued [`Writer::store`].
struct StoreDocument {
    document: NewDocument,
    outcome: Option<InsertOutcome>,
    reply: oneshot::Sender<Result<InsertOutcome, WriteError>>,
}

impl Job for StoreDocument {
    fn run<'c>(
        &'c mut self,
        conn: &'c mut AnyConnection,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        async move {
            self.outcome = Some(insert_document(conn, &self.document).await?);
            Ok(())
        }
        .boxed()
    }

    fn finish(self: Box<Self>, result: Result<(), WriteError>) {
        settle(self.reply, result, self.outcome);
    }

    fn document(&self) -> Option<&NewDocument> {
        Some(&self.document)
    }

    fn settled_in_bulk(&mut self, outcome: InsertOutcome) {
        self.outcome = Some(outcome);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

struct Pending<W: TxWork> {
    work: W,
    output: Option<W::Output>,
    reply: oneshot::Sender<Result<W::Output, WriteError>>,
}

impl<W: TxWork> Job for Pending<W> {
    fn run<'c>(
        &'c mut self,
        conn: &'c mut AnyConnection,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        async move {
            self.output = None;
            let output = self.work.apply(conn).await?;
            self.output = Some(output);
            Ok(())
        }
        .boxed()
    }

    fn finish(self: Box<Self>, result: Result<(), WriteError>) {
        settle(self.reply, result, self.output);
    }

    fn group(&self) -> Option<(TypeId, GroupRunner)> {
        W::GROUPED.then(|| (TypeId::of::<W>(), run_group::<W> as GroupRunner))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Tell a submitter how its job ended: the output it kept when the transaction committed, else
/// the error.
fn settle<T>(
    reply: oneshot::Sender<Result<T, WriteError>>,
    result: Result<(), WriteError>,
    kept: Option<T>,
) {
    let delivered = match (result, kept) {
        (Ok(()), Some(output)) => Ok(output),
        (Ok(()), None) => Err(WriteError::Unavailable(
            "work committed without output".into(),
        )),
        (Err(e), _) => Err(e),
    };
    // The submitter may have gone away (connection closed); nothing to do then.
    let _ = reply.send(delivered);
}

/// Where a transaction attempt failed.
enum TxFailure {
    /// No connection could be had.
    Connect(WriteError),
    /// BEGIN failed: nothing was done on the connection.
    Begin(sqlx::Error),
    /// A job or COMMIT failed (the commit itself may be uncertain).
    Work(sqlx::Error),
}

struct WriterTask {
    store: Store,
    /// The dedicated connection; `None` until first use or after it was found dead.
    conn: Option<AnyConnection>,
    max_batch: usize,
    max_delay: Duration,
    observer: Option<BatchObserver>,
    /// How long the last transaction waited for its turn to write.
    turn_wait: Duration,
}

impl WriterTask {
    async fn run(mut self, mut rx: mpsc::Receiver<Box<dyn Job>>) {
        let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(self.max_batch);
        // recv() keeps returning queued items after every sender is gone, then None: that is
        // the drain on shutdown.
        while let Some(first) = rx.recv().await {
            batch.push(first);
            let deadline = tokio::time::Instant::now() + self.max_delay;
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        match tokio::time::timeout_at(deadline, rx.recv()).await {
                            Ok(Some(job)) => batch.push(job),
                            Ok(None) | Err(_) => break,
                        }
                    }
                }
            }
            self.commit_batch(&mut batch).await;
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// Commit `batch` as one transaction, or each item alone if the batch fails; reply to all.
    async fn commit_batch(&mut self, batch: &mut Vec<Box<dyn Job>>) {
        let started = Instant::now();
        let first_try = self.transaction(batch.as_mut_slice()).await;
        match first_try {
            Ok(()) => {
                self.observe(batch.len(), started.elapsed());
                for job in batch.drain(..) {
                    job.finish(Ok(()));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(job) = batch.pop() {
                    job.finish(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, items = batch.len(), "batch failed; retrying its items one by one");
                for mut job in batch.drain(..) {
                    let started = Instant::now();
                    let result = self.transaction(std::slice::from_mut(&mut job)).await;
                    if result.is_ok() {
                        self.observe(1, started.elapsed());
                    }
                    job.finish(result);
                }
            }
        }
    }

    /// BEGIN, run every job, COMMIT on the dedicated connection. A connection that died while
    /// idle (database restarted, session terminated) is only noticed when BEGIN fails on it;
    /// nothing has been done on it then, so it is replaced and the transaction tried once more,
    /// rather than failing the first batch after every outage.
    async fn transaction(&mut self, jobs: &mut [Box<dyn Job>]) -> Result<(), WriteError> {
        let mut outcome = self.try_transaction(jobs).await;
        if let Err(TxFailure::Begin(e)) = &outcome {
            if self.check_connection(e).await {
                outcome = self.try_transaction(jobs).await;
            }
        }
        match outcome {
            Ok(()) => Ok(()),
            Err(TxFailure::Begin(e) | TxFailure::Work(e)) => {
                self.check_connection(&e).await;
                Err(WriteError::from(e))
            }
            Err(TxFailure::Connect(e)) => Err(e),
        }
    }

    async fn try_transaction(&mut self, jobs: &mut [Box<dyn Job>]) -> Result<(), TxFailure> {
        let backend = self.store.backend();
        // Held until this function returns: after the COMMIT, or with the failed transaction.
        let asked = Instant::now();
        let _turn = self.store.sqlite_write_turn(TurnTaker::Ingest).await;
        self.turn_wait = asked.elapsed();
        let conn = self.connection().await.map_err(TxFailure::Connect)?;
        // IMMEDIATE takes SQLite's write lock up front, so a batch that reads before it
        // writes cannot fail half-way on a lock upgrade; other writers wait (busy_timeout).
        let mut tx = match backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => conn.begin().await,
        }
        .map_err(TxFailure::Begin)?;
        let documents: Vec<&NewDocument> = jobs.iter().filter_map(|j| j.document()).collect();
        let mut settled = insert_new_documents(&mut tx, &documents)
            .await
            .map_err(TxFailure::Work)?
            .into_iter();
        // Done: settled in bulk, run alone, or run with its group.
        let mut done = vec![false; jobs.len()];
        for (job, done) in jobs.iter_mut().zip(&mut done) {
            if job.document().is_none() {
                continue;
            }
            if let Some(outcome) = settled.next().flatten() {
                job.settled_in_bulk(outcome);
                *done = true;
            }
        }
        for i in 0..jobs.len() {
            if done[i] {
                continue;
            }
            let Some((kind, runner)) = jobs[i].group() else {
                jobs[i].run(&mut tx).await.map_err(TxFailure::Work)?;
                done[i] = true;
                continue;
            };
            // The whole group runs where its first job stands in the queue.
            let mut members = Vec::new();
            for (j, job) in jobs.iter_mut().enumerate().skip(i) {
                if !done[j] && job.group().is_some_and(|(k, _)| k == kind) {
                    done[j] = true;
                    members.push(job);
                }
            }
            runner(members, &mut tx).await.map_err(TxFailure::Work)?;
        }
        tx.commit().await.map_err(TxFailure::Work)
    }

    /// The dedicated connection, (re)opened from the pool when needed.
    async fn connection(&mut self) -> Result<&mut AnyConnection, WriteError> {
        if self.conn.is_none() {
            let mut conn = self
                .store
                .pool()
                .acquire()
                .await
                .map_err(|e| WriteError::Unavailable(e.to_string()))?
                .detach();
            if self.store.backend() == Backend::Sqlite {
                let pragma = format!(
                    "PRAGMA wal_autocheckpoint = {}",
                    checkpoint::WRITER_AUTOCHECKPOINT_PAGES
                );
                sqlx::query(&pragma)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| WriteError::Unavailable(e.to_string()))?;
            }
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| WriteError::Unavailable("no connection".into()))
    }

    /// After a failure, drop the connection if it no longer answers, or if it is still inside
    /// the failed transaction (a COMMIT that failed on a full disk leaves SQLite's transaction
    /// open, and every BEGIN after it would fail until a restart); true when it was dropped.
    async fn check_connection(&mut self, error: &sqlx::Error) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        if conn.ping().await.is_err() {
            tracing::warn!(%error, "writer connection lost; reconnecting");
            self.conn = None;
            return true;
        }
        if conn.is_in_transaction() {
            tracing::warn!(%error, "writer connection stuck in its failed transaction; reconnecting");
            if let Some(conn) = self.conn.take() {
                // Closing rolls the transaction back; a close that fails drops the connection.
                let _ = conn.close().await;
            }
            return true;
        }
        false
    }

    fn observe(&self, items: usize, took: Duration) {
        if let Some(observer) = &self.observer {
            observer(&CommittedBatch {
                items,
                took,
                turn_wait: self.turn_wait,
            });
        }
    }
}
