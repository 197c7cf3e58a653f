//! linux.netDevices (runtime-spec 1.3): host network devices moved into
//! the container's network namespace, renamed if asked, with their
//! permanent global addresses, and set up. Done by `create` (in the
//! runtime's namespace, where the devices are) once the container's
//! namespace exists, before any hook runs.
//!
//! The runtime never moves a device back: when the namespace dies the
//! kernel returns physical devices to the initial namespace and destroys
//! virtual ones (config-linux.md, "Namespace Lifecycle").

use crate::fault::Fault;
use crate::rtnetlink::Netlink;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, LinuxNetDevice};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::AsRawFd;

type Devices = HashMap<String, LinuxNetDevice>;

/// The name a device gets in the container: its `name`, else the host's.
fn target_name<'a>(host: &'a str, device: &'a LinuxNetDevice) -> &'a str {
    device.name().as_deref().filter(|n| !n.is_empty()).unwrap_or(host)
}

/// A valid interface name (dev_valid_name in the kernel): 1-15 bytes, not
/// "." or "..", no '/', ':' or whitespace.
fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() || name.len() > 15 {
        return Err("an interface name has 1 to 15 bytes");
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        return Err("an interface name has no '/', ':' or whitespace and is not . or ..");
    }
    Ok(())
}

/// What can be checked before anything is created: the names, a network
/// namespace of the container's own to move into, and that each device
/// exists here (the spec: check that the move is possible).
pub fn check(devices: &Devices, namespaces: &[LinuxNamespace]) -> Result<()> {
    if devices.is_empty() {
        return Ok(());
    }
    if !namespaces.iter().any(|ns| ns.typ() == LinuxNamespaceType::Network) {
        bail!(
            "linux.netDevices: needs a network namespace (linux.namespaces lists none, so the \
             container shares the host's and there is nowhere to move a device to)"
        );
    }
    let mut targets = HashSet::new();
    for (name, device) in devices {
        check_name(name).map_err(|e| anyhow!("linux.netDevices: {name:?}: {e}"))?;
        let target = target_name(name, device);
        check_name(&target.replace("%d", "0"))
            .map_err(|e| anyhow!("linux.netDevices.{name}.name: {target:?}: {e}"))?;
        if !target.contains("%d") && !targets.insert(target.to_string()) {
            bail!("linux.netDevices.{name}.name: {target:?} is given to two devices");
        }
    }
    let links = Netlink::open()?.links()?;
    for name in devices.keys() {
        if !links.values().any(|l| l == name) {
            bail!("linux.netDevices: no network device {name:?} in the runtime's namespace");
        }
    }
    Ok(())
}

/// Moves every device into the network namespace of process `pid`.
pub fn move_into(devices: &Devices, pid: i32) -> Result<()> {
    if devices.is_empty() {
        return Ok(());
    }
    let namespace = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .context("linux.netDevices: opening the container's network namespace")?;
    let mut host = Netlink::open()?;
    let mut container = Netlink::in_namespace(&namespace)?;
    let mut present = container.links()?;
    // Every name conflict is found before the first device moves.
    for (name, device) in devices {
        let target = target_name(name, device);
        if !target.contains("%d") && present.values().any(|l| l == target) {
            bail!(
                "linux.netDevices.{name}.name: {target:?} already exists in the container's \
                 network namespace"
            );
        }
    }
    // In a fixed order, so that errors and %d numbering repeat.
    let ordered: BTreeMap<_, _> = devices.iter().collect();
    for (name, device) in ordered {
        let field = format!("linux.netDevices.{name}");
        let index =
            host.links()?.into_iter().find_map(|(i, l)| (&l == name).then_some(i)).ok_or_else(
                || anyhow!("{field}: no network device {name:?} in the runtime's namespace"),
            )?;
        let addresses = host.permanent_global_addresses(index)?;
        let target = target_name(name, device);
        host.move_link(index, namespace.as_raw_fd(), target)
            .with_context(|| format!("{field}: moving it into the container as {target:?}"))?;
        // Its index may change in the new namespace: the one link that
        // was not there before is it (nothing else runs there yet).
        let now = container.links()?;
        let moved = now.keys().find(|i| !present.contains_key(i)).copied().ok_or_else(|| {
            anyhow!("{field}: moved, but not found in the container's network namespace")
        })?;
        present = now;
        if !Fault::NetDeviceAddressesDropped.active() {
            for mut address in addresses {
                address.index = moved;
                container
                    .add_address(&address)
                    .with_context(|| format!("{field}: restoring its addresses"))?;
            }
        }
        container.set_up(moved).with_context(|| format!("{field}: setting it up"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernels_rules() {
        for good in ["eth0", "a", "container_eth0", "x%d"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "sixteen_bytes_xx"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn devices_need_a_network_namespace_and_distinct_names() {
        let devices: Devices = serde_json::from_str(r#"{"lo": {}}"#).unwrap();
        let e = check(&devices, &[]).unwrap_err().to_string();
        assert!(e.starts_with("linux.netDevices: needs a network namespace"), "{e}");
        let net: LinuxNamespace = serde_json::from_str(r#"{"type": "network"}"#).unwrap();
        let two: Devices =
            serde_json::from_str(r#"{"a": {"name": "x"}, "b": {"name": "x"}}"#).unwrap();
        let e = check(&two, &[net]).unwrap_err().to_string();
        assert!(e.contains(".name: \"x\" is given to two devices"), "{e}");
    }
}
