//! `cargo xtask engines`: the real engines users run drive a runtime, and
//! what they see is checked: podman (through conmon) and containerd 1.6
//! (through containerd-shim-runc-v2, `ctr run --runc-binary`), and podman
//! run by an unprivileged user (rootless podman: the runtime starts as
//! root of podman's user namespace, with the user's XDG_RUNTIME_DIR).
//!
//! Everything is private to one work directory: podman's storage, run
//! and tmp dirs and its containers.conf, a containerd with its own root,
//! state and socket. The busybox + probe image is built here (there is no
//! registry) and imported into both. Debian's runc runs the same
//! scenarios as the control: a scenario that fails with runc is a broken
//! scenario, not a runtime finding.

use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/litmus-busybox:latest";
const NAMESPACE: &str = "litmus-engines";
/// Packages the engines come from.
pub const PACKAGES: &[&str] = &["podman", "conmon", "containerd", "uidmap", "catatonit"];

#[derive(clap::Args, Debug, Default)]
pub struct Options {
    /// Runtimes to drive, NAME=PATH (default: litmus-runtime and Debian runc)
    #[arg(long = "runtime")]
    pub runtimes: Vec<String>,
    /// Only scenarios whose name contains this
    #[arg(long)]
    pub filter: Option<String>,
    /// Keep the work directory (podman storage, containerd state) afterwards
    #[arg(long)]
    pub keep: bool,
    /// Record every config.json the engines hand the runtime into DIR as
    /// fixtures (engine version, the kind of each mount source, the config)
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
}

/// A wrapper named like the runtime (podman enables JSON logs by name)
/// that saves the bundle's config.json, and `stat`s each mount source while
/// it still exists, before running the runtime.
fn recording_wrapper(dir: &Path, runtime: &Runtime) -> Result<Runtime> {
    let bin = dir.join(".wrappers").join(&runtime.name);
    std::fs::create_dir_all(&bin)?;
    let name = runtime.path.file_name().context("the runtime path has a file name")?;
    let wrapper = bin.join(name);
    let out = dir.join(".new");
    std::fs::create_dir_all(&out)?;
    let script = format!(
        r#"#!/bin/sh
prev=
for a in "$@"; do
  if [ "$prev" = --bundle ] || [ "$prev" = -b ]; then
    n="{out}/$(date +%s%N)"
    cp "$a/config.json" "$n.json"
    grep -o '"source": *"[^"]*"' "$a/config.json" | sed 's/.*"\([^"]*\)"$/\1/' |
      while read -r src; do stat -c '%F|%n' "$src" 2>/dev/null || echo "missing|$src"; done > "$n.sources"
  fi
  prev="$a"
done
exec {runtime} "$@"
"#,
        out = out.display(),
        runtime = runtime.path.display()
    );
    std::fs::write(&wrapper, script)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
    Ok(Runtime { name: runtime.name.clone(), path: wrapper })
}

/// Turns what the wrapper saved during one scenario into fixtures
/// `<engine>_<scenario>_<n>.json`: the engine and its version, the kind
/// of each bind source at create time (so a replay can stand one in),
/// and the config as the engine wrote it.
fn file_recordings(dir: &Path, engine: &str, scenario: &str) -> Result<()> {
    let new = dir.join(".new");
    let mut saved: Vec<PathBuf> = std::fs::read_dir(&new)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    saved.sort();
    let version = engine_version(engine);
    for (i, json) in saved.iter().enumerate() {
        let config: serde_json::Value = serde_json::from_slice(&std::fs::read(json)?)?;
        let sources_file = json.with_extension("sources");
        let sources: serde_json::Map<String, serde_json::Value> =
            std::fs::read_to_string(&sources_file)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_once('|'))
                .filter_map(|(kind, path)| {
                    let kind = match kind {
                        "directory" => "dir",
                        k if k.starts_with("regular") => "file",
                        _ => return None,
                    };
                    Some((path.to_string(), kind.into()))
                })
                .collect();
        let fixture = serde_json::json!({
            "engine": version,
            "scenario": scenario,
            "sources": sources,
            "config": config,
        });
        std::fs::write(
            dir.join(format!("{engine}_{scenario}_{i}.json")),
            serde_json::to_string_pretty(&fixture)? + "\n",
        )?;
        std::fs::remove_file(json)?;
        let _ = std::fs::remove_file(sources_file);
    }
    Ok(())
}

/// "podman 4.3.1", "containerd 1.6.20~ds1".
fn engine_version(engine: &str) -> String {
    let out = Command::new(engine)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let version = out
        .split_whitespace()
        .find(|w| w.trim_start_matches('v').starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or("unknown");
    format!("{engine} {}", version.trim_start_matches('v'))
}

/// The runtime under test, as engines name and find it.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub name: String,
    pub path: PathBuf,
}

/// What one engine command did.
#[derive(Debug)]
struct Outcome {
    line: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn describe(&self) -> String {
        format!(
            "`{}` exited {:?}\n      stdout: {}\n      stderr: {}",
            self.line,
            self.code,
            self.stdout.trim(),
            self.stderr.trim()
        )
    }

    fn ok(self) -> Result<Outcome> {
        ensure!(self.code == Some(0), "{}", self.describe());
        Ok(self)
    }

    fn code_is(self, code: i32) -> Result<Outcome> {
        ensure!(self.code == Some(code), "expected exit {code}: {}", self.describe());
        Ok(self)
    }

    fn stdout_is(self, expected: &str) -> Result<Outcome> {
        ensure!(
            self.stdout.trim_end_matches(['\r', '\n']) == expected,
            "expected stdout {expected:?}: {}",
            self.describe()
        );
        Ok(self)
    }
}

/// The private engine set-up every scenario runs against.
pub struct Engines {
    work: PathBuf,
    containerd: Option<Child>,
    keep: bool,
    rootless: RootlessPodman,
}

/// Podman as the user rootless scenarios run as: its storage, run and
/// tmp dirs, XDG_RUNTIME_DIR and containers.conf, all the user's.
struct RootlessPodman {
    uid: u32,
    gid: u32,
    dir: PathBuf,
}

/// The user of the rootless scenarios (the suite's --rootless user).
const ROOTLESS_USER: &str = "litmus-rootless";

impl RootlessPodman {
    fn set_up(work: &Path) -> Result<RootlessPodman> {
        use std::os::unix::fs::PermissionsExt;
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, ROOTLESS_USER]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        if id("-u").is_none() {
            // Debian's useradd gives it a subordinate range (login.defs).
            let status = Command::new("useradd")
                .args(["--create-home", "--shell", "/usr/sbin/nologin", ROOTLESS_USER])
                .status()
                .context("useradd")?;
            ensure!(status.success(), "useradd {ROOTLESS_USER}: {status}");
        }
        let (uid, gid) =
            (id("-u").context("the rootless user's uid")?, id("-g").context("its gid")?);
        // Not under `work`: podman refuses a runroot over 50 characters.
        let dir = PathBuf::from(format!("/tmp/litmus-rl-{}", std::process::id()));
        for sub in ["tmp", "xdg", "bin"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        std::fs::write(
            dir.join("containers.conf"),
            containers_conf(&dir)?.replace(
                &work.join("podman/events.log").display().to_string(),
                &dir.join("podman/events.log").display().to_string(),
            ),
        )?;
        let status =
            Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(&dir).status()?;
        ensure!(status.success(), "chown of {}", dir.display());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        std::fs::set_permissions(dir.join("xdg"), std::fs::Permissions::from_mode(0o700))?;
        Ok(RootlessPodman { uid, gid, dir })
    }

    /// podman as the user, without --runtime.
    fn base(&self) -> Command {
        use std::os::unix::process::CommandExt;
        let d = &self.dir;
        let mut cmd = Command::new("podman");
        cmd.uid(self.uid)
            .gid(self.gid)
            .current_dir(d)
            .env("HOME", d)
            .env("USER", ROOTLESS_USER)
            .env("XDG_RUNTIME_DIR", d.join("xdg"))
            .env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("podman/storage"))
            .arg("--runroot")
            .arg(d.join("podman/run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "vfs"]);
        cmd
    }

    /// The runtime where the user can run it (a build tree under /root is
    /// closed to it), under its own file name: podman picks JSON logs by it.
    fn runtime_copy(&self, runtime: &Runtime) -> Result<PathBuf> {
        let dir = self.dir.join("bin").join(&runtime.name);
        std::fs::create_dir_all(&dir)?;
        let copy = dir.join(runtime.path.file_name().context("the runtime's file name")?);
        if !copy.exists() {
            std::fs::copy(&runtime.path, &copy)
                .with_context(|| format!("copying {}", runtime.path.display()))?;
        }
        Ok(copy)
    }
}

impl Engines {
    fn podman_base(&self) -> Command {
        let p = self.work.join("podman");
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", self.work.join("containers.conf"))
            .arg("--root")
            .arg(p.join("storage"))
            .arg("--runroot")
            .arg(p.join("run"))
            .arg("--tmpdir")
            .arg(p.join("tmp"))
            .args(["--storage-driver", "vfs"]);
        cmd
    }

    fn podman(&self, runtime: &Runtime, args: &[&str]) -> Outcome {
        let mut cmd = self.podman_base();
        cmd.arg("--runtime").arg(&runtime.path).args(args);
        run(cmd, Duration::from_secs(120))
    }

    /// podman run by the rootless user, driving `runtime`.
    fn podman_rootless(&self, runtime: &Runtime, args: &[&str]) -> Outcome {
        let copy = match self.rootless.runtime_copy(runtime) {
            Ok(copy) => copy,
            Err(e) => {
                return Outcome {
                    line: "podman (rootless)".into(),
                    code: None,
                    stdout: String::new(),
                    stderr: format!("{e:#}"),
                }
            }
        };
        let mut cmd = self.rootless.base();
        cmd.arg("--runtime").arg(copy).args(args);
        run(cmd, Duration::from_secs(120))
    }

    fn ctr(&self, args: &[&str]) -> Outcome {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address").arg(self.socket()).args(["--namespace", NAMESPACE]).args(args);
        run(cmd, Duration::from_secs(120))
    }

    fn socket(&self) -> PathBuf {
        self.work.join("containerd/containerd.sock")
    }

    /// Builds the image, writes the engines' configs, starts containerd.
    fn set_up(work: PathBuf, rootfs: &litmus_bundle::RootfsBuilder, keep: bool) -> Result<Engines> {
        std::fs::create_dir_all(work.join("podman/tmp"))?;
        std::fs::create_dir_all(work.join("containerd"))?;
        let rootless = RootlessPodman::set_up(&work)?;
        let mut engines = Engines { work, containerd: None, keep, rootless };
        let work = engines.work.clone();
        std::fs::write(work.join("containers.conf"), containers_conf(&work)?)?;
        rootfs.build(&work.join("rootfs"))?;
        let tar = work.join("rootfs.tar");
        let mut cmd = Command::new("tar");
        cmd.arg("-C").arg(work.join("rootfs")).arg("-cf").arg(&tar).arg(".");
        run(cmd, Duration::from_secs(60)).ok()?;
        let mut import = engines.podman_base();
        import
            .arg("import")
            .args(["--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
            .arg(&tar)
            .arg(IMAGE);
        run(import, Duration::from_secs(120)).ok()?;
        // The user's own podman gets the image too.
        let mut import = engines.rootless.base();
        import
            .arg("import")
            .args(["--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
            .arg(&tar)
            .arg(IMAGE);
        run(import, Duration::from_secs(120)).ok()?;
        let archive = work.join("image-oci.tar");
        let mut save = engines.podman_base();
        save.args(["save", "--format", "oci-archive", "-o"]).arg(&archive).arg(IMAGE);
        run(save, Duration::from_secs(120)).ok()?;

        let config = work.join("containerd/config.toml");
        std::fs::write(&config, containerd_config(&work))?;
        let log = std::fs::File::create(work.join("containerd/containerd.log"))?;
        engines.containerd = Some(
            Command::new("containerd")
                .arg("--config")
                .arg(&config)
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("starting containerd")?,
        );
        wait_for_socket(&engines.socket(), Duration::from_secs(30))?;
        let archive = archive.display().to_string();
        engines
            .ctr(&[
                "images",
                "import",
                "--snapshotter",
                "native",
                "--base-name",
                "localhost/litmus-busybox",
                &archive,
            ])
            .ok()?;
        Ok(engines)
    }
}

impl Drop for Engines {
    /// Removes every container and stops containerd, whatever happened.
    fn drop(&mut self) {
        let mut rm = self.podman_base();
        rm.args(["rm", "--all", "--force", "--time", "0"]);
        let _ = run(rm, Duration::from_secs(120));
        let mut rm = self.rootless.base();
        rm.args(["rm", "--all", "--force", "--time", "0"]);
        let _ = run(rm, Duration::from_secs(120));
        // Rootless podman keeps a pause process holding its user
        // namespace; `system migrate` stops it.
        let mut stop = self.rootless.base();
        stop.args(["system", "migrate"]);
        let _ = run(stop, Duration::from_secs(60));
        // podman 4.3's migrate leaves that process (catatonit -P) running.
        let _ =
            Command::new("pkill").args(["-KILL", "-u", ROOTLESS_USER, "-x", "catatonit"]).status();
        for task in self.ctr(&["tasks", "list", "--quiet"]).stdout.lines() {
            let _ = self.ctr(&["tasks", "kill", "--signal", "SIGKILL", task]);
            let _ = self.ctr(&["tasks", "delete", "--force", task]);
        }
        for container in self.ctr(&["containers", "list", "--quiet"]).stdout.lines() {
            let _ = self.ctr(&["containers", "delete", container]);
        }
        if let Some(mut containerd) = self.containerd.take() {
            let _ = containerd.kill();
            let _ = containerd.wait();
        }
        remove_engine_cgroups();
        let _ = std::fs::remove_dir(Path::new("/run/containerd/runc").join(NAMESPACE));
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.work);
            let _ = std::fs::remove_dir_all(&self.rootless.dir);
        }
    }
}

/// The parents engines create (podman's for conmon, containerd's per
/// namespace), once empty. rmdir of a cgroup in use fails: nothing of
/// anyone else's can go.
fn remove_engine_cgroups() {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for hierarchy in hierarchies.flatten() {
        let h = hierarchy.path();
        for dir in ["libpod_parent/conmon", "libpod_parent", NAMESPACE] {
            let _ = std::fs::remove_dir(h.join(dir));
        }
    }
}

fn containers_conf(work: &Path) -> Result<String> {
    // This machine's root has no CAP_SYS_RESOURCE: podman's default
    // RLIMIT_NOFILE of 2^20 cannot be set by any runtime (runc fails the
    // same way), so ask for what we have. Podman lowers its own NPROC to
    // 32768 before starting conmon: no more than that either.
    let nofile = hard_limit(libc::RLIMIT_NOFILE);
    let nproc = hard_limit(libc::RLIMIT_NPROC).min(32768);
    Ok(format!(
        r#"# Written by `cargo xtask engines`.
[containers]
netns = "none"
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{events}"
# Podman passes --log-format=json only to runtimes it lists here.
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "litmus-runtime"]
"#,
        events = work.join("podman/events.log").display()
    ))
}

fn hard_limit(resource: libc::__rlimit_resource_t) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    unsafe { libc::getrlimit(resource, &mut limit) };
    limit.rlim_max.min(1 << 20)
}

fn containerd_config(work: &Path) -> String {
    let c = work.join("containerd");
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
"#,
        root = c.join("root").display(),
        state = c.join("state").display(),
        sock = c.join("containerd.sock").display()
    )
}

fn wait_for_socket(socket: &Path, within: Duration) -> Result<()> {
    litmus_bundle::wait::poll(within, Duration::from_millis(50), || {
        std::os::unix::net::UnixStream::connect(socket).ok()
    })
    .map(drop)
    .with_context(|| format!("containerd did not listen on {}", socket.display()))
}

/// Runs `cmd` with its output captured (in files: a detached container
/// inherits them), killed after `limit`.
fn run(mut cmd: Command, limit: Duration) -> Outcome {
    let line = format!("{cmd:?}").replace('"', "");
    match litmus_bundle::wait::output_within(&mut cmd, limit) {
        Ok(done) => Outcome {
            line,
            code: done.code(),
            stdout: done.stdout_text(),
            stderr: done.stderr_text(),
        },
        Err(e) => Outcome { line, code: None, stdout: String::new(), stderr: e.to_string() },
    }
}

type Check = fn(&Engines, &Runtime) -> Result<()>;

/// Every scenario: (engine, name, check).
const SCENARIOS: &[(&str, &str, Check)] = &[
    ("podman", "echo", podman_echo),
    ("podman", "exit-codes", podman_exit_codes),
    ("podman", "env-workdir-user-hostname", podman_process_flags),
    ("podman", "read-only", podman_read_only),
    ("podman", "memory-oom-137", podman_oom),
    ("podman", "pids-limit", podman_pids_limit),
    ("podman", "cap-drop", podman_cap_drop),
    ("podman", "bind-volume", podman_bind_volume),
    ("podman", "detach-exec-stop-rm", podman_detach_exec_stop),
    ("podman", "pause-unpause", podman_pause),
    ("podman", "top", podman_top),
    ("podman", "kill-signal", podman_kill_signal),
    ("podman", "tty", podman_tty),
    ("podman-rootless", "echo", rootless_echo),
    ("podman-rootless", "exit-codes", rootless_exit_codes),
    ("podman-rootless", "user", rootless_user),
    ("podman-rootless", "bind-volume", rootless_bind_volume),
    ("podman-rootless", "detach-exec-stop-rm", rootless_detach_exec_stop),
    ("containerd", "run-exit-code", ctr_run_exit_code),
    ("containerd", "env", ctr_env),
    ("containerd", "detach-exec-kill-delete", ctr_detach_exec_kill),
    ("containerd", "memory-oom-137", ctr_oom),
];

fn podman_run(e: &Engines, r: &Runtime, args: &[&str]) -> Outcome {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    e.podman(r, &full)
}

fn podman_echo(e: &Engines, r: &Runtime) -> Result<()> {
    podman_run(e, r, &[IMAGE, "echo", "hello"]).ok()?.stdout_is("hello")?;
    Ok(())
}

/// Podman maps the runtime's create error to 127 (not found) or 126 (not
/// executable) by its message, as it does for runc.
fn podman_exit_codes(e: &Engines, r: &Runtime) -> Result<()> {
    podman_run(e, r, &[IMAGE, "true"]).code_is(0)?;
    podman_run(e, r, &[IMAGE, "sh", "-c", "exit 3"]).code_is(3)?;
    podman_run(e, r, &[IMAGE, "no-such-command"]).code_is(127)?;
    podman_run(e, r, &[IMAGE, "/etc/passwd"]).code_is(126)?;
    Ok(())
}

fn podman_process_flags(e: &Engines, r: &Runtime) -> Result<()> {
    let script = "echo $FOO; pwd; id -u; id -g; hostname";
    podman_run(
        e,
        r,
        &[
            "-e",
            "FOO=bar",
            "-w",
            "/tmp",
            "-u",
            "1000:1000",
            "--hostname",
            "litmus-h",
            IMAGE,
            "sh",
            "-c",
            script,
        ],
    )
    .ok()?
    .stdout_is("bar\n/tmp\n1000\n1000\nlitmus-h")?;
    Ok(())
}

fn podman_read_only(e: &Engines, r: &Runtime) -> Result<()> {
    let out = podman_run(e, r, &["--read-only", IMAGE, "touch", "/written"]);
    ensure!(
        out.code != Some(0) && out.stderr.contains("Read-only"),
        "touch on a --read-only root should fail with EROFS: {}",
        out.describe()
    );
    // podman keeps /tmp and /run writable with tmpcopyup tmpfs mounts.
    podman_run(e, r, &["--read-only", IMAGE, "touch", "/tmp/written", "/run/written"]).ok()?;
    podman_run(e, r, &[IMAGE, "touch", "/written"]).ok()?;
    Ok(())
}

fn podman_oom(e: &Engines, r: &Runtime) -> Result<()> {
    let probe = litmus_bundle::PROBE_PATH_IN_ROOTFS;
    podman_run(e, r, &["--memory", "32m", "--memory-swap", "32m", IMAGE, probe, "alloc", "256"])
        .code_is(137)?;
    Ok(())
}

fn podman_pids_limit(e: &Engines, r: &Runtime) -> Result<()> {
    let probe = litmus_bundle::PROBE_PATH_IN_ROOTFS;
    let out = podman_run(e, r, &["--pids-limit", "8", IMAGE, probe, "fork", "40"]).ok()?;
    let line: serde_json::Value = serde_json::from_str(out.stdout.trim())
        .with_context(|| format!("probe output: {}", out.describe()))?;
    let started = line["succeeded"].as_u64().unwrap_or(u64::MAX);
    ensure!(started < 8, "--pids-limit 8 let {started} of 40 forks through");
    Ok(())
}

fn podman_cap_drop(e: &Engines, r: &Runtime) -> Result<()> {
    podman_run(e, r, &[IMAGE, "chown", "1", "/tmp"]).ok()?;
    let out = podman_run(e, r, &["--cap-drop", "CHOWN", IMAGE, "chown", "1", "/tmp"]);
    ensure!(out.code != Some(0), "chown without CAP_CHOWN should fail: {}", out.describe());
    Ok(())
}

fn podman_bind_volume(e: &Engines, r: &Runtime) -> Result<()> {
    let dir = e.work.join(format!("volume-{}", r.name));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("in"), "from the host\n")?;
    let volume = format!("{}:/data", dir.display());
    podman_run(e, r, &["-v", &volume, IMAGE, "sh", "-c", "cat /data/in; echo back > /data/out"])
        .ok()?
        .stdout_is("from the host")?;
    ensure!(std::fs::read_to_string(dir.join("out"))? == "back\n");
    Ok(())
}

/// A container name per runtime, so runs never collide.
fn name(r: &Runtime, what: &str) -> String {
    format!("litmus-{what}-{}", r.name)
}

fn podman_detach_exec_stop(e: &Engines, r: &Runtime) -> Result<()> {
    let c = name(r, "detach");
    e.podman(r, &["run", "-d", "--name", &c, IMAGE, "sleep", "1000"]).ok()?;
    e.podman(r, &["exec", &c, "sh", "-c", "echo in; exit 4"]).code_is(4)?.stdout_is("in")?;
    e.podman(r, &["exec", "-e", "X=1", "-w", "/tmp", &c, "sh", "-c", "echo $X $PWD"])
        .ok()?
        .stdout_is("1 /tmp")?;
    e.podman(r, &["stop", "--time", "2", &c]).ok()?;
    e.podman(r, &["inspect", "--format", "{{.State.Status}}", &c]).ok()?.stdout_is("exited")?;
    e.podman(r, &["rm", &c]).ok()?;
    Ok(())
}

fn podman_pause(e: &Engines, r: &Runtime) -> Result<()> {
    let c = name(r, "pause");
    e.podman(r, &["run", "-d", "--name", &c, IMAGE, "sleep", "1000"]).ok()?;
    e.podman(r, &["pause", &c]).ok()?;
    e.podman(r, &["inspect", "--format", "{{.State.Status}}", &c]).ok()?.stdout_is("paused")?;
    e.podman(r, &["unpause", &c]).ok()?;
    e.podman(r, &["inspect", "--format", "{{.State.Status}}", &c]).ok()?.stdout_is("running")?;
    e.podman(r, &["rm", "--force", "--time", "0", &c]).ok()?;
    Ok(())
}

fn podman_top(e: &Engines, r: &Runtime) -> Result<()> {
    let c = name(r, "top");
    e.podman(r, &["run", "-d", "--name", &c, IMAGE, "sleep", "1000"]).ok()?;
    let out = e.podman(r, &["top", &c]).ok()?;
    ensure!(out.stdout.contains("sleep 1000"), "{}", out.describe());
    e.podman(r, &["rm", "--force", "--time", "0", &c]).ok()?;
    Ok(())
}

fn podman_kill_signal(e: &Engines, r: &Runtime) -> Result<()> {
    let c = name(r, "kill");
    let script = "trap 'exit 42' USR1; while :; do sleep 0.1; done";
    e.podman(r, &["run", "-d", "--name", &c, IMAGE, "sh", "-c", script]).ok()?;
    // The trap must be installed before the signal: wait until sh runs it.
    std::thread::sleep(Duration::from_millis(500));
    e.podman(r, &["kill", "--signal", "USR1", &c]).ok()?;
    e.podman(r, &["wait", &c]).ok()?.stdout_is("42")?;
    e.podman(r, &["rm", &c]).ok()?;
    Ok(())
}

/// -t: conmon receives the pty master over --console-socket.
fn podman_tty(e: &Engines, r: &Runtime) -> Result<()> {
    let out = podman_run(e, r, &["-t", IMAGE, "sh", "-c", "tty; echo done"]).ok()?;
    ensure!(
        out.stdout.starts_with("/dev/pts/") && out.stdout.contains("done\r\n"),
        "a pty on stdout: {}",
        out.describe()
    );
    Ok(())
}

fn rootless_run(e: &Engines, r: &Runtime, args: &[&str]) -> Outcome {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    e.podman_rootless(r, &full)
}

fn rootless_echo(e: &Engines, r: &Runtime) -> Result<()> {
    rootless_run(e, r, &[IMAGE, "echo", "hello"]).ok()?.stdout_is("hello")?;
    Ok(())
}

fn rootless_exit_codes(e: &Engines, r: &Runtime) -> Result<()> {
    rootless_run(e, r, &[IMAGE, "sh", "-c", "exit 3"]).code_is(3)?;
    rootless_run(e, r, &[IMAGE, "no-such-command"]).code_is(127)?;
    Ok(())
}

/// Container root and a mapped user: the ids the process has inside.
fn rootless_user(e: &Engines, r: &Runtime) -> Result<()> {
    rootless_run(e, r, &[IMAGE, "id", "-u"]).ok()?.stdout_is("0")?;
    rootless_run(e, r, &["--user", "1000:1000", IMAGE, "id", "-u"]).ok()?.stdout_is("1000")?;
    Ok(())
}

/// A directory of the user's, written by container root (the user).
fn rootless_bind_volume(e: &Engines, r: &Runtime) -> Result<()> {
    let dir = e.rootless.dir.join(format!("volume-{}", r.name));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("in"), "from the user\n")?;
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", e.rootless.uid, e.rootless.gid))
        .arg(&dir)
        .status()?;
    ensure!(status.success(), "chown of {}", dir.display());
    let volume = format!("{}:/data", dir.display());
    rootless_run(e, r, &["-v", &volume, IMAGE, "sh", "-c", "cat /data/in; echo back > /data/out"])
        .ok()?
        .stdout_is("from the user")?;
    ensure!(std::fs::read_to_string(dir.join("out"))? == "back\n");
    Ok(())
}

fn rootless_detach_exec_stop(e: &Engines, r: &Runtime) -> Result<()> {
    let c = name(r, "rootless-detach");
    e.podman_rootless(r, &["run", "-d", "--name", &c, IMAGE, "sleep", "1000"]).ok()?;
    e.podman_rootless(r, &["exec", &c, "sh", "-c", "echo in; exit 4"])
        .code_is(4)?
        .stdout_is("in")?;
    e.podman_rootless(r, &["stop", "--time", "2", &c]).ok()?;
    e.podman_rootless(r, &["inspect", "--format", "{{.State.Status}}", &c])
        .ok()?
        .stdout_is("exited")?;
    e.podman_rootless(r, &["rm", &c]).ok()?;
    Ok(())
}

fn ctr_run(e: &Engines, r: &Runtime, flags: &[&str], id: &str, argv: &[&str]) -> Outcome {
    let binary = r.path.display().to_string();
    let mut full = vec!["run", "--snapshotter", "native", "--runc-binary", &binary];
    full.extend_from_slice(flags);
    full.push(IMAGE);
    full.push(id);
    full.extend_from_slice(argv);
    e.ctr(&full)
}

fn ctr_run_exit_code(e: &Engines, r: &Runtime) -> Result<()> {
    ctr_run(e, r, &["--rm"], &name(r, "ctr-echo"), &["echo", "hello"]).ok()?.stdout_is("hello")?;
    ctr_run(e, r, &["--rm"], &name(r, "ctr-exit"), &["sh", "-c", "exit 7"]).code_is(7)?;
    Ok(())
}

fn ctr_env(e: &Engines, r: &Runtime) -> Result<()> {
    ctr_run(
        e,
        r,
        &["--rm", "--env", "FOO=bar", "--cwd", "/tmp"],
        &name(r, "ctr-env"),
        &["sh", "-c", "echo $FOO $PWD"],
    )
    .ok()?
    .stdout_is("bar /tmp")?;
    Ok(())
}

fn ctr_detach_exec_kill(e: &Engines, r: &Runtime) -> Result<()> {
    let id = name(r, "ctr-detach");
    ctr_run(e, r, &["--detach"], &id, &["sleep", "1000"]).ok()?;
    e.ctr(&["tasks", "exec", "--exec-id", "e1", &id, "sh", "-c", "echo in; exit 5"])
        .code_is(5)?
        .stdout_is("in")?;
    let ps = e.ctr(&["tasks", "ps", &id]).ok()?;
    ensure!(ps.stdout.lines().count() >= 2, "tasks ps: {}", ps.describe());
    e.ctr(&["tasks", "kill", "--signal", "SIGKILL", &id]).ok()?;
    litmus_bundle::wait::poll(Duration::from_secs(10), Duration::from_millis(50), || {
        e.ctr(&["tasks", "list"]).stdout.contains("STOPPED").then_some(())
    })
    .context("the task did not stop after SIGKILL")?;
    e.ctr(&["tasks", "delete", &id]).ok()?;
    e.ctr(&["containers", "delete", &id]).ok()?;
    Ok(())
}

fn ctr_oom(e: &Engines, r: &Runtime) -> Result<()> {
    let probe = litmus_bundle::PROBE_PATH_IN_ROOTFS;
    ctr_run(
        e,
        r,
        &["--rm", "--memory-limit", "33554432"],
        &name(r, "ctr-oom"),
        &[probe, "alloc", "256"],
    )
    .code_is(137)?;
    Ok(())
}

/// Runs every scenario with every runtime; fails if any fails.
pub fn engines(options: &Options, litmus_runtime: PathBuf, probe: PathBuf) -> Result<()> {
    let runtimes = if options.runtimes.is_empty() {
        vec![
            Runtime { name: "litmus-runtime".into(), path: litmus_runtime },
            Runtime { name: "runc".into(), path: PathBuf::from("/usr/sbin/runc") },
        ]
    } else {
        options
            .runtimes
            .iter()
            .map(|spec| {
                let (name, path) = spec
                    .split_once('=')
                    .with_context(|| format!("--runtime {spec:?}: expected NAME=PATH"))?;
                Ok(Runtime { name: name.into(), path: path.into() })
            })
            .collect::<Result<_>>()?
    };
    let runtimes = match &options.record {
        Some(dir) => {
            runtimes.iter().map(|r| recording_wrapper(dir, r)).collect::<Result<Vec<_>>>()?
        }
        None => runtimes,
    };
    let rootfs = litmus_bundle::RootfsBuilder::with_probe(probe)?;
    let work = std::env::temp_dir().join(format!("litmus-engines-{}", std::process::id()));
    let engines = Engines::set_up(work, &rootfs, options.keep)?;
    let mut failures = Vec::new();
    for runtime in &runtimes {
        let (mut passed, mut failed) = (0, 0);
        eprintln!("\n{} ({})", runtime.name, runtime.path.display());
        for (engine, scenario, check) in SCENARIOS {
            let full = format!("{engine}/{scenario}");
            if options.filter.as_ref().is_some_and(|f| !full.contains(f)) {
                continue;
            }
            let started = Instant::now();
            let outcome = check(&engines, runtime);
            if let Some(dir) = &options.record {
                file_recordings(dir, engine, scenario)?;
            }
            match outcome {
                Ok(()) => {
                    passed += 1;
                    eprintln!("  PASS  {full}  ({:.1}s)", started.elapsed().as_secs_f64());
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("  FAIL  {full}\n      {e:#}");
                    failures.push(format!("{}: {full}", runtime.name));
                }
            }
        }
        eprintln!("{}: {passed} passed, {failed} failed", runtime.name);
    }
    drop(engines);
    if !failures.is_empty() {
        bail!("engine scenarios failed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}
