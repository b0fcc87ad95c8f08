//! An independent client against the hub: Orange's `ngsildclient` Python library (PyPI, pinned
//! to 0.5.2), unchanged and with its defaults, drives `citybrain serve` on a free port through
//! `tests/ngsildclient/check.py` — entities built with the library's model (its default
//! `@context` is the unversioned ETSI core URL, which the hub resolves from its embedded
//! copies without fetching), create/get/update/upsert, batch operations, queries and counts,
//! types, temporal retrieval, query and aggregation, a subscription that must notify, deletes,
//! a tenant, and the basics again through its asynchronous client.
//!
//! The library lives in a venv under the cargo target directory, created on the first run
//! (`python3 -m venv`, then `pip install ngsildclient==0.5.2`) and reused afterwards; when
//! that fails the test says how to do it by hand.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::repo;

const VERSION: &str = "0.5.2";

/// Kills the child when dropped, so a failed assertion leaves no process behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ngsildclient-{VERSION}-venv"))
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// Whether `python` imports ngsildclient at the pinned version.
fn has_ngsildclient(python: &Path) -> bool {
    let check =
        format!("import ngsildclient, sys; sys.exit(ngsildclient.__version__ != '{VERSION}')");
    Command::new(python)
        .args(["-c", &check])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `program args`, returning its combined output when it fails.
fn run(program: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{} could not start: {e}", program.display()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{} {}` failed ({}):\n{}{}",
        program.display(),
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The venv's Python with ngsildclient installed, creating the venv if needed.
fn ensure_ngsildclient() -> PathBuf {
    let venv = venv_dir();
    let python = venv_python(&venv);
    if has_ngsildclient(&python) {
        return python;
    }
    let dir = venv.to_str().unwrap();
    let package = format!("ngsildclient=={VERSION}");
    // `--clear` so a venv left half-made by an interrupted run is rebuilt, not reused.
    let made = run(Path::new("python3"), &["-m", "venv", "--clear", dir]).and_then(|()| {
        let quiet = ["-m", "pip", "install", "-q", "--disable-pip-version-check", &package];
        run(&python, &quiet)
    });
    if let Err(why) = made {
        panic!(
            "the ngsildclient test needs Python 3 (with venv and pip) and {package} from PyPI; \
             installing it failed: {why}\n\
             Install it by hand and rerun: `python3 -m venv {dir} && {dir}/bin/python -m pip \
             install {package}` (on Debian/Ubuntu first `apt-get install python3-venv`)"
        );
    }
    assert!(has_ngsildclient(&python), "{package} installed into {dir} but does not import");
    python
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `citybrain serve` on `port` over a fresh data directory, once it accepts connections.
fn start_hub(data: &Path, port: u16) -> Killed {
    let hub = Killed(
        Command::new(env!("CARGO_BIN_EXE_citybrain"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the citybrain binary starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the hub did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    hub
}

/// Runs the check script against `port`; returns (success, stdout, stderr).
fn run_check(python: &Path, port: u16, scratch: &Path) -> (bool, String, String) {
    let script = repo().join("crates/citybrain/tests/ngsildclient/check.py");
    let (out_path, err_path) = (scratch.join("stdout"), scratch.join("stderr"));
    // Output goes to files, so neither pipe can fill while the script runs.
    let mut child = Killed(
        Command::new(python)
            .arg(&script)
            .arg(port.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .expect("the venv's python starts"),
    );
    // A guard against a hung hub, not a timing check: the script takes seconds.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "check.py did not finish within 300 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.success(), read(&out_path), read(&err_path))
}

#[test]
fn ngsildclient_works_unchanged_against_the_hub() {
    let python = ensure_ngsildclient();
    let scratch = tempfile::tempdir().unwrap();
    let port = free_port();
    let _hub = start_hub(&scratch.path().join("data"), port);
    let (ok, stdout, stderr) = run_check(&python, port, scratch.path());
    let report = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(ok, "check.py failed\n{report}");
    for step in [
        "ok: create, exists, get",
        "ok: update, upsert",
        "ok: temporal get, temporal query, temporal aggregate",
        "ok: batch create/upsert/update, query, count, types",
        "ok: subscription create, list, get, notification, delete",
        "ok: batch delete, drop, delete",
        "ok: tenant",
        "ok: async client",
    ] {
        assert!(stdout.contains(step), "check.py skipped '{step}'\n{report}");
    }
    assert!(stdout.trim_end().ends_with("ngsildclient: all checks passed"), "{report}");
}
