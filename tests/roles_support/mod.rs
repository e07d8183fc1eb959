//! The built `ofd` binary as a long-running role: spawned with JSON logs, its log lines collected
//! as they come, stopped with a real signal.
#![allow(dead_code)] // each test file uses a different subset

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running `ofd` process and the log lines it has written so far.
pub struct Role {
    child: Child,
    logs: Arc<Mutex<Vec<serde_json::Value>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Role {
    /// `ofd --log-json ARGS…` with `envs` set and every other `OFD_*` variable of the test's
    /// environment removed, so that only what the test names configures the role.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Role {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ofd"));
        command.arg("--log-json").args(args);
        for (name, _) in std::env::vars() {
            if name.starts_with("OFD_") {
                command.env_remove(name);
            }
        }
        command
            .envs(envs.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn ofd");
        let stderr = child.stderr.take().expect("stderr piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let reader = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "fields": { "message": line } }));
                sink.lock().expect("log lock").push(value);
            }
        });
        Role {
            child,
            logs,
            reader,
        }
    }

    /// The first log line whose message is `message`, waiting up to `within` for it; panics
    /// (with the log so far) if the process exits or the time runs out first.
    pub async fn wait_for(&mut self, message: &str, within: Duration) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.find(message) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader catch the last lines before reporting.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "ofd exited ({status}) before logging {message:?}: {:#?}",
                    self.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {message:?} within {within:?}: {:#?}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The address a role logged in field `field` of message `message` (waits up to 30 s).
    pub async fn logged_addr(&mut self, message: &str, field: &str) -> std::net::SocketAddr {
        let line = self.wait_for(message, Duration::from_secs(30)).await;
        line["fields"][field]
            .as_str()
            .unwrap_or_else(|| panic!("{message:?} has no {field}: {line}"))
            .parse()
            .expect("a socket address")
    }

    fn find(&self, message: &str) -> Option<serde_json::Value> {
        self.logs
            .lock()
            .expect("log lock")
            .iter()
            .find(|line| line["fields"]["message"] == message)
            .cloned()
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<serde_json::Value> {
        self.logs.lock().expect("log lock").clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// Send SIGTERM (with the `kill` command, as an init system sends it) and wait up to
    /// `within` for the exit; returns the exit status and the complete log.
    pub async fn terminate(self, within: Duration) -> (ExitStatus, Vec<serde_json::Value>) {
        self.signal("TERM", within).await
    }

    /// Wait up to `within` for a process that ends by itself (a tool such as `--rebuild`);
    /// returns the exit status and the complete log.
    pub async fn finish(mut self, within: Duration) -> (ExitStatus, Vec<serde_json::Value>) {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("still running after {within:?}"))
            .expect("wait for ofd");
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
        let logs = self.logs();
        (status, logs)
    }

    /// Send SIGINT (what ctrl-c sends) and wait as [`Role::terminate`] does.
    pub async fn interrupt(self, within: Duration) -> (ExitStatus, Vec<serde_json::Value>) {
        self.signal("INT", within).await
    }

    async fn signal(
        mut self,
        name: &str,
        within: Duration,
    ) -> (ExitStatus, Vec<serde_json::Value>) {
        let sent = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{name} failed");
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("still running {within:?} after SIG{name}"))
            .expect("wait for ofd");
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
        let logs = self.logs();
        (status, logs)
    }
}

/// Whether `logs` hold a line with message `message`.
pub fn logged(logs: &[serde_json::Value], message: &str) -> bool {
    logs.iter().any(|line| line["fields"]["message"] == message)
}

/// A loopback port that was free a moment ago (for options that cannot take port 0).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Write `text` as `name` under `dir`; its path as a string.
pub fn write_config(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}
