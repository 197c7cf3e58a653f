//! `cargo xtask dist`: the release tarball, and the check that it runs the
//! suite on a host with no Rust toolchain.
//!
//! The tarball holds three static binaries (nothing to install beside
//! them: the rootfs of every case is busybox-static plus the probe), so a
//! runtime project's CI downloads it, unpacks it anywhere and runs
//! `./litmus run --runtime PATH`; litmus finds `litmus-probe` beside itself.
//!
//!   litmus-VERSION-ARCH-linux/
//!     litmus  litmus-probe  litmus-runtime   static, stripped
//!     manifest.json   versions: litmus, spec, rustc, commit, target
//!     SHA256SUMS      of the files above (`sha256sum -c SHA256SUMS`)
//!   litmus-VERSION-ARCH-linux.tar.gz, and SHA256SUMS of the tarballs
//!
//! Tarballs are reproducible: sorted entries, owner 0, every mtime the
//! commit's time (SOURCE_DATE_EPOCH when set).

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

/// What `cargo xtask dist` builds for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    #[value(name = "x86_64")]
    X86_64,
    Aarch64,
}

impl Arch {
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Options {
    /// Architectures to build (aarch64 cross-builds with Debian's
    /// gcc-aarch64-linux-gnu and arm64 libseccomp)
    #[arg(long, value_enum, value_delimiter = ',', default_value = "x86_64")]
    pub arch: Vec<Arch>,
    /// Then unpack the x86_64 tarball into an empty directory and run the
    /// suite from it against Debian runc, with no cargo on PATH
    #[arg(long)]
    pub check: bool,
}

pub fn out_dir() -> PathBuf {
    crate::workspace_root().join("target/dist")
}

/// The three binaries of one architecture.
pub struct Binaries {
    pub litmus: PathBuf,
    pub probe: PathBuf,
    pub runtime: PathBuf,
}

/// Static flags for the suite's binaries: no libc needed on the host (nor
/// in the VM guest, which runs these same builds), symbols stripped.
const STATIC_RUSTFLAGS: &str = "-C target-feature=+crt-static -C strip=symbols";

/// Where the static suite (and the VM guest's test binaries) is built.
pub const STATIC_TARGET_DIR: &str = "target/static-suite";

/// The environment of every static build of the suite (cargo build here,
/// the runtime's test binaries for the VM guest): static libc and
/// libseccomp, stripped, and for aarch64 the cross linker.
pub fn static_env(sh: &Shell, arch: Arch) -> Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = vec![
        ("RUSTFLAGS".into(), STATIC_RUSTFLAGS.into()),
        ("LIBSECCOMP_LINK_TYPE".into(), "static".into()),
    ];
    match arch {
        Arch::X86_64 => {
            env.push(("LIBSECCOMP_LIB_PATH".into(), "/usr/lib/x86_64-linux-gnu".into()))
        }
        Arch::Aarch64 => env.extend(aarch64_env(sh)?),
    }
    Ok(env)
}

/// litmus and litmus-probe, static, release. The VM guest runs these too
/// (and a release litmus-runtime built here beside them).
pub fn build_static_suite(sh: &Shell, arch: Arch, packages: &[&str]) -> Result<PathBuf> {
    let triple = arch.triple();
    let env = static_env(sh, arch)?;
    crate::step(&format!(
        "building static {} for {triple} ({STATIC_TARGET_DIR})",
        packages.join(", ")
    ));
    let package_args: Vec<String> =
        packages.iter().flat_map(|p| ["--package".into(), p.to_string()]).collect();
    cmd!(sh, "cargo build --release --target {triple} --target-dir {STATIC_TARGET_DIR} {package_args...}")
        .envs(env)
        .run()?;
    Ok(crate::workspace_root().join(STATIC_TARGET_DIR).join(triple).join("release"))
}

/// The cross linker and an arm64 libseccomp.a, from Debian: the linker as
/// a host package, the library unpacked from its .deb under target/ (the
/// host's dpkg architectures stay as they are).
fn aarch64_env(sh: &Shell) -> Result<Vec<(String, String)>> {
    crate::ensure_packages(sh, &["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"])?;
    let dir = crate::workspace_root().join("target/arm64-libseccomp");
    let lib = dir.join("usr/lib/aarch64-linux-gnu");
    if !lib.join("libseccomp.a").exists() {
        crate::step("fetching libseccomp-dev:arm64 (private apt state under target/)");
        let state = crate::workspace_root().join("target/arm64-apt");
        let apt = crate::apt::PrivateApt::update_arch(sh, &state, &["bookworm"], "arm64")?;
        let debs = tempfile::tempdir()?;
        for package in ["libseccomp-dev", "libseccomp2"] {
            let version = apt
                .versions(sh, package)?
                .into_iter()
                .next()
                .with_context(|| format!("bookworm serves no {package} for arm64"))?;
            apt.download(sh, debs.path(), package, &version)?;
        }
        for deb in std::fs::read_dir(debs.path())? {
            let deb = deb?.path();
            cmd!(sh, "dpkg-deb -x {deb} {dir}").run()?;
        }
        ensure!(lib.join("libseccomp.a").exists(), "libseccomp-dev:arm64 has no libseccomp.a");
    }
    Ok(vec![
        ("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER".into(), "aarch64-linux-gnu-gcc".into()),
        ("CC_aarch64_unknown_linux_gnu".into(), "aarch64-linux-gnu-gcc".into()),
        ("LIBSECCOMP_LIB_PATH".into(), lib.display().to_string()),
    ])
}

/// The packages of the static suite build, always together: one cargo
/// invocation with one feature set, so the VM build after `dist` (or the
/// other way round) rebuilds nothing.
pub const STATIC_SUITE: &[&str] = &["litmus-runtime", "litmus-conformance", "litmus-probe"];

fn build(sh: &Shell, arch: Arch) -> Result<Binaries> {
    let release = build_static_suite(sh, arch, STATIC_SUITE)?;
    let runtime = match arch {
        // As shipped: the `ship` profile, static and position-dependent
        // (the build the benches measure).
        Arch::X86_64 => {
            crate::step("building litmus-runtime as shipped (ship profile, target/ship)");
            litmus_bundle::shipped_runtime()?
        }
        // The ship profile's build links for this host only; the release
        // build of the same code.
        Arch::Aarch64 => release.join("litmus-runtime"),
    };
    Ok(Binaries { litmus: release.join("litmus"), probe: release.join("litmus-probe"), runtime })
}

pub fn dist(sh: &Shell, options: &Options) -> Result<Vec<PathBuf>> {
    crate::ensure_packages(sh, crate::BASE_PACKAGES)?;
    let out = out_dir();
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let mut tarballs = Vec::new();
    for &arch in &options.arch {
        let binaries = build(sh, arch)?;
        tarballs.push(package(sh, arch, &binaries, &out)?);
    }
    let sums: String = tarballs
        .iter()
        .map(|t| Ok(format!("{}  {}\n", sha256_file(t)?, file_name(t))))
        .collect::<Result<_>>()?;
    std::fs::write(out.join("SHA256SUMS"), sums)?;
    for tarball in &tarballs {
        eprintln!("{}", tarball.display());
    }
    if options.check {
        if let Some(x86) = tarballs.iter().find(|t| file_name(t).contains("x86_64")) {
            check(sh, x86)?;
        } else {
            bail!("--check runs the x86_64 tarball on this host: add --arch x86_64");
        }
    }
    Ok(tarballs)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn sha256_file(path: &Path) -> Result<String> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&Sha256::digest(&data)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The runtime-spec release the suite targets (the catalogue's SPEC_VERSION;
/// a unit test keeps the two equal).
const RUNTIME_SPEC: &str = "v1.3.0";

/// The tarball's manifest: what a user quotes in a bug report.
fn manifest(sh: &Shell, arch: Arch, files: &[(&str, Vec<u8>)]) -> Result<serde_json::Value> {
    let commit = cmd!(sh, "git rev-parse HEAD").quiet().read().unwrap_or_default();
    let rustc = cmd!(sh, "rustc --version").quiet().read()?;
    Ok(serde_json::json!({
        "name": "litmus",
        "version": env!("CARGO_PKG_VERSION"),
        "runtime_spec": RUNTIME_SPEC,
        "target": arch.triple(),
        "commit": commit,
        "rustc": rustc,
        "linkage": "static",
        "files": files.iter().map(|(name, data)| serde_json::json!({
            "name": name,
            "bytes": data.len(),
            "sha256": hex(&Sha256::digest(data)),
        })).collect::<Vec<_>>(),
    }))
}

/// The commit's time, or SOURCE_DATE_EPOCH: every entry's mtime.
fn source_date(sh: &Shell) -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .or_else(|| cmd!(sh, "git log -1 --format=%ct").quiet().read().ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn package(sh: &Shell, arch: Arch, binaries: &Binaries, out: &Path) -> Result<PathBuf> {
    let dir_name = format!("litmus-{}-{}-linux", env!("CARGO_PKG_VERSION"), arch.name());
    let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
    for (name, path) in [
        ("litmus", &binaries.litmus),
        ("litmus-probe", &binaries.probe),
        ("litmus-runtime", &binaries.runtime),
    ] {
        ensure!(
            litmus_bundle::is_static_elf(path)?,
            "{} is not statically linked: the tarball must run without a libc of its own",
            path.display()
        );
        files.push((
            name,
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        ));
    }
    let manifest = serde_json::to_vec_pretty(&manifest(sh, arch, &files)?)?;
    files.push(("manifest.json", manifest));
    let sums: String = files
        .iter()
        .map(|(name, data)| format!("{}  {name}\n", hex(&Sha256::digest(data))))
        .collect();
    files.push(("SHA256SUMS", sums.into_bytes()));

    let tarball = out.join(format!("{dir_name}.tar.gz"));
    crate::step(&format!("packing {}", tarball.display()));
    let mtime = source_date(sh);
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&tarball)?,
        flate2::Compression::best(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_mtime(mtime);
    header.set_size(0);
    tar.append_data(&mut header, format!("{dir_name}/"), std::io::empty())?;
    files.sort_by(|a, b| a.0.cmp(b.0));
    for (name, data) in &files {
        let mut header = tar::Header::new_gnu();
        let executable = !name.contains('.') && *name != "SHA256SUMS";
        header.set_mode(if executable { 0o755 } else { 0o644 });
        header.set_mtime(mtime);
        header.set_size(data.len() as u64);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{dir_name}/{name}"), data.as_slice())?;
    }
    tar.into_inner()?.finish()?.flush()?;
    Ok(tarball)
}

/// Where Rust toolchains live on this host: $RUSTUP_HOME, $CARGO_HOME and
/// their defaults under $HOME.
fn rust_homes() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/root".into());
    let mut homes: Vec<PathBuf> = ["RUSTUP_HOME", "CARGO_HOME"]
        .iter()
        .filter_map(|v| std::env::var_os(v).map(PathBuf::from))
        .collect();
    homes.push(home.join(".rustup"));
    homes.push(home.join(".cargo"));
    homes.sort();
    homes.dedup();
    homes
}

/// The tarball as a runtime project's CI uses it: unpacked into an empty
/// directory, checksums verified, the suite run from it against Debian
/// runc with a bare environment (no cargo on PATH, no LITMUS_PROBE, HOME
/// elsewhere), so litmus must find its probe beside itself.
pub fn check(sh: &Shell, tarball: &Path) -> Result<()> {
    crate::ensure_packages(sh, &["runc"])?;
    let scratch = tempfile::Builder::new().prefix("litmus-dist-check").tempdir()?;
    let unpack = scratch.path().join("unpacked");
    std::fs::create_dir(&unpack)?;
    crate::step(&format!("unpacking {} into an empty directory", file_name(tarball)));
    cmd!(sh, "tar -xzf {tarball} -C {unpack}").run()?;
    let entries: Vec<PathBuf> =
        std::fs::read_dir(&unpack)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    let [dir] = entries.as_slice() else {
        bail!("the tarball must hold one directory, found {entries:?}")
    };
    {
        let _cd = sh.push_dir(dir);
        cmd!(sh, "sha256sum --check --strict SHA256SUMS")
            .run()
            .context("SHA256SUMS does not match the files")?;
    }
    const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    // The reports stay for a look after CI (target/dist/check/).
    let kept = out_dir().join("check");
    std::fs::create_dir_all(&kept)?;
    let report = kept.join("runc.json");
    let junit = kept.join("runc.xml");
    // The Rust toolchains of this host are hidden too: in a private mount
    // namespace, empty tmpfs over every rustup and cargo home there is.
    let homes: Vec<PathBuf> = rust_homes().into_iter().filter(|p| p.is_dir()).collect();
    let mut hide = String::from("set -e; ");
    for home in &homes {
        hide.push_str(&format!("mount -t tmpfs litmus-no-rust '{}'; ", home.display()));
    }
    hide.push_str(
        "if command -v cargo || command -v rustc || command -v rustup; then \
         echo 'a Rust toolchain is still reachable' >&2; exit 97; fi; exec \"$@\"",
    );
    crate::step(&format!(
        "the suite from the unpacked tarball against Debian runc (bare environment; hidden: {})",
        homes.iter().map(|h| h.display().to_string()).collect::<Vec<_>>().join(", ")
    ));
    let status = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &hide, "sh"])
        .arg(dir.join("litmus"))
        .current_dir(scratch.path())
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", scratch.path())
        .args(["run", "--runtime", "/usr/sbin/runc", "--json"])
        .arg(&report)
        .arg("--junit")
        .arg(&junit)
        .status()
        .context("running the unpacked litmus")?;
    // 0: every case passed; 1: some failed (runc 1.1.5 fails some, see
    // docs/results). Anything else means the suite could not run.
    ensure!(status.code() != Some(97), "Rust was still reachable where the tarball ran");
    ensure!(
        matches!(status.code(), Some(0 | 1)),
        "the unpacked litmus could not run the suite ({status})"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report)?)?;
    let summary = &report["summary"];
    let passed = summary["passed"].as_u64().unwrap_or(0);
    let cases = report["results"].as_array().map_or(0, |r| r.len());
    let listed = cmd!(sh, "{dir}/litmus run --runtime /usr/sbin/runc --list").quiet().read()?;
    let expected = listed.lines().filter(|l| !l.trim().is_empty()).count();
    eprintln!("unpacked litmus against runc: {summary}; {cases} results, {expected} listed");
    ensure!(passed > 0, "no case passed: the probe beside litmus was not found or not usable");
    let xml = std::fs::read_to_string(&junit).context("the --junit report")?;
    let testcases = xml.matches("<testcase ").count();
    ensure!(testcases == cases, "the JUnit report has {testcases} test cases, the JSON {cases}");
    ensure!(
        cases >= expected,
        "the report has {cases} results but `litmus run --list` names {expected} cases"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_binaries() -> Binaries {
        // Any static ELF stands in for the three binaries.
        let busybox = litmus_bundle::find_static_busybox().expect("busybox-static is installed");
        Binaries { litmus: busybox.clone(), probe: busybox.clone(), runtime: busybox }
    }

    #[test]
    fn tarball_is_reproducible_and_its_sums_match() {
        let sh = Shell::new().unwrap();
        sh.change_dir(crate::workspace_root());
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = package(&sh, Arch::X86_64, &fake_binaries(), a.path()).unwrap();
        let second = package(&sh, Arch::X86_64, &fake_binaries(), b.path()).unwrap();
        assert_eq!(std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap());

        let unpacked = tempfile::tempdir().unwrap();
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(&first).unwrap());
        tar::Archive::new(gz).unpack(unpacked.path()).unwrap();
        let dir = unpacked.path().join("litmus-0.1.0-x86_64-linux");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["SHA256SUMS", "litmus", "litmus-probe", "litmus-runtime", "manifest.json"]
        );
        let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
        assert_eq!(sums.lines().count(), 4, "{sums}");
        for line in sums.lines() {
            let (sum, name) = line.split_once("  ").unwrap();
            assert_eq!(sha256_file(&dir.join(name)).unwrap(), sum, "{name}");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("litmus")).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "litmus must be executable");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(manifest["target"], "x86_64-unknown-linux-gnu");
        assert_eq!(manifest["files"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_dynamic_binary_is_refused() {
        let sh = Shell::new().unwrap();
        let mut binaries = fake_binaries();
        binaries.probe = PathBuf::from("/bin/sh");
        let out = tempfile::tempdir().unwrap();
        let error = package(&sh, Arch::X86_64, &binaries, out.path()).unwrap_err().to_string();
        assert!(error.contains("/bin/sh is not statically linked"), "{error}");
    }

    #[test]
    fn manifest_names_the_catalogue_spec_version() {
        let catalogue = include_str!("../../conformance/src/catalogue.rs");
        assert!(catalogue.contains(&format!("SPEC_VERSION: &str = \"{RUNTIME_SPEC}\"")));
    }
}
