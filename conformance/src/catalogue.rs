//! The requirement catalogue: normative statements of the OCI runtime-spec
//! that apply to Linux runtimes, each with a stable ID.
//!
//! Texts are condensed from the spec; `anchor` links to the section that
//! states them. `since` is the spec version that introduced the statement,
//! so a runtime is never failed on a rule newer than the version it speaks.

use serde::Serialize;

/// How binding a requirement is; `--level` takes these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
    May,
    /// Beyond the spec's wording: known escapes a runtime must not allow.
    Security,
    /// Beyond the spec's wording: bad input, crashes and races.
    Robustness,
    /// Beyond the spec, which leaves the command line open: the runc
    /// command-line contract podman/conmon and containerd's shim rely on.
    /// Reported on its own; it fails the run only with `--level engine`
    /// (or `--strict`).
    Engine,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Security => "SECURITY",
            Level::Robustness => "ROBUSTNESS",
            Level::Engine => "ENGINE",
        })
    }
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Requirement {
    pub id: &'static str,
    pub level: Level,
    /// Spec file and anchor, e.g. "runtime.md#create".
    pub anchor: &'static str,
    pub since: &'static str,
    pub text: &'static str,
}

/// The spec version links point at.
pub const SPEC_VERSION: &str = "v1.3.0";

impl Requirement {
    pub fn link(&self) -> String {
        format!(
            "https://github.com/opencontainers/runtime-spec/blob/{SPEC_VERSION}/{}",
            self.anchor
        )
    }
}

/// Declares every requirement as a constant of [`req`] (so a case that
/// cites an unknown one does not compile, as runtime-tools' specerror
/// constants do) and lists them all in [`CATALOGUE`].
macro_rules! catalogue {
    ($($name:ident: $id:literal, $level:ident, $anchor:literal, $since:literal, $text:literal;)*) => {
        /// The requirements by name: `req::RUNTIME_CREATE_STATUS` is
        /// "runtime.create.status".
        pub mod req {
            use super::{Level, Requirement};
            $(
                pub const $name: Requirement = Requirement {
                    id: $id,
                    level: Level::$level,
                    anchor: $anchor,
                    since: $since,
                    text: $text,
                };
            )*
        }

        pub const CATALOGUE: &[Requirement] = &[$(req::$name),*];
    };
}

catalogue! {
// runtime.md: state
RUNTIME_STATE_ID_UNIQUE: "runtime.state.id-unique", Must, "runtime.md#state", "1.0.0", "The container ID MUST be unique across all containers on this host.";
RUNTIME_STATE_FIELDS: "runtime.state.fields", Must, "runtime.md#state", "1.0.0", "State MUST include ociVersion, id, status, pid (created/running) and bundle.";
RUNTIME_STATE_PID_HOST: "runtime.state.pid-host", Must, "runtime.md#state", "1.0.0", "pid is the ID of the container process as seen by the host.";
RUNTIME_STATE_BUNDLE_ABSOLUTE: "runtime.state.bundle-absolute", Must, "runtime.md#state", "1.0.0", "bundle is the absolute path to the container's bundle directory.";
RUNTIME_STATE_ANNOTATIONS: "runtime.state.annotations", Should, "runtime.md#state", "1.0.0", "annotations contains the list of annotations associated with the container.";
RUNTIME_STATE_STATUS_CREATED: "runtime.state.status-created", Must, "runtime.md#state", "1.0.0", "created: the container has been created but the user-specified program has not yet been executed.";
RUNTIME_STATE_STATUS_RUNNING: "runtime.state.status-running", Must, "runtime.md#state", "1.0.0", "running: the container process has executed the user-specified program but has not exited.";
RUNTIME_STATE_STATUS_STOPPED: "runtime.state.status-stopped", Must, "runtime.md#state", "1.0.0", "stopped: the container process has exited.";
// runtime.md: lifecycle
RUNTIME_LIFECYCLE_CREATE_ENV: "runtime.lifecycle.create-env", Must, "runtime.md#lifecycle", "1.0.0", "The container's runtime environment MUST be created according to the configuration in config.json.";
RUNTIME_LIFECYCLE_CREATE_ERROR: "runtime.lifecycle.create-error", Must, "runtime.md#lifecycle", "1.0.0", "If the runtime is unable to create the environment specified in config.json, it MUST generate an error.";
RUNTIME_LIFECYCLE_CONFIG_IMMUTABLE: "runtime.lifecycle.config-immutable", Must, "runtime.md#lifecycle", "1.0.0", "Any updates to config.json after create MUST NOT affect the container.";
RUNTIME_LIFECYCLE_DELETE_UNDO: "runtime.lifecycle.delete-undo", Must, "runtime.md#lifecycle", "1.0.0", "The container MUST be destroyed by undoing the steps performed during create.";
RUNTIME_ERRORS_NO_CHANGE: "runtime.errors.no-change", Must, "runtime.md#errors", "1.0.0", "Generating an error MUST leave the state of the environment as if the operation were never attempted.";
// Added with the trace of v1.3.0: statements the catalogue had no entry for.
RUNTIME_OPERATIONS_ID_REQUIRED: "runtime.operations.id-required", Must, "runtime.md#operations", "1.0.0", "state, start, kill and delete without a container ID MUST generate an error.";
RUNTIME_START_NO_PROCESS: "runtime.start.no-process", Must, "runtime.md#start", "1.1.0", "start MUST generate an error if process was not set.";
CONFIG_HOOKS_POSTSTART_FAILURE_ERROR: "config.hooks.poststart-failure-error", Must, "runtime.md#lifecycle", "1.3.0", "If any poststart hook fails, the runtime MUST generate an error, stop the container and continue at delete (before 1.3: a warning).";
CONFIG_MOUNTS_LINUX_OPTIONS: "config.mounts.linux-options", Must, "config.md#linux-mount-options", "1.0.0", "Each flag option of the Linux table (ro, nosuid, nodev, noexec, atime family, sync, dirsync, lazytime...) has its mount(8) meaning.";
CONFIG_MOUNTS_PROPAGATION: "config.mounts.propagation", Must, "config.md#linux-mount-options", "1.0.0", "private, shared, slave, unbindable and their r* forms set the mount's propagation.";
CONFIG_MOUNTS_NOSYMFOLLOW: "config.mounts.nosymfollow", Should, "config.md#linux-mount-options", "1.1.0", "nosymfollow (Linux 5.10) stops symlinks on the mount being followed; symfollow undoes it.";
CONFIG_MOUNTS_RECURSIVE_OPTIONS: "config.mounts.recursive-options", Should, "config.md#linux-mount-options", "1.1.0", "rro, rnosuid, rnodev, rnoexec, the ratime family and their opposites apply to the mount and every submount (mount_setattr AT_RECURSIVE).";
CONFIG_MOUNTS_IDMAP: "config.mounts.idmap", Should, "config.md#linux-mount-options", "1.2.0", "idmap/ridmap map the mount's ids by its uidMappings/gidMappings (else the container's user namespace, else an error) and are not passed to mount(2).";
CONFIG_PROCESS_CONSOLE_SIZE: "config.process.console-size", Must, "config.md#process", "1.0.0", "consoleSize MUST be ignored when terminal is false or unset.";
CONFIG_PROCESS_EXEC_CPU_AFFINITY: "config.process.exec-cpu-affinity", Should, "config.md#linux-process", "1.2.0", "execCPUAffinity sets the CPU affinity the process runs with; without it the affinity is not changed.";
LINUX_DEFAULT_FILESYSTEMS: "linux.default-filesystems", Should, "config-linux.md#default-filesystems", "1.0.0", "/proc, /sys, /dev/pts and /dev/shm SHOULD be available in the container.";
LINUX_NAMESPACES_USER_MAPPINGS_NO_CHOWN: "linux.namespaces.user-mappings-no-chown", Should, "config-linux.md#user-namespace-mappings", "1.0.0", "The runtime SHOULD NOT change the ownership of the container's files to realize the id mappings.";
LINUX_NET_DEVICES: "linux.net-devices", Must, "config-linux.md#network-devices", "1.3.0", "netDevices are moved into the container's network namespace (renamed if asked), keep their attributes and are up; a name in use is an error.";
LINUX_RESOURCES_PIDS_ZERO: "linux.resources.pids-zero", Should, "config-linux.md#pids", "1.0.0", "A pids limit of 0 is a valid limit and SHOULD be treated as such.";
LINUX_MEMORY_POLICY: "linux.memory-policy", Must, "config-linux.md#memory-policy", "1.3.0", "memoryPolicy sets the NUMA memory policy (mode, nodes, flags) of the container process.";
LINUX_SECCOMP_ERRNO_UNSUPPORTED: "linux.seccomp.errno-unsupported", Must, "config-linux.md#seccomp", "1.1.0", "errnoRet (or defaultErrnoRet) with an action that takes no errno MUST be an error.";
LINUX_SECCOMP_NOTIFY_UNREACHABLE: "linux.seccomp.notify-unreachable", Must, "config-linux.md#seccomp", "1.1.0", "If sending to the listenerPath socket fails, the runtime MUST generate an error.";
FEATURES_NULL_IS_UNKNOWN: "features.null-is-unknown", Must, "features.md#features-structure", "1.1.0", "In features, null (or absence) means unknown and is never written as an empty value.";
FEATURES_VERSIONS_ACCEPTED: "features.versions-accepted", Must, "features.md#specification-version", "1.1.0", "The runtime MUST accept ociVersionMin and ociVersionMax as the ociVersion of config.json.";
FEATURES_KNOWN_FIELDS: "features.known-fields", Must, "features.md#specification-version", "1.1.0", "features MUST NOT hold properties its spec version does not define.";
FEATURES_MOUNT_OPTIONS_NOT_DATA: "features.mount-options-not-data", Should, "features.md#mount-options", "1.1.0", "mountOptions SHOULD NOT list filesystem-specific options (those passed to mount(2) as data).";
FEATURES_HONEST: "features.honest", Must, "features.md#features-structure", "1.1.0", "Every hook, mount option, namespace, capability, seccomp item and memory policy features lists MUST be recognized by the runtime.";
// runtime.md: operations
RUNTIME_STATE_OP_MISSING: "runtime.state-op.missing", Must, "runtime.md#query-state", "1.0.0", "Attempting to query a container that does not exist MUST generate an error.";
RUNTIME_STATE_OP_RETURNS_STATE: "runtime.state-op.returns-state", Must, "runtime.md#query-state", "1.0.0", "The state operation MUST return the state of a container as specified in the State section.";
RUNTIME_CREATE_DUPLICATE_ID: "runtime.create.duplicate-id", Must, "runtime.md#create", "1.0.0", "If the ID is not unique, the runtime MUST generate an error and a new container MUST NOT be created.";
RUNTIME_CREATE_NO_USER_PROGRAM: "runtime.create.no-user-program", Must, "runtime.md#create", "1.0.0", "create MUST create all resources, but the user-specified program MUST NOT be run at this time.";
RUNTIME_CREATE_STATUS: "runtime.create.status", Must, "runtime.md#create", "1.0.0", "Upon successful completion of create, status MUST be created.";
RUNTIME_START_MISSING: "runtime.start.missing", Must, "runtime.md#start", "1.0.0", "Attempting to start a container that does not exist MUST generate an error.";
RUNTIME_START_NOT_CREATED: "runtime.start.not-created", Must, "runtime.md#start", "1.0.0", "Attempting to start a container that is not created MUST have no effect on the container and MUST generate an error.";
RUNTIME_START_RUNS_PROGRAM: "runtime.start.runs-program", Must, "runtime.md#start", "1.0.0", "start MUST run the user-specified program as specified by process.";
RUNTIME_KILL_NOT_RUNNING: "runtime.kill.not-running", Must, "runtime.md#kill", "1.0.0", "Attempting to send a signal to a container that is neither created nor running MUST have no effect on the container and MUST generate an error.";
RUNTIME_KILL_SENDS_SIGNAL: "runtime.kill.sends-signal", Must, "runtime.md#kill", "1.0.0", "kill MUST send the specified signal to the container process.";
RUNTIME_DELETE_MISSING: "runtime.delete.missing", Must, "runtime.md#delete", "1.0.0", "Attempting to delete a container that does not exist MUST generate an error.";
RUNTIME_DELETE_NOT_STOPPED: "runtime.delete.not-stopped", Must, "runtime.md#delete", "1.0.0", "Attempting to delete a container that is not stopped MUST have no effect on the container and MUST generate an error.";
RUNTIME_DELETE_RESOURCES: "runtime.delete.resources", Must, "runtime.md#delete", "1.0.0", "Deleting a container MUST delete the resources that were created during create.";
RUNTIME_DELETE_FOREIGN_RESOURCES: "runtime.delete.foreign-resources", Must, "runtime.md#delete", "1.0.0", "Resources associated with the container but not created by it MUST NOT be deleted.";
RUNTIME_CREATE_ARGS_REQUIRED: "runtime.create.args-required", Must, "runtime.md#create", "1.0.0", "create MUST generate an error if it is not given the bundle path and the container ID.";
RUNTIME_CREATE_ERROR_NO_CONTAINER: "runtime.create.error-no-container", Must, "runtime.md#create", "1.0.0", "If the runtime cannot create the container as specified, a new container MUST NOT be created.";
RUNTIME_STATE_STATUS_CREATING: "runtime.state.status-creating", Must, "runtime.md#state", "1.0.0", "creating: the container is being created (status value while create runs).";
FEATURES_REQUIRED_FIELDS: "features.required-fields", Must, "features.md#features-structure", "1.1.0", "features MUST give ociVersionMin and ociVersionMax (SemVer), ociVersionMin <= ociVersionMax.";
// config.md
CONFIG_ROOT_PATH: "config.root.path", Must, "config.md#root", "1.0.0", "root.path is the container's root filesystem.";
CONFIG_ROOT_READONLY: "config.root.readonly", Must, "config.md#root", "1.0.0", "If root.readonly is true the root filesystem MUST be read-only inside the container.";
CONFIG_MOUNTS_ORDER: "config.mounts.order", Must, "config.md#mounts", "1.0.0", "The runtime MUST mount entries in the listed order.";
CONFIG_MOUNTS_OPTIONS: "config.mounts.options", Must, "config.md#mounts", "1.0.0", "Mount options are applied as mount(8) understands them.";
CONFIG_MOUNTS_BIND: "config.mounts.bind", Must, "config.md#mounts", "1.0.0", "A bind mount makes the source visible at the destination with the given options.";
CONFIG_MOUNTS_DESTINATION_CREATED: "config.mounts.destination-created", Should, "config.md#mounts", "1.0.0", "A missing mount destination inside the rootfs is created.";
CONFIG_PROCESS_ARGS: "config.process.args", Must, "config.md#process", "1.0.0", "args is the argv of the program run, with execvp semantics for the first entry.";
CONFIG_PROCESS_ENV: "config.process.env", Must, "config.md#process", "1.0.0", "env is the environment of the process.";
CONFIG_PROCESS_CWD: "config.process.cwd", Must, "config.md#process", "1.0.0", "cwd is the working directory that will be set for the executable.";
CONFIG_PROCESS_TERMINAL: "config.process.terminal", Must, "config.md#process", "1.0.0", "terminal: true allocates a pseudoterminal pair for the process and duplicates the pty on its standard streams.";
CONFIG_PROCESS_USER: "config.process.user", Must, "config.md#user", "1.0.0", "user.uid, user.gid and user.additionalGids are the ids of the process.";
CONFIG_PROCESS_UMASK: "config.process.umask", Must, "config.md#user", "1.1.0", "user.umask is the umask of the user.";
CONFIG_PROCESS_CAPABILITIES: "config.process.capabilities", Must, "config.md#linux-process", "1.0.0", "capabilities sets the five capability sets of the process.";
CONFIG_PROCESS_NO_NEW_PRIVILEGES: "config.process.no-new-privileges", Must, "config.md#linux-process", "1.0.0", "noNewPrivileges set to true prevents the process from gaining additional privileges.";
CONFIG_PROCESS_RLIMITS: "config.process.rlimits", Must, "config.md#posix-process", "1.0.0", "For each rlimit, getrlimit(type) MUST succeed and rlim_cur/rlim_max MUST match soft/hard.";
CONFIG_PROCESS_RLIMITS_INVALID: "config.process.rlimits-invalid", Must, "config.md#posix-process", "1.0.0", "The runtime MUST generate an error for any rlimit values which cannot be mapped to a kernel interface.";
CONFIG_PROCESS_OOM_SCORE_ADJ: "config.process.oom-score-adj", Must, "config.md#linux-process", "1.0.0", "If oomScoreAdj is set, the runtime MUST set oom_score_adj to the given value.";
CONFIG_PROCESS_OOM_SCORE_ADJ_UNSET: "config.process.oom-score-adj-unset", Must, "config.md#linux-process", "1.0.0", "If oomScoreAdj is not set, the runtime MUST NOT change the value of oom_score_adj.";
CONFIG_HOSTNAME: "config.hostname", Must, "config.md#hostname", "1.0.0", "hostname specifies the container's hostname as seen by processes inside the container.";
CONFIG_DOMAINNAME: "config.domainname", Must, "config.md#domainname", "1.2.0", "domainname specifies the container's domainname as seen by processes inside the container.";
CONFIG_HOOKS_PRESTART: "config.hooks.prestart", Must, "config.md#prestart", "1.0.0", "prestart hooks MUST be called as part of create, after the environment is created and before pivot_root.";
CONFIG_HOOKS_CREATE_RUNTIME: "config.hooks.create-runtime", Must, "config.md#createruntime-hooks", "1.0.2", "createRuntime hooks MUST be called during create, after the environment is created, before pivot_root.";
CONFIG_HOOKS_CREATE_CONTAINER: "config.hooks.create-container", Must, "config.md#createcontainer-hooks", "1.0.2", "createContainer hooks MUST be called after createRuntime hooks, before pivot_root, in the container namespace.";
CONFIG_HOOKS_START_CONTAINER: "config.hooks.start-container", Must, "config.md#startcontainer-hooks", "1.0.2", "startContainer hooks MUST be called before the user-specified program is executed, in the container namespace.";
CONFIG_HOOKS_POSTSTART: "config.hooks.poststart", Must, "config.md#poststart", "1.0.0", "poststart hooks MUST be called after the user-specified process is executed but before start returns.";
CONFIG_HOOKS_POSTSTOP: "config.hooks.poststop", Must, "config.md#poststop", "1.0.0", "poststop hooks MUST be called after the container is deleted but before delete returns.";
CONFIG_HOOKS_STATE_STDIN: "config.hooks.state-stdin", Must, "config.md#posix-platform-hooks", "1.0.0", "Hooks MUST be passed the state of the container over stdin.";
CONFIG_HOOKS_ORDER: "config.hooks.order", Must, "config.md#posix-platform-hooks", "1.0.0", "Hooks of one kind MUST be executed in the order listed.";
CONFIG_HOOKS_PRESTART_FAILURE: "config.hooks.prestart-failure", Must, "config.md#prestart", "1.0.0", "If any prestart hook fails, the runtime MUST generate an error and stop the container.";
CONFIG_HOOKS_POSTSTOP_FAILURE: "config.hooks.poststop-failure", Must, "config.md#poststop", "1.0.0", "If any poststop hook fails, the runtime MUST log a warning, and the lifecycle continues.";
CONFIG_ANNOTATIONS: "config.annotations", Should, "config.md#annotations", "1.0.0", "annotations are arbitrary metadata kept with the container.";
CONFIG_OCI_VERSION: "config.oci-version", Must, "config.md#specification-version", "1.0.0", "ociVersion MUST be in SemVer v2.0.0 format and specifies the version of the spec the bundle complies with.";
CONFIG_ROOT_PATH_EXISTS: "config.root.path-exists", Must, "config.md#root", "1.0.0", "A directory MUST exist at the path declared by root.path.";
CONFIG_MOUNTS_DESTINATION_ABSOLUTE: "config.mounts.destination-absolute", Must, "config.md#mounts", "1.1.0", "A mount's destination MUST be an absolute path (relative paths are relative to / since 1.1).";
CONFIG_PROCESS_ARGS_REQUIRED: "config.process.args-required", Must, "config.md#process", "1.0.0", "process.args: at least one entry is REQUIRED.";
CONFIG_PROCESS_CWD_ABSOLUTE: "config.process.cwd-absolute", Must, "config.md#process", "1.0.0", "process.cwd MUST be an absolute path.";
CONFIG_PROCESS_RLIMITS_DUPLICATE: "config.process.rlimits-duplicate", Must, "config.md#posix-process", "1.0.0", "If rlimits contains duplicated entries with the same type, the runtime MUST generate an error.";
CONFIG_PROCESS_IO_PRIORITY: "config.process.io-priority", Must, "config.md#linux-process", "1.2.0", "ioPriority sets the I/O priority (class IOPRIO_CLASS_RT/BE/IDLE and priority) of the process.";
CONFIG_PROCESS_SCHEDULER: "config.process.scheduler", Must, "config.md#linux-process", "1.2.0", "scheduler sets the scheduling policy and attributes of the process (sched_setattr).";
CONFIG_PROCESS_APPARMOR: "config.process.apparmor", Must, "config.md#linux-process", "1.0.0", "apparmorProfile is the AppArmor profile of the process (on hosts with AppArmor).";
CONFIG_PROCESS_SELINUX: "config.process.selinux", Must, "config.md#linux-process", "1.0.0", "selinuxLabel is the SELinux label of the process (on hosts with SELinux).";
CONFIG_HOOKS_PATH_ABSOLUTE: "config.hooks.path-absolute", Must, "config.md#posix-platform-hooks", "1.0.0", "A hook's path MUST be absolute.";
CONFIG_HOOKS_TIMEOUT: "config.hooks.timeout", Must, "config.md#posix-platform-hooks", "1.0.0", "timeout is the number of seconds before aborting the hook; it MUST be greater than zero.";
CONFIG_HOOKS_CREATE_RUNTIME_FAILURE: "config.hooks.create-runtime-failure", Must, "config.md#createruntime-hooks", "1.0.2", "If any createRuntime hook fails, the runtime MUST generate an error and stop the container.";
CONFIG_HOOKS_CREATE_CONTAINER_FAILURE: "config.hooks.create-container-failure", Must, "config.md#createcontainer-hooks", "1.0.2", "If any createContainer hook fails, the runtime MUST generate an error and stop the container.";
CONFIG_HOOKS_START_CONTAINER_FAILURE: "config.hooks.start-container-failure", Must, "config.md#startcontainer-hooks", "1.0.2", "If any startContainer hook fails, the runtime MUST generate an error and stop the container.";
CONFIG_HOOKS_POSTSTART_FAILURE: "config.hooks.poststart-failure", Must, "config.md#poststart", "1.0.0", "If any poststart hook fails, the runtime MUST log a warning, but the remaining hooks and lifecycle continue.";
CONFIG_EXTENSIBILITY: "config.extensibility", Must, "config.md#extensibility", "1.0.0", "Runtimes MUST NOT generate an error on an unknown property; they MUST ignore unknown properties.";
CONFIG_VALID_VALUES: "config.valid-values", Must, "config.md#valid-values", "1.0.0", "Runtimes MUST generate an error when invalid or unsupported values are encountered.";
CONFIG_ANNOTATIONS_KEYS: "config.annotations.keys", Must, "config.md#annotations", "1.0.0", "Annotation keys MUST be unique within this map; values MUST be strings.";
// config-linux.md
LINUX_NAMESPACES_CREATE: "linux.namespaces.create", Must, "config-linux.md#namespaces", "1.0.0", "If a namespace has no path, the runtime MUST create a new container namespace of that type.";
LINUX_NAMESPACES_JOIN: "linux.namespaces.join", Must, "config-linux.md#namespaces", "1.0.0", "If a path is given, the runtime MUST place the container process in that namespace.";
LINUX_NAMESPACES_WRONG_TYPE: "linux.namespaces.wrong-type", Must, "config-linux.md#namespaces", "1.0.0", "If path is not a namespace of the given type, the runtime MUST generate an error.";
LINUX_NAMESPACES_INHERIT: "linux.namespaces.inherit", Must, "config-linux.md#namespaces", "1.0.0", "If a namespace type is not listed, the container MUST inherit the runtime's namespace of that type.";
LINUX_NAMESPACES_DUPLICATE: "linux.namespaces.duplicate", Must, "config-linux.md#namespaces", "1.0.0", "If a namespace type is listed more than once, the runtime MUST generate an error.";
LINUX_DEVICES_CREATE: "linux.devices.create", Must, "config-linux.md#devices", "1.0.0", "Devices listed in linux.devices MUST be available in the container with the given type, numbers, mode and owner.";
LINUX_DEVICES_EXISTING_MISMATCH: "linux.devices.existing-mismatch", Must, "config-linux.md#devices", "1.0.0", "If a file already exists at path that does not match the requested device, the runtime MUST generate an error.";
LINUX_DEVICES_DEFAULTS: "linux.devices.defaults", Must, "config-linux.md#default-devices", "1.0.0", "The runtime MUST supply /dev/null, zero, full, random, urandom, tty and /dev/ptmx.";
LINUX_DEVICES_CONSOLE: "linux.devices.console", Must, "config-linux.md#default-devices", "1.0.0", "If terminal is enabled, /dev/console MUST be set up by bind mounting the pseudoterminal pty to /dev/console.";
LINUX_SYSCTL: "linux.sysctl", Must, "config-linux.md#sysctl", "1.0.0", "sysctl parameters are set in the container's namespaces.";
LINUX_MASKED_PATHS: "linux.masked-paths", Must, "config-linux.md#masked-paths", "1.0.0", "maskedPaths are masked so that they cannot be read.";
LINUX_READONLY_PATHS: "linux.readonly-paths", Must, "config-linux.md#readonly-paths", "1.0.0", "readonlyPaths are made read-only inside the container.";
LINUX_ROOTFS_PROPAGATION: "linux.rootfs-propagation", Must, "config-linux.md#rootfs-mount-propagation", "1.0.0", "rootfsPropagation sets the rootfs's mount propagation.";
LINUX_CGROUPS_PATH: "linux.cgroups.path", Must, "config-linux.md#cgroups-path", "1.0.0", "Given the same cgroupsPath, the runtime MUST consistently attach to the same place in the cgroup hierarchy.";
LINUX_RESOURCES_MEMORY: "linux.resources.memory", Must, "config-linux.md#memory", "1.0.0", "memory.limit sets the limit of memory usage of the container's cgroup.";
LINUX_RESOURCES_PIDS: "linux.resources.pids", Must, "config-linux.md#pids", "1.0.0", "pids.limit sets the maximum number of tasks in the cgroup.";
LINUX_NAMESPACES_USER_MAPPINGS: "linux.namespaces.user-mappings", Must, "config-linux.md#user-namespace-mappings", "1.0.0", "With a new user namespace, uidMappings and gidMappings MUST be written as the container's id mappings.";
LINUX_NAMESPACES_TIME_OFFSETS: "linux.namespaces.time-offsets", Must, "config-linux.md#offset-for-time-namespace", "1.1.0", "timeOffsets set the monotonic and boottime offsets of a new time namespace.";
LINUX_DEVICES_TYPE: "linux.devices.type", Must, "config-linux.md#devices", "1.0.0", "A device's type MUST be c, b, u or p, and major/minor are REQUIRED unless type is p.";
LINUX_RESOURCES_DEVICES: "linux.resources.devices", Must, "config-linux.md#allowed-device-list", "1.0.0", "resources.devices is the allow/deny list of the device cgroup, applied in order.";
LINUX_RESOURCES_CPU: "linux.resources.cpu", Must, "config-linux.md#cpu", "1.0.0", "cpu.shares, quota/period, cpus and mems are applied to the container's cgroup.";
LINUX_RESOURCES_BLOCK_IO: "linux.resources.block-io", Must, "config-linux.md#block-io", "1.0.0", "blockIO weights and throttles are applied to the container's cgroup.";
LINUX_RESOURCES_HUGEPAGE_LIMITS: "linux.resources.hugepage-limits", Must, "config-linux.md#huge-page-limits", "1.0.0", "hugepageLimits set the HugeTLB usage limit per page size.";
LINUX_RESOURCES_NETWORK: "linux.resources.network", Must, "config-linux.md#network", "1.0.0", "network.classID and priorities are applied to the container's cgroup.";
LINUX_RESOURCES_RDMA: "linux.resources.rdma", Must, "config-linux.md#rdma", "1.0.2", "rdma limits are applied to the container's cgroup.";
LINUX_RESOURCES_UNIFIED: "linux.resources.unified", Must, "config-linux.md#unified", "1.0.2", "unified keys are written to cgroup v2 files; the runtime MUST generate an error on a v1 host or for a key it cannot write.";
LINUX_RESOURCES_MEMORY_CHECK_BEFORE_UPDATE: "linux.resources.memory-check-before-update", Must, "config-linux.md#memory", "1.1.0", "With memory.checkBeforeUpdate, update refuses a limit below the container's current usage (cgroup v1's kernel refuses it too; under v2 only the runtime's check stops an OOM kill).";
LINUX_RESOURCES_UPDATE: "linux.resources.update", Must, "config-linux.md#control-groups", "1.0.0", "The runtime MUST apply resource changes made through update to the running container's cgroup.";
LINUX_SECCOMP_ARCHITECTURES: "linux.seccomp.architectures", Must, "config-linux.md#seccomp", "1.0.0", "architectures lists the architectures the filter also applies to.";
LINUX_SECCOMP_FLAGS: "linux.seccomp.flags", Must, "config-linux.md#seccomp", "1.0.2", "flags are passed to seccomp(2); an unsupported flag MUST cause an error.";
LINUX_PERSONALITY: "linux.personality", Must, "config-linux.md#personality", "1.0.2", "personality sets the execution domain (LINUX or LINUX32) and flags of the process.";
LINUX_INTEL_RDT: "linux.intel-rdt", Must, "config-linux.md#intelrdt", "1.0.0", "intelRdt places the container in a resctrl group with the given schemata (hosts with Intel RDT).";
LINUX_MOUNT_LABEL: "linux.mount-label", Must, "config-linux.md#mount-label", "1.0.0", "mountLabel is the SELinux context of the container's mounts (hosts with SELinux).";
LINUX_SECCOMP_SYSCALLS: "linux.seccomp.syscalls", Must, "config-linux.md#seccomp", "1.0.0", "A syscall matching a rule's names (and args) gets that rule's action.";
LINUX_SECCOMP_DEFAULT_ACTION: "linux.seccomp.default-action", Must, "config-linux.md#seccomp", "1.0.0", "defaultAction applies to syscalls that match no rule.";
LINUX_SECCOMP_ERRNO_RET: "linux.seccomp.errno-ret", Must, "config-linux.md#seccomp", "1.0.2", "errnoRet is the errno a matching SCMP_ACT_ERRNO rule returns.";
LINUX_SECCOMP_ERRNO_DEFAULT: "linux.seccomp.errno-default", Must, "config-linux.md#seccomp", "1.0.2", "Without errnoRet, SCMP_ACT_ERRNO returns EPERM.";
LINUX_SECCOMP_DEFAULT_ERRNO_RET: "linux.seccomp.default-errno-ret", Must, "config-linux.md#seccomp", "1.1.0", "defaultErrnoRet is the errno the default SCMP_ACT_ERRNO action returns.";
LINUX_SECCOMP_ARGS: "linux.seccomp.args", Must, "config-linux.md#seccomp", "1.0.0", "A rule with args matches only when every argument condition (op, value, valueTwo) holds.";
LINUX_SECCOMP_NOTIFY: "linux.seccomp.notify", Must, "config-linux.md#seccomp", "1.1.0", "With SCMP_ACT_NOTIFY, the runtime sends the seccomp listener fd and the container process state to the agent at listenerPath.";
// Robustness: what runtime.md's error rules mean under bad input,
// crashes and races. Reported apart from MUST/SHOULD.
ROBUSTNESS_BAD_CONFIG: "robustness.bad-config", Robustness, "runtime.md#errors", "1.0.0", "A config with a wrong type, unknown value or broken rule is refused with a non-zero exit and a message naming the field, leaving nothing behind.";
ROBUSTNESS_CONCURRENT_CREATE: "robustness.concurrent-create", Robustness, "runtime.md#create", "1.0.0", "Of many concurrent creates of one ID, exactly one succeeds and the others fail cleanly.";
ROBUSTNESS_KILLED_CREATE: "robustness.killed-create", Robustness, "runtime.md#errors", "1.0.0", "When the runtime is killed during create, delete --force leaves no process, state or cgroup behind.";
ROBUSTNESS_DELETE_RACES_KILL: "robustness.delete-races-kill", Robustness, "runtime.md#delete", "1.0.0", "delete --force racing kill leaves nothing behind.";
ROBUSTNESS_EXIT_DURING_START: "robustness.exit-during-start", Robustness, "runtime.md#start", "1.0.0", "A process that exits at once still ends stopped and can be deleted.";
// Security: known escapes, replayed as attacks. Reported apart.
SECURITY_CVE_2019_5736: "security.cve-2019-5736", Security, "runtime.md#exec", "1.0.0", "A process in the container cannot get a handle on the runtime's binary through /proc/PID/exe (CVE-2019-5736, CVE-2016-9962).";
SECURITY_CVE_2016_9962: "security.cve-2016-9962", Security, "runtime.md#create", "1.0.0", "Until it execs the user's program, the runtime's process in the container (the created container's init) cannot be ptraced nor have its fd links followed by the container's processes (CVE-2016-9962's class).";
SECURITY_CVE_2024_21626: "security.cve-2024-21626", Security, "config.md#process", "1.0.0", "process.cwd cannot take the process outside the container through a leaked fd (/proc/self/fd/N) (CVE-2024-21626).";
SECURITY_CVE_2022_29162: "security.cve-2022-29162", Security, "config.md#linux-process", "1.0.0", "Inheritable capabilities are empty unless the config lists some (CVE-2022-29162).";
SECURITY_CVE_2021_30465: "security.cve-2021-30465", Security, "config.md#mounts", "1.0.0", "A mount destination swapped for a symlink while the runtime mounts cannot put the mount outside the rootfs (CVE-2021-30465).";
SECURITY_CVE_2025_52565: "security.cve-2025-52565", Security, "config.md#process", "1.0.0", "The console is bind-mounted on /dev/console itself, never through a symlink the image put there (CVE-2025-52565).";
SECURITY_CVE_2025_52881: "security.cve-2025-52881", Security, "config-linux.md#sysctl", "1.0.0", "Writes to procfs (sysctls) reach the kernel, not a file a config mount put over the procfs path (CVE-2025-52881).";
SECURITY_CVE_2025_31133: "security.cve-2025-31133", Security, "config-linux.md#masked-paths", "1.0.0", "maskedPaths are covered by the real /dev/null even if the image's /dev/null is a symlink (CVE-2025-31133).";
SECURITY_ROOTLESS_NO_HOST_PRIVILEGE: "security.rootless-no-host-privilege", Security, "config-linux.md#user-namespace-mappings", "1.0.0", "Run by an unprivileged user, the container's processes gain no host privilege: they are in a user namespace of their own with none of their host ids 0, cannot write host-owned files bound into the container, and a setuid binary whose owner is not mapped does not raise their ids.";
SECURITY_PRESERVED_FDS: "security.preserved-fds", Security, "runtime-linux.md#file-descriptors", "1.0.0", "With --preserve-fds N (create, run, exec) the process gets exactly the caller's fds 3..3+N-1, or the runtime refuses; no descriptor of the runtime's own (state directory, sync sockets) reaches a container process by any path (CVE-2024-21626 class).";
SECURITY_CVE_2019_16884: "security.cve-2019-16884", Security, "config.md#mounts", "1.0.0", "procfs and sysfs are mounted only on real directories: an image whose /proc or /sys is a symlink is refused or its symlink not followed (CVE-2019-16884, CVE-2019-19921).";
// The runc command line as engines drive it (shared facts: the calls
// podman/conmon 4.3 and containerd 1.6's shim make). The spec leaves
// the CLI open, so these anchor at its operations section.
ENGINE_PID_FILE: "engine.pid-file", Engine, "runtime.md#operations", "1.0.0", "create --pid-file and exec --detach --pid-file write the host pid as bare decimal digits (no newline: the shim parses it with strconv.Atoi), once the process exists.";
ENGINE_REPARENT: "engine.reparent", Engine, "runtime.md#operations", "1.0.0", "After create or exec --detach returns, the container's process is a descendant of the caller (reparented to the engine, a child subreaper), so the engine can wait for it and compute its exit status.";
ENGINE_LOG_JSON: "engine.log-json", Engine, "runtime.md#operations", "1.0.0", "With --log FILE --log-format json, a failed operation exits non-zero, writes JSON records to FILE whose last level=error record's msg says why, and says it on stderr too; a missing executable's message matches what podman maps to exit 127.";
ENGINE_GLOBAL_FLAGS: "engine.global-flags", Engine, "runtime.md#operations", "1.0.0", "Global flags come before the subcommand in both --flag=value and --flag value forms; --root may name a directory that does not exist yet.";
ENGINE_ENVIRONMENT: "engine.environment", Engine, "runtime.md#operations", "1.0.0", "create, start, kill and delete work with an empty environment (podman calls kill and delete without PATH).";
ENGINE_DELETE_FORCE: "engine.delete-force", Engine, "runtime.md#operations", "1.0.0", "delete --force removes a container in every state (created, running, paused, stopped) with exit 0, leaving no process.";
ENGINE_KILL_NUMERIC: "engine.kill-numeric", Engine, "runtime.md#operations", "1.0.0", "kill ID N takes a numeric signal, and kill --all signals every process of the container.";
ENGINE_PS_JSON: "engine.ps-json", Engine, "runtime.md#operations", "1.0.0", "ps --format json ID prints a JSON array of the container's host pids (containerd's task ps).";
ENGINE_CONSOLE_SOCKET: "engine.console-socket", Engine, "runtime.md#operations", "1.0.0", "--console-socket receives the pty master as exactly one SCM_RIGHTS fd in one control message, with a data payload under 4096 bytes (go-runc's receiver rejects anything else).";
ENGINE_KILL_THEN_DELETE: "engine.kill-then-delete", Engine, "runtime.md#operations", "1.0.0", "A created container killed with SIGKILL can be deleted as soon as kill returns, without the caller reaping or polling first.";
ENGINE_SECCOMP_AGENT_ON_CREATE: "engine.seccomp-agent-on-create", Engine, "config-linux.md#seccomp", "1.0.0", "With SCMP_ACT_NOTIFY, the agent at listenerPath receives the listener during create, before start (runc does; an agent may wait for it before calling start).";
ENGINE_EXEC_DEFAULTS: "engine.exec-defaults", Engine, "runtime.md#operations", "1.0.0", "exec ID CMD without --process runs CMD as the config's process with its args replaced: process.env, cwd and user kept, each --env added (runc's exec command line; scripts and people call it so, engines pass --process).";
ENGINE_HOOK_ENV: "engine.hook-env", Engine, "config.md#posix-platform-hooks", "1.0.0", "A startContainer hook without env runs with the container process's environment (process.env), as runc and crun run it.";
// runtime-linux.md
RUNTIME_LINUX_FDS: "runtime-linux.fds", Should, "runtime-linux.md#file-descriptors", "1.0.0", "By default only stdin, stdout and stderr are kept open for the application.";
RUNTIME_LINUX_DEV_SYMLINKS: "runtime-linux.dev-symlinks", Must, "runtime-linux.md#dev-symbolic-links", "1.0.0", "Runtimes MUST create /dev/fd, /dev/stdin, /dev/stdout and /dev/stderr symlinks to /proc/self/fd.";}

pub fn find(id: &str) -> Option<&'static Requirement> {
    CATALOGUE.iter().find(|r| r.id == id)
}

/// A SemVer version's release (major, minor, patch), "v" prefix allowed.
pub fn release(version: &str) -> Option<(u64, u64, u64)> {
    let v = semver::Version::parse(version.trim_start_matches('v')).ok()?;
    Some((v.major, v.minor, v.patch))
}

/// Requirements a later spec release replaced: (ID, the release that
/// replaced it, its replacement). A runtime speaking that release or a later
/// one is judged by the replacement only.
pub const SUPERSEDED: &[(&str, &str, &str)] =
    &[("config.hooks.poststart-failure", "1.3.0", "config.hooks.poststart-failure-error")];

/// The release that replaced `id`, and the replacement, if one did.
pub fn superseded(id: &str) -> Option<(&'static str, &'static str)> {
    SUPERSEDED.iter().find(|(old, _, _)| *old == id).map(|(_, release, new)| (*release, *new))
}

/// Compares versions by release ("1.0.2" < "1.2.0"): a runtime that says
/// "1.0.2-dev" (as runc 1.1 does) speaks 1.0.2, so its pre-release is
/// ignored. Something that is not a version counts as 0.0.0.
pub fn version_le(a: &str, b: &str) -> bool {
    release(a).unwrap_or_default() <= release(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn superseded_requirements_and_their_replacements_are_in_the_catalogue() {
        for (old, release, new) in SUPERSEDED {
            let [old, new] = [old, new].map(|id| CATALOGUE.iter().find(|r| r.id == *id));
            let (old, new) = (old.expect("old in catalogue"), new.expect("new in catalogue"));
            assert!(version_le(old.since, release) && new.since == *release, "{old:?} {new:?}");
        }
        assert_eq!(superseded("config.hooks.poststart-failure").map(|s| s.0), Some("1.3.0"));
        assert_eq!(superseded("config.hooks.poststop-failure"), None);
    }

    #[test]
    fn ids_are_unique_and_anchored_in_spec_files() {
        let mut seen = HashSet::new();
        for r in CATALOGUE {
            assert!(seen.insert(r.id), "duplicate requirement {}", r.id);
            let file = r.anchor.split('#').next().unwrap();
            assert!(file.ends_with(".md"), "{} anchors at {}", r.id, r.anchor);
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_le("1.0.2", "1.2.0"));
        assert!(version_le("1.2.0", "1.2.0"));
        assert!(!version_le("1.10.0", "1.2.0"));
        assert!(version_le("1.0.2-dev", "1.0.2"));
    }
}
