//! The simulation core stays pure: no async runtime, web framework or database in its
//! dependency tree (ARCHITECTURE.md's invariant, checked with `cargo tree`).

#[test]
fn sim_depends_on_no_runtime_web_or_database_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "citybrain-sim",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.lines().any(|l| l.starts_with("serde_json ")), "the tree is listed: {tree}");
    for banned in ["tokio", "axum", "hyper", "tower", "sqlx", "rusqlite", "reqwest", "mio"] {
        assert!(
            !tree.lines().any(|l| l.split_whitespace().next() == Some(banned)),
            "citybrain-sim must not depend on {banned}:\n{tree}"
        );
    }
}
