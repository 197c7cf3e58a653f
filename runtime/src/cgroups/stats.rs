//! What `events` reports: resource usage in runc's stats shape, and the
//! OOM-kill counter the OOM notification is derived from.

use super::{Cgroup, Layout};
use serde_json::{json, Value};
use std::path::Path;

fn read_u64(dir: Option<&Path>, file: &str) -> Option<u64> {
    let text = std::fs::read_to_string(dir?.join(file)).ok()?;
    let text = text.trim();
    if text == "max" {
        return Some(u64::MAX);
    }
    text.parse().ok()
}

/// `key value` lines (memory.stat, memory.events, cpu.stat...).
fn read_keyed(dir: Option<&Path>, file: &str) -> Vec<(String, u64)> {
    let Some(dir) = dir else { return Vec::new() };
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn keyed(dir: Option<&Path>, file: &str, key: &str) -> Option<u64> {
    read_keyed(dir, file).into_iter().find_map(|(k, v)| (k == key).then_some(v))
}

/// The memory the cgroup uses now, in bytes.
pub fn memory_usage(cgroup: &Cgroup) -> Option<u64> {
    let memory = cgroup.controller_dir("memory");
    match cgroup.layout() {
        Layout::V1 { .. } => read_u64(memory, "memory.usage_in_bytes"),
        Layout::V2 { .. } => read_u64(memory, "memory.current"),
    }
}

/// How many processes the OOM killer has killed in this cgroup.
pub fn oom_kills(cgroup: &Cgroup) -> u64 {
    let memory = cgroup.controller_dir("memory");
    match cgroup.layout() {
        Layout::V1 { .. } => keyed(memory, "memory.oom_control", "oom_kill").unwrap_or(0),
        Layout::V2 { .. } => keyed(memory, "memory.events", "oom_kill").unwrap_or(0),
    }
}

/// The `data` of a runc stats event: cpu, memory and pids.
pub fn stats(cgroup: &Cgroup) -> Value {
    let memory = cgroup.controller_dir("memory");
    let pids = cgroup.controller_dir("pids");
    let (cpu_total, mem_usage, mem_max, mem_limit, raw) = match cgroup.layout() {
        Layout::V1 { .. } => (
            read_u64(cgroup.controller_dir("cpuacct"), "cpuacct.usage"),
            read_u64(memory, "memory.usage_in_bytes"),
            read_u64(memory, "memory.max_usage_in_bytes"),
            read_u64(memory, "memory.limit_in_bytes"),
            read_keyed(memory, "memory.stat"),
        ),
        Layout::V2 { .. } => (
            keyed(cgroup.controller_dir("cpu"), "cpu.stat", "usage_usec").map(|us| us * 1000),
            read_u64(memory, "memory.current"),
            read_u64(memory, "memory.peak"),
            read_u64(memory, "memory.max"),
            read_keyed(memory, "memory.stat"),
        ),
    };
    json!({
        "cpu": { "usage": { "total": cpu_total.unwrap_or(0) } },
        "memory": {
            "usage": {
                "usage": mem_usage.unwrap_or(0),
                "max": mem_max.unwrap_or(0),
                "limit": mem_limit.unwrap_or(0),
                "failcnt": read_u64(memory, "memory.failcnt").unwrap_or(0),
            },
            "raw": raw.into_iter().map(|(k, v)| (k, Value::from(v))).collect::<serde_json::Map<String, Value>>(),
        },
        "pids": {
            "current": read_u64(pids, "pids.current").unwrap_or(0),
            "limit": read_u64(pids, "pids.max").filter(|l| *l != u64::MAX).unwrap_or(0),
        },
    })
}
