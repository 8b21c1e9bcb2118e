//! An engine that goes away mid-run: the next call (and a command in
//! flight) fails with an error instead of hanging. The engine is reached
//! through a small unix-socket proxy that the test then shuts down. Its
//! own binary, because it points DOCKER_HOST at the proxy.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deepagent_core::{Backend, Sandbox};
use deepagent_docker::{DockerSandbox, RuntimeConfig};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

/// Forwards connections to the real engine socket until `stop`.
struct Proxy {
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    path: std::path::PathBuf,
}

impl Proxy {
    fn start(path: std::path::PathBuf, upstream: String) -> Proxy {
        let listener = UnixListener::bind(&path).expect("bind proxy socket");
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let inner = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = UnixStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                inner.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Proxy { tasks, path }
    }

    fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_going_away_is_an_error_not_a_hang() {
    if !common::ready(&common::busybox_image()).await {
        return;
    }
    let original = std::env::var("DOCKER_HOST").ok();
    let upstream = match original.as_deref() {
        None => "/var/run/docker.sock".to_owned(),
        Some(h) if h.starts_with("unix://") => h.trim_start_matches("unix://").to_owned(),
        Some(other) => {
            common::say(&format!(
                "skipped: engine_gone needs a unix-socket engine, not {other}"
            ));
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("deepagent-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("engine.sock");
    let _ = std::fs::remove_file(&sock);
    let proxy = Proxy::start(sock.clone(), upstream);
    std::env::set_var("DOCKER_HOST", format!("unix://{}", sock.display()));

    let sandbox = DockerSandbox::new(
        RuntimeConfig::new("engine-gone", common::busybox_image()).run_as_image_user(),
    )
    .unwrap();
    let name = sandbox.container_name().to_owned();
    sandbox.write("/workspace/x.txt", "x".into()).await.unwrap();
    let running = {
        let sandbox = sandbox.clone();
        tokio::spawn(async move {
            sandbox
                .execute("sleep 20; echo late", Some(Duration::from_secs(60)))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.stop();

    // A hang would stop here; bound the wait so the test fails instead.
    let in_flight = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the command in flight hung after the engine went away")
        .unwrap();
    assert!(in_flight.is_err(), "{in_flight:?}");
    let next = tokio::time::timeout(
        Duration::from_secs(30),
        sandbox.read_bytes("/workspace/x.txt"),
    )
    .await
    .expect("the next call hung after the engine went away");
    let err = next.unwrap_err().to_string();
    assert!(
        err.contains("engine.sock"),
        "names the engine address: {err}"
    );

    // Clean up through the real engine.
    match original {
        Some(h) => std::env::set_var("DOCKER_HOST", h),
        None => std::env::remove_var("DOCKER_HOST"),
    }
    drop(common::Cleanup(name));
    let _ = std::fs::remove_dir_all(&dir);
}
