//! An accord server in the same process, on a loopback port, with a temporary database: what
//! `accord demo` and `accord scenario run --embedded` talk to.

use std::net::SocketAddr;
use std::path::PathBuf;

use accord_server::config::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running in-process server; stopped (and its database deleted) when dropped or shut down.
pub struct EmbeddedServer {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl EmbeddedServer {
    /// Starts a server with a fresh database (the NATO dataset) and the policy libraries in
    /// `plugin_dir` (default: the directory of the running program, where cargo builds them).
    pub async fn start(plugin_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = Config {
            listen: "127.0.0.1:0".parse()?,
            database_url: format!("sqlite://{}", dir.path().join("accord.db").display()),
            ..Config::default()
        };
        if let Some(plugin_dir) = plugin_dir {
            config.plugin_dir = plugin_dir;
        }
        let plugin_dir = config.plugin_dir.clone();
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let address = listener.local_addr()?;
        let app = accord_server::build_app(config)
            .await
            .map_err(|e| anyhow::anyhow!("could not start the embedded server: {e}"))?;
        if app.policies.healthy_ids().is_empty() {
            anyhow::bail!(
                "no policy library could be loaded from {}: build them first (`cargo build --workspace`)",
                plugin_dir.display()
            );
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = accord_server::serve(app, listener, shutdown).await {
                eprintln!("embedded server: {e}");
            }
        });
        Ok(Self {
            address,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        })
    }

    /// The server's address, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
