//! Builds the static pause executable that the agent packs into its pause image.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=pause/pause.rs");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = env::var("TARGET").unwrap_or_default();
    let output = out_dir.join("pause");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
        ])
        .args(["-C", "target-feature=+crt-static", "--target", &target])
        .arg("-o")
        .arg(&output)
        .arg("pause/pause.rs")
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("building the pause executable failed: {status}"),
        Err(error) => panic!("cannot run rustc to build the pause executable: {error}"),
    }
}
