//! Puts the portal's browser assets into the `wharf` binary, so the one file serves the complete
//! portal: the stylesheet always, and the hydrating bundle (wasm + its JS glue) when the wasm
//! target is installed.
//!
//! The bundle is the `frontend` crate built for `wasm32-unknown-unknown` by a nested `cargo`
//! (in a target directory of its own, so it never waits for the outer build's lock) and bound
//! with the `wasm-bindgen` library at exactly the version the workspace pins: no cargo-leptos,
//! no wasm-bindgen CLI and no download. Every file is named after a hash of its content (served
//! with a year-long cache) and stored gzipped.
//!
//! `WHARF_BUNDLE=off` builds without the bundle (pages still render and work without scripts,
//! styled). Without the wasm target the build says so and goes on without the bundle.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("the server crate lies inside the workspace").to_path_buf();
    let out = PathBuf::from(env("OUT_DIR"));
    for path in ["style", "frontend/src", "frontend/Cargo.toml", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=WHARF_BUNDLE");
    link_release(&manifest_dir);

    let mut assets = vec![Asset::new(&out, "wharf", "css", read(&root.join("style/wharf.css")))];
    match bundle(&root, &out) {
        Ok(Some((js, wasm))) => {
            assets.push(Asset::new(&out, "wharf", "js", js));
            assets.push(Asset::new(&out, "wharf", "wasm", wasm));
        }
        Ok(None) => {}
        Err(why) => {
            println!("cargo:warning=the portal is built without its browser bundle: {why}");
            println!(
                "cargo:warning=pages work without scripts; for the full portal run `rustup target add \
                 wasm32-unknown-unknown` and build again"
            );
        }
    }
    let mut code = String::from("// Written by build.rs: the portal's embedded assets.\n");
    code.push_str("pub(crate) const ASSETS: &[Asset] = &[\n");
    for a in &assets {
        let _ = writeln!(
            code,
            "    Asset {{ kind: AssetKind::{kind}, name: {name:?}, gzip: include_bytes!({gz:?}) }},",
            kind = a.kind,
            name = a.name,
            gz = a.gz.display().to_string(),
        );
    }
    code.push_str("];\n");
    std::fs::write(out.join("assets.rs"), code).expect("write assets.rs");
}

/// The release binary's layout. The code the start and an idle server run lies spread over
/// the whole 45 MB of `.text`, and the kernel maps 64 KiB around every page fault into a file, so
/// an idle server held some 22 MiB of code it never ran. `symbol-order.txt` (written by
/// `scripts/symbol-order.sh` from what callgrind saw the server run) lists that code first so
/// the linker lays it out together.
///
/// The symbols are stripped here and not by the profile (`strip = "symbols"`), because a
/// symbol's hash follows the profile's settings: the same profile with
/// `WHARF_KEEP_SYMBOLS=1` keeps the names, and they are exactly those of the shipped binary.
/// Names the file holds that a build no longer has are skipped (a stale file costs only
/// locality). The order only where rustc links with its own lld (x86-64 Linux): other linkers
/// spell the option differently or lack it.
fn link_release(manifest_dir: &Path) {
    println!("cargo:rerun-if-env-changed=WHARF_KEEP_SYMBOLS");
    let order = manifest_dir.join("symbol-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    // `DEBUG` is true for `release-debug`, which keeps its names and line tables.
    let release = env("PROFILE") == "release" && std::env::var("DEBUG").is_ok_and(|d| d == "false");
    if !release || std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    if std::env::var_os("WHARF_KEEP_SYMBOLS").is_none_or(|v| v.is_empty() || v == "0") {
        // Every Linux linker (GNU ld, gold, lld, mold) spells it so.
        println!("cargo:rustc-link-arg-bin=wharf=-Wl,--strip-all");
    }
    if env("TARGET") != "x86_64-unknown-linux-gnu" {
        return;
    }
    // Relative relocations packed (DT_RELR): the dynamic loader reads every page of a classic
    // `.rela.dyn` at each start, 1.5 MB of it here, against some 30 KB. Only where the C
    // library that links (and runs) it knows them, glibc 2.36 and later (Debian 12's): on an
    // older one the binary would not load.
    if glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bin=wharf=-Wl,-z,pack-relative-relocs");
    }
    if order.exists() {
        println!("cargo:rustc-link-arg-bin=wharf=-Wl,--symbol-ordering-file={}", order.display());
        println!("cargo:rustc-link-arg-bin=wharf=-Wl,--no-warn-symbol-ordering");
    }
}

/// Whether this machine's glibc (`getconf GNU_LIBC_VERSION`: "glibc 2.36") is at least
/// `major.minor`.
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else { return false };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().trim_start_matches("glibc ").split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}

/// One embedded file: its hashed name and where its gzipped bytes were written (only those are
/// embedded: every browser accepts gzip, and the rare client that does not gets them unpacked on
/// the fly, which keeps 2 MB of wasm out of the binary).
struct Asset {
    kind: &'static str,
    name: String,
    gz: PathBuf,
}

impl Asset {
    fn new(out: &Path, stem: &str, ext: &str, bytes: Vec<u8>) -> Self {
        let hash = hex(&Sha256::digest(&bytes)[..8]);
        let name = format!("{stem}-{hash}.{ext}");
        let gz = out.join(format!("{name}.gz"));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&bytes).expect("gzip");
        std::fs::write(&gz, enc.finish().expect("gzip")).expect("write gzipped asset");
        let kind = match ext {
            "css" => "Stylesheet",
            "js" => "Script",
            _ => "Wasm",
        };
        Self { kind, name, gz }
    }
}

/// The bundle's JS glue and its wasm.
type Bundle = (Vec<u8>, Vec<u8>);

/// Builds the hydrating bundle; `Ok(None)` when it is switched off.
fn bundle(root: &Path, out: &Path) -> Result<Option<Bundle>, String> {
    if std::env::var("WHARF_BUNDLE").is_ok_and(|v| v == "off" || v == "0" || v == "false") {
        return Ok(None);
    }
    ensure_wasm_target()?;
    // Beside the outer target directory (`<target>/<profile>/build/wharf-*/out`), shared by
    // debug and release builds: the bundle is always built with the `wasm-release` profile.
    let target_dir = out.ancestors().nth(4).unwrap_or(out).join("wasm-bundle");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--package", "frontend", "--lib", "--target", "wasm32-unknown-unknown"])
        .args(["--profile", "wasm-release", "--no-default-features", "--features", "hydrate"])
        .arg("--target-dir")
        .arg(&target_dir);
    // What cargo tells this build script about the host build must not reach the wasm build.
    for var in
        ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "RUSTC_WRAPPER"]
    {
        cmd.env_remove(var);
    }
    let output = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("wasm32-unknown-unknown") && stderr.contains("target may not be installed") {
            return Err("the wasm32-unknown-unknown target is not installed".into());
        }
        // A real compile error in the frontend must fail the build, not ship without scripts.
        panic!("building the portal's browser bundle failed:\n{stderr}");
    }
    let wasm = target_dir.join("wasm32-unknown-unknown/wasm-release/frontend.wasm");
    let bound = out.join("bindgen");
    let _ = std::fs::remove_dir_all(&bound);
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .out_name("wharf")
        .web(true)
        .map_err(|e| e.to_string())?
        .typescript(false)
        // Function names are for debuggers: 2.8 MB of the 4.9 MB module.
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(&bound)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?;
    Ok(Some((read(&bound.join("wharf.js")), read(&bound.join("wharf_bg.wasm")))))
}

/// Installs the wasm target through rustup when it is missing (a one-time download of the
/// target's standard library), so the README's one command gives the complete portal.
fn ensure_wasm_target() -> Result<(), String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", "wasm32-unknown-unknown"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let libdir = PathBuf::from(String::from_utf8_lossy(&libdir.stdout).trim());
    if has_core(&libdir) {
        return Ok(());
    }
    let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") else {
        return Err("the wasm32-unknown-unknown target is not installed".into());
    };
    println!("cargo:warning=installing the wasm32-unknown-unknown target (once) with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", "--toolchain", &toolchain, "wasm32-unknown-unknown"])
        .status()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if status.success() { Ok(()) } else { Err("`rustup target add wasm32-unknown-unknown` failed".into()) }
}

fn has_core(libdir: &Path) -> bool {
    std::fs::read_dir(libdir).is_ok_and(|entries| {
        entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
    })
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
