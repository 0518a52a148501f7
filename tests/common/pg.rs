//! A private PostgreSQL server for a test: `initdb` into a temporary folder (as the unprivileged
//! `postgres` user when the tests run as root, since PostgreSQL refuses to run as root),
//! listening only on a Unix socket in that folder, stopped and removed when dropped. With
//! `IDPIPE_TEST_DATABASE_URL` set, that server is used instead (a fresh database per test).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running PostgreSQL for one test, and the URL of a fresh database on it.
pub struct Pg {
    pub url: String,
    server: Option<Child>,
    dir: Option<tempfile::TempDir>,
}

/// The directory of PostgreSQL's server programs (`initdb`, `postgres`): on `PATH`, or Debian's
/// versioned folder.
fn bin_dir() -> PathBuf {
    if let Ok(out) = Command::new("sh").args(["-c", "command -v initdb"]).output()
        && out.status.success()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Ok(real) = std::fs::canonicalize(&p)
            && let Some(d) = real.parent()
        {
            return d.to_path_buf();
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (make deps installs Debian's postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("no PostgreSQL server programs under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command run as the unprivileged `postgres` user when we are root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Pg {
    /// Starts a private server (or uses `IDPIPE_TEST_DATABASE_URL`).
    pub fn start() -> Pg {
        if let Ok(url) = std::env::var("IDPIPE_TEST_DATABASE_URL") {
            let name = format!(
                "idpipe_test_{}",
                std::process::id() as u64 * 1000 + COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            );
            let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("IDPIPE_TEST_DATABASE_URL");
            admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create database");
            let url = match url.rsplit_once('/') {
                Some((base, _)) if url.starts_with("postgres") => format!("{base}/{name}"),
                _ => format!("{url} dbname={name}"),
            };
            return Pg {
                url,
                server: None,
                dir: None,
            };
        }
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        if is_root() {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(ok.success(), "chown the test folder to postgres");
        }
        let init = as_server_user(&bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "idpipe", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("initdb");
        assert!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        let server = as_server_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=100"])
            .arg("-k")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres");
        // URL form (the socket folder as the host, percent-encoded), as a tenant file names it.
        let host: String = url::form_urlencoded::byte_serialize(dir.path().display().to_string().as_bytes()).collect();
        let url = format!("postgresql://idpipe@{host}/postgres");
        let started = Instant::now();
        loop {
            if postgres::Client::connect(&url, postgres::NoTls).is_ok() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "PostgreSQL did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Pg {
            url,
            server: Some(server),
            dir: Some(dir),
        }
    }
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Drop for Pg {
    fn drop(&mut self) {
        if let (Some(mut s), Some(dir)) = (self.server.take(), self.dir.as_ref()) {
            // Immediate shutdown (the data goes with the folder), by pg_ctl as the server's
            // user: `runuser` does not pass signals on to the server it started.
            let stopped = as_server_user(&bin_dir().join("pg_ctl"))
                .arg("stop")
                .arg("-D")
                .arg(dir.path().join("data"))
                .args(["-m", "immediate", "-w"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|st| st.success());
            if !stopped {
                let _ = s.kill();
            }
            let _ = s.wait();
        }
        drop(self.dir.take());
    }
}
