//! `cargo xtask vm-test`: the privileged tests in QEMU guests booting the
//! pinned Debian kernels (vm-tests/kernel.lock), once per kernel and cgroup
//! layout (v2, v1, hybrid), so the results do not depend on the host's
//! kernel or cgroup setup.
//!
//! Steps, each printed: fetch and verify each kernel (cached in
//! ~/.cache/litmus), build static litmus-runtime, litmus, probe and the
//! runtime's root integration tests, pack an initramfs (busybox + those +
//! vm-tests/guest/init.sh), probe KVM with a short boot (falling back to
//! TCG), boot each (kernel, layout) under a watchdog, read the results from
//! the guest's second serial port, and write one merged JSON and JUnit
//! report plus a results matrix with a column per boot.

use anyhow::{bail, Context, Result};
use litmus_vm_tests::lock::{layout_unavailable, KernelLock, KernelPins};
use litmus_vm_tests::merged::{self, Boot, BootOutcome};
use litmus_vm_tests::{cpio::Archive, results, GUEST_INIT, MODES};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xshell::{cmd, Shell};

/// `all`, or a comma list of known layouts.
fn cgroup_layouts(text: &str) -> Result<String, String> {
    if text == "all" || (!text.is_empty() && text.split(',').all(|m| MODES.contains(&m))) {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?}: all, or a comma list of {}", MODES.join(", ")))
    }
}

#[derive(Debug, clap::Args)]
pub struct Options {
    /// Which kernels to boot: all, or a comma list of the series pinned in
    /// vm-tests/kernel.lock (5.10, 6.1, 6.12); default: the lock's default
    #[arg(long)]
    pub kernel: Option<String>,
    /// Which cgroup layouts to boot on each kernel: all, or a comma list of
    /// v2, v1, hybrid
    #[arg(long, default_value = "all", value_parser = cgroup_layouts)]
    pub cgroup: String,
    /// Pin the newest Debian kernel of each pinned series in
    /// vm-tests/kernel.lock, then boot
    #[arg(long)]
    pub update_kernel: bool,
    /// Watchdog per boot, in seconds
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Kernels whose v2 guest runs the runtime's root tests: all, or a
    /// comma list of series (the suite runs in every guest)
    #[arg(long, default_value = "all")]
    pub runtime_tests: String,
    /// More kernel command line for every boot (e.g. "loglevel=7" to see
    /// the stacks of a stalled guest in its console log)
    #[arg(long, default_value = "")]
    pub append: String,
}

const TARGET: &str = "x86_64-unknown-linux-gnu";

fn out_dir() -> PathBuf {
    crate::workspace_root().join("target/vm-test")
}

fn apt_state() -> PathBuf {
    crate::workspace_root().join("target/kernels-apt")
}

pub fn vm_test(sh: &Shell, options: &Options) -> Result<()> {
    prepare(sh, options)?.boot_all()
}

/// Everything a run of guests needs, built and fetched; booting it needs
/// no shell, so CI can boot it on a thread while it does other work (a
/// single-threaded TCG guest keeps one host core busy, not two).
pub struct Prepared {
    fetched: Vec<(KernelLock, Kernel)>,
    newest: String,
    binaries: Binaries,
    initrd: PathBuf,
    accel: &'static str,
    modes: Vec<String>,
    runtime_tests: String,
    timeout: u64,
    append: String,
}

pub fn prepare(sh: &Shell, options: &Options) -> Result<Prepared> {
    crate::ensure_packages(
        sh,
        &["qemu-system-x86", "busybox-static", "libseccomp-dev", "apparmor", "checkpolicy"],
    )?;
    let lock_path = crate::workspace_root().join("vm-tests/kernel.lock");
    if options.update_kernel {
        update_kernels(sh, &lock_path)?;
    }
    let pins = KernelPins::parse(&std::fs::read_to_string(&lock_path)?)?;
    let kernels = pins.select(options.kernel.as_deref())?;
    let mut fetched = Vec::new();
    for lock in &kernels {
        fetched.push((*lock, fetch_kernel(sh, lock)?));
    }
    let binaries = build_static(sh)?;
    let _ = std::fs::remove_dir_all(out_dir());
    std::fs::create_dir_all(out_dir())?;
    let initrd = out_dir().join("initrd.cpio");
    crate::step("packing the initramfs");
    let modules: Vec<&(String, Vec<u8>)> = fetched.iter().flat_map(|(_, k)| &k.modules).collect();
    std::fs::write(&initrd, initramfs(&binaries, &modules, GUEST_INIT)?)?;
    let accel = choose_accelerator(&fetched[0].1.vmlinuz, &binaries)?;
    let modes = match options.cgroup.as_str() {
        "all" => MODES.iter().map(|m| m.to_string()).collect(),
        list => list.split(',').map(String::from).collect(),
    };
    Ok(Prepared {
        fetched: fetched.into_iter().map(|(lock, kernel)| (lock.clone(), kernel)).collect(),
        newest: pins.newest().to_string(),
        binaries,
        initrd,
        accel,
        modes,
        runtime_tests: options.runtime_tests.clone(),
        timeout: options.timeout,
        append: options.append.clone(),
    })
}

impl Prepared {
    /// Boots every (kernel, layout) pair in turn and writes the merged report.
    pub fn boot_all(self) -> Result<()> {
        let Prepared {
            fetched,
            newest,
            binaries,
            initrd,
            accel,
            modes,
            runtime_tests,
            timeout,
            append,
        } = self;
        let started_all = Instant::now();
        let mut failures = Vec::new();
        let mut boots = Vec::new();
        for (lock, kernel) in &fetched {
            for mode in modes.iter().map(String::as_str) {
                let name = format!("{}-{mode}", lock.series);
                let boot = if let Some(why) = layout_unavailable(&kernel.config, mode) {
                    crate::step(&format!("{} {mode}: not available ({why})", lock.series));
                    Boot {
                        kernel: lock.series.clone(),
                        release: lock.release().to_string(),
                        layout: mode.to_string(),
                        outcome: BootOutcome::NotAvailable(why),
                        wall_s: 0.0,
                        retried: None,
                    }
                } else {
                    crate::step(&format!(
                        "booting {} with the {mode} layout ({accel})",
                        lock.release()
                    ));
                    let started = Instant::now();
                    let module = litmus_vm_tests::security_module(mode, newest == lock.series);
                    let tests = litmus_vm_tests::runs_runtime_tests(mode)
                        && (runtime_tests == "all"
                            || runtime_tests.split(',').any(|k| k == lock.series));
                    let guest = Guest { name: &name, mode, module, tests, accel, append: &append };
                    let timeout = Duration::from_secs(timeout);
                    let mut results =
                        results::parse(&boot(&kernel.vmlinuz, &initrd, &guest, timeout)?);
                    // A guest kernel that stalled (soft lockup: both emulated
                    // CPUs stuck in the kernel, seen under TCG on 5.10 and 6.1)
                    // panics at once (softlockup_panic=1) and is booted once
                    // more; the merged report says so. Any other death is final.
                    let mut retried = None;
                    let console = out_dir().join(format!("{name}-console.log"));
                    let stalled = |c: &Path| {
                        std::fs::read_to_string(c).is_ok_and(|t| t.contains("soft lockup"))
                    };
                    if results.rc.is_none() && stalled(&console) {
                        let kept = out_dir().join(format!("{name}-stalled-console.log"));
                        std::fs::rename(&console, &kept)?;
                        crate::step(&format!(
                            "{name}: the guest kernel stalled (soft lockup, {}); booting once more",
                            kept.display()
                        ));
                        retried = Some(format!(
                            "the first boot's kernel stalled (soft lockup): {}",
                            kept.display()
                        ));
                        results = results::parse(&boot(&kernel.vmlinuz, &initrd, &guest, timeout)?);
                    }
                    let boot = Boot {
                        kernel: lock.series.clone(),
                        release: lock.release().to_string(),
                        layout: mode.to_string(),
                        outcome: BootOutcome::Ran(results),
                        wall_s: started.elapsed().as_secs_f64(),
                        retried,
                    };
                    failures.extend(boot_failures(&boot, &binaries, &guest));
                    boot
                };
                if let Some(report) = boot.report() {
                    std::fs::write(
                        out_dir().join(format!("{name}.json")),
                        serde_json::to_string_pretty(&report)?,
                    )?;
                }
                if let BootOutcome::Ran(r) = &boot.outcome {
                    if !r.rootless_report.trim().is_empty() {
                        std::fs::write(
                            out_dir().join(format!("{name}-rootless.json")),
                            &r.rootless_report,
                        )?;
                        eprint!("  rootless: {}", r.rootless_summary.lines().last().unwrap_or(""));
                        eprintln!();
                    }
                }
                boots.push(boot);
            }
        }
        std::fs::write(
            out_dir().join("vm-test.json"),
            serde_json::to_string_pretty(&merged::json(&boots))?,
        )?;
        std::fs::write(out_dir().join("vm-test.xml"), merged::junit(&boots))?;
        write_matrix(&binaries.litmus, &boots);
        eprintln!(
            "\nvm-test ({accel}, {:.0}s; vm-test.json, vm-test.xml and matrix.md in {}):\n{}",
            started_all.elapsed().as_secs_f64(),
            out_dir().display(),
            merged::table(&boots)
        );
        if !failures.is_empty() {
            bail!("vm-test failed: {}", failures.join("; "));
        }
        Ok(())
    }
}

/// What is wrong with one boot that ran: the suite's exit status, missing
/// runtime test binaries, failed ones, a security module's case not passing.
fn boot_failures(boot: &Boot, binaries: &Binaries, guest: &Guest) -> Vec<String> {
    let &Guest { name, module, tests, .. } = guest;
    let BootOutcome::Ran(r) = &boot.outcome else {
        return Vec::new();
    };
    let mut failures = Vec::new();
    for run in r.tests.iter().filter(|run| !run.passed()) {
        eprint!("{}", run.output);
        failures.push(format!("{name}: runtime tests {} exited {:?}", run.name, run.rc));
    }
    let expected = if tests { binaries.tests.len() } else { 0 };
    if r.tests.len() != expected {
        failures.push(format!(
            "{name}: {} of {expected} runtime test binaries reported",
            r.tests.len()
        ));
    }
    // v2 guests run the suite as an unprivileged user too.
    if boot.layout == "v2" && r.rc.is_some() && r.rootless_rc != Some(0) {
        eprint!("{}", r.rootless_summary);
        failures.push(format!(
            "{name}: the suite under --rootless {}",
            match r.rootless_rc {
                Some(rc) => format!("exited {rc}"),
                None => "gave no result".into(),
            }
        ));
    }
    for case in litmus_vm_tests::cases_needing(module) {
        if r.rc.is_some() && !results::case_passed(&r.report, case) {
            failures.push(format!("{name}: {case} did not pass under {module}"));
        }
    }
    if r.rc != Some(0) {
        eprint!("{}", r.summary);
        failures.push(format!(
            "{name}: {}",
            match r.rc {
                Some(rc) => format!("the suite exited {rc}"),
                None => format!(
                    "no result (console log: {})",
                    out_dir().join(format!("{name}-console.log")).display()
                ),
            }
        ));
    }
    failures
}

/// The boots' JSON reports as one results matrix (`litmus report`): a
/// column per kernel and layout. A matrix that cannot be made is reported,
/// not fatal: the merged reports are already written.
fn write_matrix(litmus: &Path, boots: &[Boot]) {
    let reports: Vec<PathBuf> = boots
        .iter()
        .filter(|b| b.report().is_some())
        .map(|b| out_dir().join(format!("{}-{}.json", b.kernel, b.layout)))
        .collect();
    if reports.is_empty() {
        return;
    }
    let matrix = out_dir().join("matrix.md");
    let made = litmus_bundle::wait::output_within(
        Command::new(litmus).arg("report").arg("--markdown").arg(&matrix).args(&reports),
        Duration::from_secs(60),
    );
    match made {
        Ok(output) if output.success() => {}
        Ok(output) => eprintln!(
            "  the results matrix could not be made: litmus report {:?}: {}",
            output.status,
            output.stderr_text().trim()
        ),
        Err(e) => eprintln!("  the results matrix could not be made: {e}"),
    }
}

/// A fetched kernel: its image, build configuration and the modules the
/// guest loads (veth, for the suite's netDevices cases), uncompressed.
struct Kernel {
    vmlinuz: PathBuf,
    config: String,
    modules: Vec<(String, Vec<u8>)>,
}

/// Modules the guest loads when its kernel has them as modules (none
/// depends on another).
const GUEST_MODULES: &[&str] = &["drivers/net/veth"];

/// Downloads the pinned package (once), checks its sha256, extracts it.
fn fetch_kernel(sh: &Shell, lock: &KernelLock) -> Result<Kernel> {
    let cache =
        PathBuf::from(std::env::var("HOME").unwrap_or("/root".into())).join(".cache/litmus");
    std::fs::create_dir_all(&cache)?;
    let deb = cache.join(lock.deb_name());
    if !deb.exists() {
        crate::step(&format!("downloading {} {} ({})", lock.package, lock.version, lock.suite));
        let apt = crate::apt::PrivateApt::update(sh, &apt_state(), &[lock.suite.as_str()])?;
        if apt.download(sh, &cache, &lock.package, &lock.version).is_err() {
            bail!(
                "the pinned kernel {} {} is no longer in Debian {}; \
                 pin the current one with: cargo xtask vm-test --update-kernel",
                lock.package,
                lock.version,
                lock.suite
            );
        }
    }
    let sum = cmd!(sh, "sha256sum {deb}").quiet().read()?;
    if sum.split_whitespace().next() != Some(lock.sha256.as_str()) {
        bail!("{} does not match the sha256 in vm-tests/kernel.lock", deb.display());
    }
    let extracted = cache.join(format!("{}-{}", lock.package, lock.version));
    let vmlinuz = extracted.join(lock.vmlinuz());
    if !vmlinuz.exists() {
        cmd!(sh, "dpkg-deb -x {deb} {extracted}").run()?;
    }
    let config = std::fs::read_to_string(extracted.join(lock.config()))
        .with_context(|| format!("{} has no {}", lock.package, lock.config()))?;
    let release = lock.release().to_string();
    let mut modules = Vec::new();
    for module in GUEST_MODULES {
        // Debian moved modules to /usr/lib (merged /usr) and compressed
        // them with xz (6.x); busybox insmod takes neither.
        let name = module.rsplit('/').next().unwrap_or(module);
        for dir in ["lib", "usr/lib"] {
            let base = extracted.join(format!("{dir}/modules/{release}/kernel/{module}.ko"));
            let compressed = base.with_extension("ko.xz");
            let data = if base.exists() {
                std::fs::read(&base)?
            } else if compressed.exists() {
                cmd!(sh, "xz -dc {compressed}").quiet().output()?.stdout
            } else {
                continue;
            };
            modules.push((format!("/lib/modules/{release}/{name}.ko"), data));
            break;
        }
    }
    Ok(Kernel { vmlinuz, config, modules })
}

/// Pins, for each series of the lock, the newest kernel its suite serves.
fn update_kernels(sh: &Shell, lock_path: &Path) -> Result<()> {
    let mut pins = KernelPins::parse(&std::fs::read_to_string(lock_path)?)?;
    let suites: Vec<&str> = {
        let mut s: Vec<&str> = pins.kernels.iter().map(|k| k.suite.as_str()).collect();
        s.sort();
        s.dedup();
        s
    };
    crate::step(&format!("finding the newest kernel of each series ({})", suites.join(", ")));
    let apt = crate::apt::PrivateApt::update(sh, &apt_state(), &suites)?;
    let candidates = apt.search(sh, "^linux-image-[0-9.]+[-.+][0-9a-z+.-]*-amd64$")?;
    for pin in &mut pins.kernels {
        let mut newest: Option<(String, String)> = None;
        for package in candidates.iter().filter(|p| KernelLock::in_series(&pin.series, p)) {
            for version in apt.versions(sh, package)? {
                let newer = match &newest {
                    None => true,
                    Some((_, best)) => cmd!(sh, "dpkg --compare-versions {version} gt {best}")
                        .quiet()
                        .run()
                        .is_ok(),
                };
                if newer {
                    newest = Some((package.clone(), version));
                }
            }
        }
        let (package, version) =
            newest.with_context(|| format!("no {} kernel in {}", pin.series, pin.suite))?;
        let sha256 = apt.field(sh, &package, &version, "SHA256")?;
        eprintln!("  {}: {package} {version}", pin.series);
        *pin = KernelLock { package, version, sha256, ..pin.clone() };
    }
    std::fs::write(lock_path, pins.render())?;
    Ok(())
}

struct Binaries {
    busybox: PathBuf,
    runtime: PathBuf,
    litmus: PathBuf,
    probe: PathBuf,
    /// The runtime's root integration test binaries: (name, path).
    tests: Vec<(String, PathBuf)>,
    /// The suite's AppArmor profile, compiled (the guest has no parser).
    apparmor_policy: Vec<u8>,
    /// litmus's SELinux policy, compiled, for the SELinux layout.
    selinux_policy: Vec<u8>,
    /// Debian's newuidmap and newgidmap with the shared libraries they
    /// load: (path in the guest, host file), for the rootless run.
    id_mappers: Vec<(String, PathBuf)>,
}

/// The guest runs the release build of the suite (`cargo xtask dist`'s
/// litmus and probe, static and stripped: the initramfs is unpacked by an
/// emulated CPU at every boot), a release litmus-runtime built beside
/// them, and the runtime's root integration tests.
fn build_static(sh: &Shell) -> Result<Binaries> {
    let release =
        crate::dist::build_static_suite(sh, crate::dist::Arch::X86_64, crate::dist::STATIC_SUITE)?;
    crate::step("building the runtime's root integration tests, static");
    let target_dir = crate::dist::STATIC_TARGET_DIR;
    let messages = cmd!(
        sh,
        "cargo test --release --no-run --target {TARGET} --target-dir {target_dir} --package litmus-runtime --tests --message-format json"
    )
    .envs(crate::dist::static_env(sh, crate::dist::Arch::X86_64)?)
    .read()?;
    let tests = test_executables(&messages)?;
    Ok(Binaries {
        busybox: litmus_bundle::find_static_busybox()?,
        runtime: release.join("litmus-runtime"),
        litmus: release.join("litmus"),
        probe: release.join("litmus-probe"),
        tests,
        apparmor_policy: compile_apparmor_profile()?,
        selinux_policy: compile_selinux_policy(sh)?,
        id_mappers: id_mappers(sh)?,
    })
}

/// litmus_bundle's SELinux policy as a binary policy (version 33, which the
/// guest kernel reads; unknown classes and permissions allowed).
fn compile_selinux_policy(sh: &Shell) -> Result<Vec<u8>> {
    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let (source, policy) = (dir.join("litmus.selinux.conf"), dir.join("litmus.selinux.33"));
    std::fs::write(&source, litmus_bundle::SELINUX_POLICY_SOURCE)?;
    cmd!(sh, "checkpolicy -U allow -c 33 -o {policy} {source}")
        .quiet()
        .ignore_stdout()
        .run()
        .context("compiling the suite's SELinux policy (apt-get install checkpolicy)")?;
    Ok(std::fs::read(&policy)?)
}

/// litmus_bundle's AppArmor profile as binary policy (`apparmor_parser -S`
/// writes it to stdout; -Q: not loaded into the host's kernel).
fn compile_apparmor_profile() -> Result<Vec<u8>> {
    let output = litmus_bundle::apparmor_parser(&["-Q", "-S"])
        .context("running apparmor_parser (apt-get install apparmor)")?;
    if !output.success() || output.stdout.is_empty() {
        bail!(
            "apparmor_parser could not compile the suite's profile ({:?}): {}",
            output.status,
            output.stderr_text().trim()
        );
    }
    Ok(output.stdout)
}

/// The integration test executables in cargo's JSON messages: (name, path).
fn test_executables(messages: &str) -> Result<Vec<(String, PathBuf)>> {
    let mut tests = Vec::new();
    for line in messages.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let target = &message["target"];
        let is_test =
            target["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k == "test"));
        if let (true, Some(name), Some(exe)) =
            (is_test, target["name"].as_str(), message["executable"].as_str())
        {
            tests.push((name.to_string(), PathBuf::from(exe)));
        }
    }
    if tests.is_empty() {
        bail!("cargo built no integration test of litmus-runtime (no executables in its JSON messages)");
    }
    Ok(tests)
}

fn initramfs(b: &Binaries, modules: &[&(String, Vec<u8>)], init: &str) -> Result<Vec<u8>> {
    let mut archive = Archive::default();
    for dir in ["/bin", "/etc", "/proc", "/sys", "/dev", "/tmp", "/run", "/tests", "/lib"] {
        archive.dir(dir);
    }
    let mut dirs = std::collections::BTreeSet::new();
    for (path, _) in modules {
        let parents = Path::new(path).ancestors().skip(1).filter(|d| d.as_os_str().len() > 4);
        dirs.extend(parents.map(|d| d.display().to_string()));
    }
    for dir in &dirs {
        archive.dir(dir);
    }
    for (path, data) in modules {
        archive.file(path, 0o644, data);
    }
    archive.file("/init", 0o755, init.as_bytes());
    // And the user of the rootless run, with a subordinate range.
    archive.file(
        "/etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nlitmus-rootless:x:1001:1001::/tmp:/bin/sh\n",
    );
    archive.file("/etc/group", 0o644, b"root:x:0:\nlitmus-rootless:x:1001:\n");
    archive.file("/etc/subuid", 0o644, b"litmus-rootless:100000:65536\n");
    archive.file("/etc/subgid", 0o644, b"litmus-rootless:100000:65536\n");
    let mut lib_dirs = std::collections::BTreeSet::new();
    for (path, _) in &b.id_mappers {
        let parents = Path::new(path).ancestors().skip(1).filter(|d| d.as_os_str().len() > 4);
        lib_dirs.extend(parents.map(|d| d.display().to_string()));
    }
    for dir in lib_dirs.iter().filter(|d| !dirs.contains(*d)) {
        archive.dir(dir);
    }
    for (path, source) in &b.id_mappers {
        // The mappers are setuid root, as Debian installs them.
        let mode = if path.starts_with("/bin/") { 0o4755 } else { 0o755 };
        archive.file(path, mode, &std::fs::read(source)?);
    }
    // The guest kernel has AppArmor on; its init loads this binary policy
    // so the suite's apparmorProfile case runs there.
    archive.file("/etc/litmus-probe.apparmor", 0o644, &b.apparmor_policy);
    // SELinux boots load this one instead (litmus_vm_tests::security_module).
    archive.file("/etc/litmus.selinux", 0o644, &b.selinux_policy);
    for (path, source) in [
        ("/bin/busybox", &b.busybox),
        ("/bin/litmus-runtime", &b.runtime),
        ("/bin/litmus", &b.litmus),
        ("/bin/litmus-probe", &b.probe),
    ] {
        let data =
            std::fs::read(source).with_context(|| format!("reading {}", source.display()))?;
        archive.file(path, 0o755, &data);
    }
    for (name, source) in &b.tests {
        let data =
            std::fs::read(source).with_context(|| format!("reading {}", source.display()))?;
        archive.file(&format!("/tests/{name}"), 0o755, &data);
    }
    Ok(archive.finish())
}

/// newuidmap and newgidmap (Debian's `uidmap`, dynamic) and every library
/// ldd says they load, each at its own path in the guest.
fn id_mappers(sh: &Shell) -> Result<Vec<(String, PathBuf)>> {
    crate::ensure_packages(sh, &["uidmap"])?;
    let mut files = std::collections::BTreeMap::new();
    for tool in ["/usr/bin/newuidmap", "/usr/bin/newgidmap"] {
        files.insert(format!("/bin/{}", &tool[9..]), PathBuf::from(tool));
        let ldd = cmd!(sh, "ldd {tool}").quiet().read()?;
        for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
            // The file itself (ld.so is a symlink in /lib64), where the
            // binary looks for it.
            let real = std::fs::canonicalize(lib)?;
            files.insert(lib.to_string(), real);
        }
    }
    Ok(files.into_iter().collect())
}

/// KVM when a short boot proves it works, TCG otherwise (KVM exists but
/// hangs on some hosts: never trust /dev/kvm alone).
fn choose_accelerator(vmlinuz: &Path, b: &Binaries) -> Result<&'static str> {
    if !Path::new("/dev/kvm").exists() {
        return Ok("tcg");
    }
    crate::step("probing KVM with a short boot");
    let probe_init = "#!/bin/busybox sh\n/bin/busybox mount -t devtmpfs dev /dev\n\
                      echo '=== LITMUS BOOTED uptime=0' > /dev/ttyS1\n/bin/busybox poweroff -f\n";
    let initrd = out_dir().join("kvm-probe.cpio");
    let mut archive = Archive::default();
    archive.dir("/bin");
    archive.dir("/dev");
    archive.file("/init", 0o755, probe_init.as_bytes());
    archive.file("/bin/busybox", 0o755, &std::fs::read(&b.busybox)?);
    std::fs::write(&initrd, archive.finish())?;
    let guest = Guest {
        name: "kvm-probe",
        mode: "probe",
        module: "apparmor",
        tests: false,
        accel: "kvm",
        append: "",
    };
    let serial = boot(vmlinuz, &initrd, &guest, Duration::from_secs(20))?;
    Ok(if serial.contains("=== LITMUS BOOTED") { "kvm" } else { "tcg" })
}

/// One boot under a watchdog; returns what the guest wrote to ttyS1.
/// One guest to boot: file names, cgroup layout, accelerator, extra
/// kernel command line.
struct Guest<'a> {
    name: &'a str,
    mode: &'a str,
    /// `security=`: apparmor or selinux.
    module: &'a str,
    /// Whether it runs the runtime's root tests after the suite.
    tests: bool,
    accel: &'a str,
    append: &'a str,
}

fn boot(vmlinuz: &Path, initrd: &Path, guest: &Guest, timeout: Duration) -> Result<String> {
    let &Guest { name, mode, module, tests, accel, append } = guest;
    let console = out_dir().join(format!("{name}-console.log"));
    let results = out_dir().join(format!("{name}-serial.log"));
    let _ = std::fs::remove_file(&results);
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args(["-machine", "q35", "-m", "2048", "-smp", "2", "-nographic", "-no-reboot"])
        // No NIC (its option ROM costs a second of firmware time under TCG)
        // and no VGA: the guest talks over serial ports only.
        .args(["-nic", "none", "-vga", "none"])
        .args(["-monitor", "none", "-display", "none"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        // cryptomgr.notests: the crypto self-tests take 0.6-1.3 s of a 3 s
        // TCG boot, for algorithms these tests never use.
        .arg(format!(
            "console=ttyS0 panic=-1 softlockup_panic=1 quiet cryptomgr.notests \
             litmus.cgroup={mode} security={module} litmus.tests={} {append}",
            u8::from(tests)
        ))
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-serial")
        .arg(format!("file:{}", results.display()));
    match accel {
        "kvm" => qemu.args(["-enable-kvm", "-cpu", "host"]),
        // One host thread for both vCPUs: with multi-threaded TCG the
        // guest kernel's live code patching (int3 breakpoints while a
        // static key flips) raced the other vCPU, which then trapped on the
        // half-patched instruction: an int3 oops in get_page_from_freelist
        // on 6.12, soft lockups at a jump label there on 5.10.
        _ => qemu.args(["-accel", "tcg,thread=single", "-cpu", "max"]),
    };
    let mut child = qemu
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    if litmus_bundle::wait::exit_within(&mut child, timeout)?.is_none() {
        eprintln!("  watchdog: the {name} guest was killed after {}s", timeout.as_secs());
    }
    Ok(std::fs::read_to_string(&results).unwrap_or_default())
}
