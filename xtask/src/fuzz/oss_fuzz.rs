//! The OSS-Fuzz / ClusterFuzzLite build (`.clusterfuzzlite/build.sh`) run
//! as those services run it, what it must leave in $OUT, and each built
//! fuzzer run with its options file.

use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

use super::FUZZ_DIR;
use crate::{step, workspace_root};

/// `.clusterfuzzlite/build.sh` as OSS-Fuzz and ClusterFuzzLite run it:
/// $SRC, $OUT and $WORK are fresh directories under `scratch`, the checkout
/// is $SRC/litmus (a link to this tree, where those services copy it: same
/// files, and fuzz/target is shared with local builds), nightly cargo.
pub fn build(sh: &Shell, scratch: &Path) -> Result<PathBuf> {
    let (src, out, work) = (scratch.join("src"), scratch.join("out"), scratch.join("work"));
    for dir in [&src, &out, &work] {
        std::fs::create_dir_all(dir)?;
    }
    std::os::unix::fs::symlink(workspace_root(), src.join("litmus"))?;
    step("building the fuzzers as OSS-Fuzz does (.clusterfuzzlite/build.sh, temporary $SRC $OUT $WORK)");
    cmd!(sh, "bash -eu .clusterfuzzlite/build.sh")
        .env("SRC", &src)
        .env("OUT", &out)
        .env("WORK", &work)
        .env("RUSTUP_TOOLCHAIN", "nightly")
        .run()
        .context(".clusterfuzzlite/build.sh failed")?;
    Ok(out)
}

/// What $OUT must hold for one target.
#[derive(Debug)]
pub struct Expected {
    target: String,
    /// Seed file names: fuzz/corpus/TARGET and fuzz/regressions/TARGET.
    seeds: Vec<String>,
}

pub fn expected_outputs(targets: &[String]) -> Result<Vec<Expected>> {
    let fuzz = workspace_root().join(FUZZ_DIR);
    targets
        .iter()
        .map(|target| {
            let mut seeds = Vec::new();
            for dir in ["corpus", "regressions"] {
                let dir = fuzz.join(dir).join(target);
                if dir.is_dir() {
                    for entry in std::fs::read_dir(&dir)? {
                        seeds.push(entry?.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            ensure!(!seeds.is_empty(), "fuzz/corpus/{target}: a target needs at least one seed");
            Ok(Expected { target: target.clone(), seeds })
        })
        .collect()
}

/// libFuzzer flags from a `TARGET.options` file (`[libfuzzer]`, then
/// `key = value` lines), as ClusterFuzz passes them.
fn libfuzzer_options(text: &str) -> Result<Vec<(String, String)>> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    ensure!(lines.next() == Some("[libfuzzer]"), "the first section must be [libfuzzer]");
    lines
        .map(|line| {
            let (key, value) =
                line.split_once('=').with_context(|| format!("not `key = value`: {line:?}"))?;
            Ok((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

pub fn check_out_dir(out: &Path, expected: &[Expected]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for Expected { target, seeds } in expected {
        let binary = out.join(target);
        let mode = std::fs::metadata(&binary)
            .with_context(|| format!("$OUT/{target}: the fuzzer binary is missing"))?
            .permissions()
            .mode();
        ensure!(mode & 0o111 != 0, "$OUT/{target} is not executable");
        let zip = out.join(format!("{target}_seed_corpus.zip"));
        let listed = std::process::Command::new("unzip")
            .arg("-Z1")
            .arg(&zip)
            .output()
            .with_context(|| format!("listing {}", zip.display()))?;
        ensure!(listed.status.success(), "$OUT/{target}_seed_corpus.zip is missing or not a zip");
        let names = String::from_utf8_lossy(&listed.stdout);
        for seed in seeds {
            ensure!(
                names.lines().any(|n| n == seed),
                "$OUT/{target}_seed_corpus.zip lacks the seed {seed}"
            );
        }
        let options_path = out.join(format!("{target}.options"));
        let options = std::fs::read_to_string(&options_path)
            .with_context(|| format!("$OUT/{target}.options is missing"))?;
        let options =
            libfuzzer_options(&options).with_context(|| format!("$OUT/{target}.options"))?;
        let dict = options.iter().find(|(k, _)| k == "dict").map(|(_, v)| v.as_str());
        ensure!(dict.is_some(), "$OUT/{target}.options names no dict");
        let dict = out.join(dict.unwrap_or_default());
        ensure!(dict.is_file(), "$OUT/{target}.options: dict {} is missing", dict.display());
    }
    Ok(())
}

/// The built fuzzer with its options, on its unpacked seed corpus, for a
/// few seconds: the seeds (saved crashes among them) replay first.
pub fn run_built(out: &Path, expected: &Expected, seconds: u64, scratch: &Path) -> Result<()> {
    let target = &expected.target;
    let corpus = scratch.join(target);
    std::fs::create_dir_all(&corpus)?;
    let zip = out.join(format!("{target}_seed_corpus.zip"));
    let unzip = std::process::Command::new("unzip")
        .arg("-q")
        .arg("-o")
        .arg(&zip)
        .arg("-d")
        .arg(&corpus)
        .status()?;
    ensure!(unzip.success(), "unzip {} failed", zip.display());
    let options =
        libfuzzer_options(&std::fs::read_to_string(out.join(format!("{target}.options")))?)?;
    let mut flags: Vec<String> = options
        .iter()
        .map(|(k, v)| {
            if k == "dict" {
                format!("-dict={}", out.join(v).display())
            } else {
                format!("-{k}={v}")
            }
        })
        .collect();
    let artifacts = workspace_root().join(FUZZ_DIR).join("artifacts").join(target);
    std::fs::create_dir_all(&artifacts)?;
    flags.push(format!("-max_total_time={seconds}"));
    flags.push(format!("-artifact_prefix={}/", artifacts.display()));
    step(&format!("{target}: seeds, then {seconds}s of fuzzing"));
    let run = std::process::Command::new(out.join(target))
        .args(&flags)
        .arg(&corpus)
        .output()
        .with_context(|| format!("running $OUT/{target}"))?;
    let log = String::from_utf8_lossy(&run.stderr);
    if !run.status.success() {
        eprint!("{log}");
        bail!(
            "fuzz target {target} failed ({}): the crashing input is in {}; fix the code and keep the input in fuzz/regressions/{target}/",
            run.status,
            artifacts.display()
        );
    }
    let done = log.lines().rev().find(|l| l.starts_with("Done ")).unwrap_or("no summary line");
    ensure!(log.contains("INITED"), "{target}: libFuzzer never finished loading its seeds:\n{log}");
    eprintln!("{target}: {done}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_files_become_libfuzzer_flags() {
        let options = libfuzzer_options("[libfuzzer]\ndict = t.dict\ntimeout = 10\n").unwrap();
        assert_eq!(options, [("dict".into(), "t.dict".into()), ("timeout".into(), "10".into())]);
        assert!(libfuzzer_options("dict = t.dict\n").is_err());
        assert!(libfuzzer_options("[libfuzzer]\ndict\n").is_err());
    }

    fn out_dir_with(target: &str, seeds: &[&str], options: &str) -> tempfile::TempDir {
        let out = tempfile::tempdir().unwrap();
        let seeds_dir = tempfile::tempdir().unwrap();
        for seed in seeds {
            std::fs::write(seeds_dir.path().join(seed), seed).unwrap();
        }
        let zip = out.path().join(format!("{target}_seed_corpus.zip"));
        let status = std::process::Command::new("zip")
            .arg("-q")
            .arg("-j")
            .arg(&zip)
            .args(seeds.iter().map(|s| seeds_dir.path().join(s)))
            .status()
            .expect("zip is installed (cargo xtask fuzz smoke installs it)");
        assert!(status.success());
        let binary = out.path().join(target);
        std::fs::write(&binary, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(out.path().join(format!("{target}.dict")), "\"x\"\n").unwrap();
        std::fs::write(out.path().join(format!("{target}.options")), options).unwrap();
        out
    }

    #[test]
    fn out_dir_check_names_what_is_missing() {
        let expected = |seeds: &[&str]| Expected {
            target: "t".into(),
            seeds: seeds.iter().map(|s| s.to_string()).collect(),
        };
        let good = "[libfuzzer]\ndict = t.dict\n";
        let out = out_dir_with("t", &["a", "crash-1"], good);
        check_out_dir(out.path(), &[expected(&["a", "crash-1"])]).unwrap();

        let error = check_out_dir(out.path(), &[expected(&["a", "crash-2"])]).unwrap_err();
        assert!(error.to_string().contains("lacks the seed crash-2"), "{error}");

        let error = check_out_dir(out.path(), &[Expected { target: "u".into(), seeds: vec![] }])
            .unwrap_err();
        assert!(error.to_string().contains("$OUT/u: the fuzzer binary is missing"), "{error}");

        let out = out_dir_with("t", &["a"], "[libfuzzer]\ntimeout = 10\n");
        let error = check_out_dir(out.path(), &[expected(&["a"])]).unwrap_err();
        assert!(error.to_string().contains("names no dict"), "{error}");
    }
}
