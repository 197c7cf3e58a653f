//! The body of every fuzz target, as plain functions: `fuzz_targets/*.rs`
//! hand them libFuzzer's input, and `tests/replay.rs` replays the seed
//! corpora and every saved crash through them as an ordinary `cargo test`.
//!
//! Each function states its invariants with `assert!`: returning an error
//! is fine for bad input, panicking (or hanging) is the bug.

use arbitrary::{Arbitrary, Unstructured};
use litmus::runner::{CaseResult, Outcome};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The targets, by name, for the replay test and `cargo xtask fuzz list`.
pub type Target = fn(&[u8]);

pub const TARGETS: &[(&str, Target)] = &[
    ("config_json", config_json),
    ("config_structured", config_structured),
    ("cli_args", cli_args),
    ("state_json", state_json),
    ("seccomp_profile", seccomp_profile),
    ("features_json", features_json),
    ("runtime_output", runtime_output),
    ("probe_output", probe_output),
    ("report_writers", report_writers),
    ("exec_process", exec_process),
    ("update_resources", update_resources),
    ("hook_state", hook_state),
];

/// A bundle with an empty rootfs dir, so validation gets past the rootfs
/// check and into the rest of the config.
fn bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("litmus-fuzz-bundle")
            .tempdir()
            .expect("temp dir")
            .keep();
        std::fs::create_dir_all(dir.join("rootfs")).expect("rootfs dir");
        dir
    })
}

/// Parse + validate, then: a valid config survives a serialize/parse
/// round trip unchanged and still validates.
fn check_config(bytes: &[u8]) {
    let Ok(spec) = litmus_runtime::config::parse(bytes) else {
        return;
    };
    let valid = litmus_runtime::config::validate(spec.clone(), bundle()).is_ok();
    let again = serde_json::to_vec(&spec).expect("a parsed spec serializes");
    let reparsed = litmus_runtime::config::parse(&again).expect("a serialized spec parses");
    assert_eq!(spec, reparsed, "round trip changed the config");
    if valid {
        litmus_runtime::config::validate(reparsed, bundle()).expect("round trip broke validity");
    }
}

/// config.json as raw bytes: the runtime's own load path.
pub fn config_json(data: &[u8]) {
    check_config(data);
}

/// A structure-aware config: well-formed JSON shaped like a spec, so the
/// fuzzer spends its time in validation rather than in the JSON parser.
pub fn config_structured(data: &[u8]) {
    let Ok(shape) = SpecShape::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    check_config(shape.to_json().to_string().as_bytes());
}

/// The parts of a config that validation has rules about.
#[derive(Arbitrary, Debug)]
pub struct SpecShape {
    version: Pick,
    args: Vec<String>,
    env: Vec<String>,
    cwd: String,
    uid: u32,
    gid: u32,
    umask: Option<u32>,
    rlimits: Vec<(Pick, u64, u64)>,
    namespaces: Vec<(Pick, Option<String>)>,
    uid_mappings: Vec<(u32, u32, u32)>,
    hostname: Option<String>,
    sysctl: Vec<(String, String)>,
    mounts: Vec<(String, Option<String>, Vec<String>)>,
    masked: Vec<String>,
    root_path: Pick,
    seccomp_default: Option<Pick>,
}

/// A value from a table of interesting ones, or (rarely) any string.
#[derive(Arbitrary, Debug)]
pub struct Pick {
    index: u8,
    other: Option<String>,
}

impl Pick {
    fn from<'t>(&'t self, table: &'t [&'t str]) -> &'t str {
        match &self.other {
            Some(other) if self.index.is_multiple_of(8) => other,
            _ => table[self.index as usize % table.len()],
        }
    }
}

const VERSIONS: &[&str] = &["1.0.0", "1.2.0", "1.3.0", "0.9", "2.0.0", "1.0.2-dev"];
const RLIMITS: &[&str] = &["RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE", "RLIMIT_AS"];
const NAMESPACES: &[&str] = &["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"];
const ROOTS: &[&str] = &["rootfs", "/", "../rootfs", "missing"];
const ACTIONS: &[&str] = &["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_NOTIFY", "SCMP_ACT_KILL"];

impl SpecShape {
    fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        json!({
            "ociVersion": self.version.from(VERSIONS),
            "root": {"path": self.root_path.from(ROOTS)},
            "hostname": self.hostname,
            "process": {
                "args": self.args,
                "env": self.env,
                "cwd": self.cwd,
                "user": {"uid": self.uid, "gid": self.gid, "umask": self.umask},
                "rlimits": self.rlimits.iter().map(|(t, soft, hard)| json!({"type": t.from(RLIMITS), "soft": soft, "hard": hard})).collect::<Vec<_>>(),
            },
            "mounts": self.mounts.iter().map(|(dest, typ, options)| json!({"destination": dest, "type": typ, "source": "none", "options": options})).collect::<Vec<_>>(),
            "linux": {
                "namespaces": self.namespaces.iter().map(|(t, path)| json!({"type": t.from(NAMESPACES), "path": path})).collect::<Vec<_>>(),
                "uidMappings": self.uid_mappings.iter().map(|(c, h, s)| json!({"containerID": c, "hostID": h, "size": s})).collect::<Vec<_>>(),
                "sysctl": self.sysctl.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "maskedPaths": self.masked,
                "seccomp": self.seccomp_default.as_ref().map(|a| json!({"defaultAction": a.from(ACTIONS)})),
            }
        })
    }
}

/// The runtime's command line: clap must reject, never panic.
pub fn cli_args(data: &[u8]) {
    use clap::Parser;
    let Ok(args) = Vec::<String>::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let argv = std::iter::once("litmus-runtime".to_string()).chain(args);
    let _ = litmus_runtime::cli::Cli::try_parse_from(argv);
}

/// state.json as another process (or a corrupted disk) may leave it.
pub fn state_json(data: &[u8]) {
    if let Ok(record) = serde_json::from_slice::<litmus_runtime::state::Record>(data) {
        let _ = record.current_state();
        let again = serde_json::to_vec(&record).expect("a record serializes");
        serde_json::from_slice::<litmus_runtime::state::Record>(&again).expect("round trip");
    }
}

/// `exec --process FILE`: a runtime-spec process from the caller. Parse and
/// validate; a valid one survives a round trip and stays valid.
pub fn exec_process(data: &[u8]) {
    let Ok(process) = serde_json::from_slice::<oci_spec::runtime::Process>(data) else {
        return;
    };
    let valid = litmus_runtime::config::validate_process(&process).is_ok();
    let again = serde_json::to_vec(&process).expect("a parsed process serializes");
    let reparsed: oci_spec::runtime::Process =
        serde_json::from_slice(&again).expect("a serialized process parses");
    assert_eq!(process, reparsed, "round trip changed the process");
    if valid {
        litmus_runtime::config::validate_process(&reparsed).expect("round trip broke validity");
    }
}

/// `update --resources FILE` (JSON) and `update --memory SIZE` (runc's
/// size syntax): errors, never panics; sizes never overflow silently.
pub fn update_resources(data: &[u8]) {
    if let Ok(resources) = serde_json::from_slice::<oci_spec::runtime::LinuxResources>(data) {
        let again = serde_json::to_vec(&resources).expect("resources serialize");
        serde_json::from_slice::<oci_spec::runtime::LinuxResources>(&again).expect("round trip");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(bytes) = litmus_runtime::container::parse_bytes(text) {
            let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
            assert!(
                bytes == 0 || !digits.trim_start_matches('0').is_empty(),
                "{text:?} parsed to {bytes} without a non-zero digit"
            );
        }
    }
}

/// A state document as the runtime under test hands it to a hook (or
/// prints it from `state`), read by the suite: an error naming the field,
/// never a panic; whatever parses keeps the fields it was given.
pub fn hook_state(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(state) = litmus::state_view::StateView::parse(text) {
        assert_eq!(state.id, state.json["id"].as_str().unwrap_or_default());
        assert_eq!(state.pid as i64, state.json["pid"].as_i64().unwrap_or(0));
    }
}

/// A seccomp profile through libseccomp: bad profiles are errors.
pub fn seccomp_profile(data: &[u8]) {
    if let Ok(profile) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) {
        let _ = litmus_runtime::seccomp::compile(&profile);
    }
}

/// A runtime's `features` output, as the suite reads it.
pub fn features_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(version) = litmus::driver::spec_version_from_features(text) {
        for requirement in litmus::catalogue::CATALOGUE {
            let _ = litmus::catalogue::version_le(requirement.since, &version);
        }
    }
    let _ = serde_json::from_str::<oci_spec::runtime::Features>(text);
}

/// Whatever a runtime prints on stdout and stderr (any bytes, any size) is
/// read, described and parsed as a state document without a panic.
pub fn runtime_output(data: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out");
    std::fs::write(&path, data).expect("write");
    let tail = litmus::driver::read_tail(&path, 4096);
    let head = litmus::driver::read_head(&path, 4096);
    assert!(tail.len() <= 3 * 4096 && head.len() <= 3 * 4096);
    let inv = litmus::driver::Invocation {
        args: vec!["runtime".into(), "create".into()],
        code: Some(1),
        stdout: head.clone(),
        stderr: tail,
        timed_out: false,
    };
    let _ = inv.describe();
    let _ = litmus::state_view::StateView::parse(&head);
}

/// Whatever the container printed, read as probe output.
pub fn probe_output(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = litmus_probe::parse_output(&text);
    assert!(lines.len() <= text.lines().count());
    for line in text.lines() {
        let _ = litmus_probe::parse_mountinfo_line(line);
    }
}

/// Reports carry text the runtime under test chose (its version, its error
/// messages): every writer must keep it from breaking the format.
pub fn report_writers(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(input) = ReportInput::arbitrary(&mut u) else {
        return;
    };
    let cases: Vec<_> = litmus::cases::all().collect();
    let results: Vec<CaseResult> = input
        .results
        .iter()
        .map(|(index, outcome)| {
            let case = cases[*index as usize % cases.len()];
            CaseResult {
                name: case.name,
                area: case.area.name(),
                level: case.level(),
                requirements: case.requirement_ids(),
                outcome: match outcome {
                    OutcomeInput::Pass => Outcome::Pass,
                    OutcomeInput::Fail(expected, seen) => {
                        Outcome::Fail { expected: expected.clone(), seen: seen.clone() }
                    }
                    OutcomeInput::Skip(reason) => Outcome::Skip { reason: reason.clone() },
                },
                // Every third result is of a rule newer than the declared
                // version, so the reports render those too.
                beyond_declared: index % 3 == 0,
                duration: Duration::from_millis(input.millis as u64),
            }
        })
        .collect();
    let info = litmus::report::RunInfo {
        runtime: input.runtime.clone(),
        runtime_version: input.runtime_version.clone(),
        spec_version: input.spec_version.clone(),
        litmus_version: "fuzz".into(),
        host: litmus::report::Host { kernel: input.runtime_version.clone(), ..Default::default() },
        note: Some(input.runtime.clone()),
    };

    let json = litmus::report::json(&results, &info);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("the JSON report parses");
    assert_eq!(doc["results"].as_array().map(Vec::len), Some(results.len()));
    // What `litmus report` reads back: every result lands in one cell.
    let read = litmus::report::matrix::Report::parse(&json, "fuzz").expect("litmus report reads it");
    let matrix = litmus::report::matrix::Matrix::merge(&[read.clone(), read]);
    let (p, f, s) = matrix.counts(0);
    assert!(p + f + s <= results.len());
    let _ = (matrix.markdown(), matrix.html());

    let tap = litmus::report::tap(&results, &info);
    let points = tap.lines().filter(|l| l.starts_with("ok ") || l.starts_with("not ok ")).count();
    assert_eq!(points, results.len(), "TAP test points:\n{tap}");

    let junit = litmus::report::junit(&results, &info);
    let mut reader = quick_xml::Reader::from_str(&junit);
    let mut testcases = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                if e.name().as_ref() == b"testcase" =>
            {
                testcases += 1
            }
            Ok(_) => {}
            Err(e) => panic!("the JUnit report is not XML: {e}\n{junit}"),
        }
    }
    assert_eq!(testcases, results.len());

    let _ = litmus::report::human(&results, &info);
}

#[derive(Arbitrary, Debug)]
struct ReportInput {
    runtime: String,
    runtime_version: String,
    spec_version: String,
    millis: u32,
    results: Vec<(u16, OutcomeInput)>,
}

#[derive(Arbitrary, Debug)]
enum OutcomeInput {
    Pass,
    Fail(String, String),
    Skip(String),
}

/// Inputs under `fuzz/<dir>/<target>/`, for the replay test.
pub fn saved_inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files
}
