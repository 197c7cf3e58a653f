//! `ps`: the container's processes, from its cgroup. The table comes from
//! the host's ps(1), filtered to those pids, as runc prints it.

use crate::state::ContainerDir;
use anyhow::{Context, Result};
use std::path::Path;

pub fn ps(root: &Path, id: &str, json: bool, ps_args: &[String]) -> Result<String> {
    let dir = ContainerDir::open(root, id)?;
    let record = dir.load()?;
    let pids = record.processes()?;
    if json {
        return Ok(serde_json::to_string(&pids)? + "\n");
    }
    let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
    let output = std::process::Command::new("ps").args(&args).output().context("running ps(1)")?;
    let table = String::from_utf8_lossy(&output.stdout);
    filter_table(&table, &pids)
}

/// The header and the rows whose PID column is one of `pids`.
fn filter_table(table: &str, pids: &[i32]) -> Result<String> {
    let mut lines = table.lines();
    let header = lines.next().context("ps printed nothing")?;
    let column = header
        .split_whitespace()
        .position(|c| c == "PID")
        .context("ps output has no PID column")?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line.split_whitespace().nth(column).and_then(|p| p.parse().ok());
        if pid.is_some_and(|p: i32| pids.contains(&p)) {
            out += line;
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_header_and_the_containers_rows() {
        let table = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 other\n";
        assert_eq!(
            super::filter_table(table, &[42]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sleep\n"
        );
    }
}
