//! A network namespace of the suite's own, standing in for the host's in
//! the netDevices cases: the runtime runs in it and moves devices out of
//! it, so a case never creates, moves or loses a device of the real host.
//! Devices are made and read over rtnetlink, so no `ip` binary is needed.

use anyhow::{anyhow, Context, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// A new, empty network namespace (only `lo`), held open by an fd, with
/// a netlink socket inside it.
pub struct ScratchNet {
    pub namespace: Arc<OwnedFd>,
    socket: Socket,
    sequence: u32,
}

impl ScratchNet {
    /// unshare(CLONE_NEWNET) on a thread of its own: the namespace and the
    /// socket made there stay with their fds when the thread ends, and the
    /// suite's other threads never leave the host's namespace.
    pub fn new() -> Result<ScratchNet> {
        std::thread::spawn(|| -> Result<ScratchNet> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .context("creating a scratch network namespace (unshare)")?;
            let namespace: OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")?.into();
            let mut socket = Socket::new(NETLINK_ROUTE).context("netlink socket")?;
            socket.bind_auto().context("netlink bind")?;
            socket.connect(&SocketAddr::new(0, 0)).context("netlink connect")?;
            Ok(ScratchNet { namespace: Arc::new(namespace), socket, sequence: 0 })
        })
        .join()
        .map_err(|_| anyhow!("the scratch namespace thread panicked"))?
    }

    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.sequence += 1;
        let mut packet = NetlinkMessage::new(NetlinkHeader::default(), message.into());
        packet.header.flags = NLM_F_REQUEST | flags;
        packet.header.sequence_number = self.sequence;
        packet.finalize();
        let mut buffer = vec![0; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket.send(&buffer, 0)?;
        let mut answers = Vec::new();
        loop {
            let (bytes, _) = self.socket.recv_from_full()?;
            let mut offset = 0;
            while offset < bytes.len() {
                let packet = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes[offset..])
                    .map_err(|e| anyhow!("netlink answer: {e}"))?;
                if packet.header.sequence_number == self.sequence {
                    match packet.payload {
                        NetlinkPayload::Error(e) if e.code.is_some() => {
                            let code = e.code.map(|c| -c.get()).unwrap_or_default();
                            return Err(std::io::Error::from_raw_os_error(code).into());
                        }
                        NetlinkPayload::Done(_) | NetlinkPayload::Error(_) => return Ok(answers),
                        NetlinkPayload::InnerMessage(m) => answers.push(m),
                        _ => {}
                    }
                }
                if packet.header.length == 0 {
                    break;
                }
                offset += packet.header.length as usize;
            }
        }
    }

    /// A veth pair `name` ↔ `peer`, both with `mtu`, both down.
    pub fn add_veth(&mut self, name: &str, peer: &str, mtu: u32) -> Result<()> {
        let mut peer_link = LinkMessage::default();
        peer_link.attributes.push(LinkAttribute::IfName(peer.to_string()));
        peer_link.attributes.push(LinkAttribute::Mtu(mtu));
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(name.to_string()));
        link.attributes.push(LinkAttribute::Mtu(mtu));
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(netlink_packet_route::link::InfoData::Veth(InfoVeth::Peer(peer_link))),
        ]));
        let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        self.request(RouteNetlinkMessage::NewLink(link), flags)
            .with_context(|| format!("creating veth pair {name}/{peer} in the scratch namespace"))
            .map(drop)
    }

    /// A permanent address of global scope on link `name`.
    pub fn add_address(&mut self, name: &str, address: IpAddr, prefix: u8) -> Result<()> {
        let index = self.index_of(name)?.ok_or_else(|| anyhow!("no link {name}"))?;
        let mut message = AddressMessage::default();
        message.header.family =
            if address.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        message.header.prefix_len = prefix;
        message.header.index = index;
        message.attributes.push(AddressAttribute::Local(address));
        message.attributes.push(AddressAttribute::Address(address));
        if address.is_ipv6() {
            // No duplicate address detection: usable (not tentative) at once.
            message.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        self.request(RouteNetlinkMessage::NewAddress(message), flags)
            .with_context(|| format!("adding {address}/{prefix} to {name}"))
            .map(drop)
    }

    /// Names of the links in the namespace.
    pub fn links(&mut self) -> Result<Vec<String>> {
        Ok(self.indexed_links()?.into_iter().map(|(_, name)| name).collect())
    }

    fn index_of(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self.indexed_links()?.into_iter().find_map(|(i, n)| (n == name).then_some(i)))
    }

    fn indexed_links(&mut self) -> Result<Vec<(u32, String)>> {
        let answers =
            self.request(RouteNetlinkMessage::GetLink(LinkMessage::default()), NLM_F_DUMP)?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => {
                    link.attributes.iter().find_map(|a| match a {
                        LinkAttribute::IfName(n) => Some((link.header.index, n.clone())),
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }
}
