//! Records the version of the compiler that builds this crate, so that host
//! and app can refuse each other when they come from different compilers.
fn main() {
    let version = relive_abi::rustc_version_for_build();
    println!("cargo:rustc-env=RELIVE_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
