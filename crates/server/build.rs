//! Rebuilds the server when the cockpit's web assets (embedded with rust-embed) change, including
//! files added after the first build.

fn main() {
    println!("cargo:rerun-if-changed=../../web");
    println!("cargo:rerun-if-changed=build.rs");
}
