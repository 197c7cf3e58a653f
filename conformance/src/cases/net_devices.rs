//! config-linux.md "Network Devices" (runtime-spec 1.3): host devices
//! moved into the container's network namespace. The runtime runs in a
//! scratch network namespace of the suite's (its "host"), holding one end
//! of a veth pair made for the case; the other end stays behind, so the
//! pair's fate after delete shows whether the device was moved back.

use crate::case::{expect, expect_eq, fail, Checked, Verdict};
use crate::ctx::Ctx;
use crate::scratch_net::ScratchNet;
use oci_spec::runtime::{LinuxNetDevice, Spec};
use std::collections::HashMap;
use std::time::Duration;

crate::cases! {
    Namespaces: {
        net_devices_arrive_renamed_up_and_with_their_addresses => [LINUX_NET_DEVICES],
        net_device_name_template_takes_a_free_number => [LINUX_NET_DEVICES],
        impossible_net_device_moves_are_refused_before_any_move => [LINUX_NET_DEVICES],
    }
}

/// The device the runtime gets, its peer that stays, and their settings.
const DEVICE: &str = "ltdev0";
const PEER: &str = "ltpeer0";
const MTU: u32 = 1400;
const V4: &str = "10.231.7.9/24";
const V6: &str = "fd00:231::9/64";

/// A scratch namespace with the veth pair, the runtime set to run in it.
fn scratch_with_device(cx: &mut Ctx) -> Result<ScratchNet, Verdict> {
    let skip = |e: anyhow::Error| {
        Verdict::Skip(format!("this host cannot give the case a network device to move: {e:#}"))
    };
    let mut net = ScratchNet::new().map_err(skip)?;
    net.add_veth(DEVICE, PEER, MTU).map_err(skip)?;
    for cidr in [V4, V6] {
        let (ip, prefix) = cidr.split_once('/').expect("constant");
        net.add_address(DEVICE, ip.parse().expect("constant"), prefix.parse().expect("constant"))
            .map_err(skip)?;
    }
    cx.runtime.net_namespace = Some(net.namespace.clone());
    Ok(net)
}

/// Host device → name in the container (None: keep the host's).
type Devices<'a> = &'a [(&'a str, Option<&'a str>)];

fn with_net_devices(spec: &mut Spec, devices: Devices) {
    let devices: HashMap<String, LinuxNetDevice> = devices
        .iter()
        .map(|(host, name)| {
            let mut device = LinuxNetDevice::default();
            device.set_name(name.map(String::from));
            (host.to_string(), device)
        })
        .collect();
    spec.linux_mut().as_mut().expect("fixture linux").set_net_devices(Some(devices));
}

/// `ltdev0` → `ctr-eth0`: inside, the device has the new name (and the
/// old one is gone), is up, keeps its MTU and its permanent global IPv4
/// and IPv6 addresses. After delete, neither end of the pair is back in
/// the runtime's namespace: the runtime left the device to the kernel,
/// which destroys a virtual device with its namespace (the spec forbids
/// moving it out first).
fn net_devices_arrive_renamed_up_and_with_their_addresses(cx: &mut Ctx) -> Checked {
    let mut net = scratch_with_device(cx)?;
    let mut spec = cx.spec(&["report"]);
    with_net_devices(&mut spec, &[(DEVICE, Some("ctr-eth0"))]);
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    let seen: Vec<&str> = report.interfaces.iter().map(|i| i.name.as_str()).collect();
    let device = report.interface("ctr-eth0").ok_or_else(|| {
        fail("ctr-eth0 (ltdev0 renamed) in the container", format!("interfaces: {seen:?}"))
    })?;
    expect(report.interface(DEVICE).is_none(), "no ltdev0 in the container", format!("{seen:?}"))?;
    expect(device.up, "ctr-eth0 up", "it is down")?;
    expect_eq("ctr-eth0's MTU", Some(MTU), device.mtu)?;
    for cidr in [V4, V6] {
        expect(
            device.addresses.iter().any(|a| a == cidr),
            format!("ctr-eth0 to keep its permanent address {cidr}"),
            format!("its addresses: {:?}", device.addresses),
        )?;
    }
    // The container is deleted; its namespace goes once the kernel's
    // asynchronous cleanup runs, and the veth pair with it.
    let left = crate::deadline::poll(Duration::from_secs(10), Duration::from_millis(50), || {
        let links = net.links().ok()?;
        let back = links.iter().find(|l| *l == DEVICE || *l == "ctr-eth0");
        match back {
            Some(name) => Some(Err(name.clone())),
            None if !links.iter().any(|l| l == PEER) => Some(Ok(())),
            None => None,
        }
    });
    match left {
        Ok(Ok(())) => Ok(()),
        Ok(Err(name)) => Err(fail(
            "the device left in the container's namespace until it died",
            format!("{name} is back in the runtime's network namespace after delete"),
        )),
        Err(expired) => Err(fail(
            "the veth pair gone with the container's namespace after delete",
            format!("its peer {PEER} still there: {expired}"),
        )),
    }
}

/// `name: "eth%d"` is a template: the kernel picks the first free number,
/// eth0 in a namespace that has only lo.
fn net_device_name_template_takes_a_free_number(cx: &mut Ctx) -> Checked {
    let _net = scratch_with_device(cx)?;
    let mut spec = cx.spec(&["report"]);
    with_net_devices(&mut spec, &[(DEVICE, Some("eth%d"))]);
    let run = cx.run_probe(&spec)?;
    let report = run.report()?;
    let names: Vec<&str> = report.interfaces.iter().map(|i| i.name.as_str()).collect();
    expect(names.contains(&"eth0"), "ltdev0 as eth0 in the container", format!("{names:?}"))
}

/// Moves that cannot be made are errors, found before anything moves: a
/// name the container's namespace already has (lo), and a device the
/// runtime's namespace does not have. Each config also lists ltdev0, which
/// must still be in the runtime's namespace after the refusal.
fn impossible_net_device_moves_are_refused_before_any_move(cx: &mut Ctx) -> Checked {
    let mut net = scratch_with_device(cx)?;
    let trials: [(&str, Devices); 2] = [
        ("ltdev0 renamed to lo, a name the container has", &[(DEVICE, Some("lo"))]),
        (
            "ltdev0 and ltabsent0, a device the runtime's namespace lacks",
            &[(DEVICE, Some("ctr-eth0")), ("ltabsent0", None)],
        ),
    ];
    for (what, devices) in trials {
        let mut spec = cx.spec(&["marker", "/ran", "exit", "0"]);
        with_net_devices(&mut spec, devices);
        cx.refused_at_create_or_start(&spec, &format!("netDevices {what}"))?;
        let links = net.links()?;
        expect(
            links.iter().any(|l| l == DEVICE),
            format!("ltdev0 still in the runtime's namespace after refusing {what}"),
            format!("links there: {links:?}"),
        )?;
    }
    Ok(())
}
