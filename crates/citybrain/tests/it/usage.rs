//! Bad command lines exit with code 2 and say what is wrong.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_citybrain")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn usage_errors_exit_2() {
    let (code, err) = run(&["serve", "--listen", "not-an-address"]);
    assert_eq!(code, 2, "{err}");
    let (code, err) = run(&["bench", "hub", "--entities", "5"]);
    assert_eq!(code, 2);
    assert!(err.contains("--entities"), "{err}");
    let file = tempfile::NamedTempFile::new().unwrap();
    let (code, err) =
        run(&["serve", "--listen", "127.0.0.1:0", "--data", file.path().to_str().unwrap()]);
    assert_eq!(code, 2, "a data path that is a file is a usage error: {err}");
    assert!(err.contains("data directory"), "{err}");
}

#[test]
fn a_ca_cert_that_is_missing_or_not_pem_is_a_usage_error_naming_it() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    let missing = data.to_string() + "/no-such-city-ca.pem";
    let (code, err) =
        run(&["serve", "--listen", "127.0.0.1:0", "--data", data, "--ca-cert", &missing]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no-such-city-ca.pem"), "{err}");
    let not_pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_pem.path(), "not a certificate").unwrap();
    let not_pem = not_pem.path().to_str().unwrap();
    let (code, err) =
        run(&["serve", "--listen", "127.0.0.1:0", "--data", data, "--ca-cert", not_pem]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(not_pem) && err.contains("PEM"), "{err}");
}
