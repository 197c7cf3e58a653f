//! config.md's rules on what a runtime accepts: invalid values are
//! refused (and leave no container), unknown properties are not.

use crate::case::{expect, Checked};
use crate::ctx::{BundleRef, Ctx};
use serde_json::{json, Value};

crate::cases! {
    Process: {
        empty_args_are_refused => [CONFIG_PROCESS_ARGS_REQUIRED],
        relative_cwd_is_refused => [CONFIG_PROCESS_CWD_ABSOLUTE],
        duplicate_rlimits_are_refused => [CONFIG_PROCESS_RLIMITS_DUPLICATE],
        an_unmappable_rlimit_is_refused => [CONFIG_PROCESS_RLIMITS_INVALID],
    }
    Filesystem: {
        a_missing_root_path_is_refused =>
            [CONFIG_ROOT_PATH_EXISTS, RUNTIME_CREATE_ERROR_NO_CONTAINER],
    }
    Lifecycle: {
        unsupported_values_are_refused => [CONFIG_VALID_VALUES],
    }
    Hooks: {
        a_relative_hook_path_is_refused => [CONFIG_HOOKS_PATH_ABSOLUTE],
    }
    Devices: {
        an_unknown_device_type_is_refused => [LINUX_DEVICES_TYPE],
    }
    Seccomp: {
        an_unknown_seccomp_flag_is_refused => [LINUX_SECCOMP_FLAGS],
    }
    Lifecycle: {
        unknown_properties_are_ignored => [CONFIG_EXTENSIBILITY],
    }
}

/// The probe's config as JSON with `edit` applied, in a fresh bundle;
/// returns (bundle, container id).
fn edited_bundle(
    cx: &mut Ctx,
    edit: impl FnOnce(&mut Value),
) -> anyhow::Result<(BundleRef, String)> {
    let spec = cx.spec(&["marker", "/ran", "exit", "0"]);
    let mut config = serde_json::to_value(&spec)?;
    edit(&mut config);
    let bundle = cx.bundle(&spec)?;
    cx.write_raw_config(bundle, config.to_string().as_bytes())?;
    Ok((bundle, cx.new_id()))
}

/// create must fail, leave no container, and run nothing.
fn refused(cx: &mut Ctx, what: &str, edit: impl FnOnce(&mut Value)) -> Checked {
    let (bundle, id) = edited_bundle(cx, edit)?;
    cx.create_refused(&id, bundle, &format!("create to refuse a config where {what}"))?;
    expect(!cx.program_ran(bundle), "the program not to run", "it ran")
}

fn empty_args_are_refused(cx: &mut Ctx) -> Checked {
    refused(cx, "process.args is empty", |c| c["process"]["args"] = json!([]))
}

fn relative_cwd_is_refused(cx: &mut Ctx) -> Checked {
    refused(cx, "process.cwd is relative", |c| c["process"]["cwd"] = json!("tmp"))
}

fn duplicate_rlimits_are_refused(cx: &mut Ctx) -> Checked {
    refused(cx, "RLIMIT_NOFILE is listed twice", |c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
            {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200},
        ])
    })
}

/// A soft limit above the hard one has no setrlimit(2) equivalent.
fn an_unmappable_rlimit_is_refused(cx: &mut Ctx) -> Checked {
    refused(cx, "an rlimit's soft limit exceeds its hard limit", |c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])
    })
}

fn a_missing_root_path_is_refused(cx: &mut Ctx) -> Checked {
    refused(cx, "root.path does not exist", |c| c["root"]["path"] = json!("no-such-rootfs"))
}

fn unsupported_values_are_refused(cx: &mut Ctx) -> Checked {
    refused(cx, "a namespace type is unknown", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("the fixture lists namespaces")
            .push(json!({"type": "litmus-bogus"}))
    })
}

/// The relative path leads to /bin/true from the runtime's working
/// directory (ours), so only a check of the path itself refuses it.
fn a_relative_hook_path_is_refused(cx: &mut Ctx) -> Checked {
    let cwd = std::env::current_dir()?;
    let up = "../".repeat(cwd.components().count().saturating_sub(1));
    let path = format!("{up}bin/true");
    refused(cx, "a prestart hook's path is relative", |c| {
        c["hooks"] = json!({"prestart": [{"path": path}]})
    })
}

fn an_unknown_device_type_is_refused(cx: &mut Ctx) -> Checked {
    refused(cx, "a device's type is \"x\"", |c| {
        c["linux"]["devices"] =
            json!([{"path": "/dev/litmus", "type": "x", "major": 1, "minor": 3}])
    })
}

fn an_unknown_seccomp_flag_is_refused(cx: &mut Ctx) -> Checked {
    refused(cx, "a seccomp flag is unknown", |c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LITMUS_BOGUS"],
        })
    })
}

/// Extensibility: "Runtimes ... MUST NOT generate an error if they
/// encounter an unknown property. Instead they MUST ignore unknown
/// properties." Unknown keys at the top, in process and in linux.
fn unknown_properties_are_ignored(cx: &mut Ctx) -> Checked {
    let (bundle, id) = edited_bundle(cx, |c| {
        c["org.litmus.unknown"] = json!({"nested": [1, 2, 3]});
        c["process"]["litmusUnknown"] = json!(true);
        c["linux"]["litmusUnknown"] = json!("value");
    })?;
    cx.create_ok(&id, bundle)?;
    cx.start_to_exit(&id)?;
    expect(
        cx.program_ran(bundle),
        "the container to run despite unknown properties",
        "the program did not run",
    )
}
