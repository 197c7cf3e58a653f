//! The few rtnetlink(7) requests linux.netDevices needs: list links, list
//! addresses, move and rename a link, set it up, add an address.
//!
//! Written here rather than taken from netlink-packet-route: these are five
//! fixed messages, and that crate's 300 KiB of text, which fault-around
//! makes resident, was a tenth of every `run`'s peak RSS.

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::socket::{
    bind, recv, send, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};

// linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFF_UP: u32 = 0x1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
#[cfg(test)]
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_ANYCAST: u16 = 5;
#[cfg(test)]
const IFA_CACHEINFO: u16 = 6;
const IFA_MULTICAST: u16 = 7;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
/// What an address is. Not kept: the label, which names the device by its
/// old name, the cache info (the kernel's report, not a request) and
/// anything newer this runtime does not know.
const ADDRESS_ATTRIBUTES_KEPT: [u16; 6] =
    [IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_ANYCAST, IFA_MULTICAST, IFA_FLAGS];

const HEADER: usize = 16;

/// One rtattr: its type and payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub kind: u16,
    pub data: Vec<u8>,
}

/// An address as RTM_NEWADDR carries it (struct ifaddrmsg + attributes).
#[derive(Clone, Debug, PartialEq)]
pub struct Address {
    pub family: u8,
    pub prefix_len: u8,
    pub flags: u8,
    pub scope: u8,
    pub index: u32,
    pub attributes: Vec<Attribute>,
}

impl Address {
    fn parse(body: &[u8]) -> Result<Address> {
        if body.len() < 8 {
            bail!("netlink: an address message of {} bytes", body.len());
        }
        Ok(Address {
            family: body[0],
            prefix_len: body[1],
            flags: body[2],
            scope: body[3],
            index: u32::from_ne_bytes(body[4..8].try_into().expect("4 bytes")),
            attributes: attributes(&body[8..])?,
        })
    }

    /// The flags in full: IFA_FLAGS when present, else the header's 8 bits.
    fn all_flags(&self) -> u32 {
        self.attributes
            .iter()
            .find(|a| a.kind == IFA_FLAGS && a.data.len() >= 4)
            .map(|a| u32::from_ne_bytes(a.data[..4].try_into().expect("4 bytes")))
            .unwrap_or(u32::from(self.flags))
    }

    /// Permanent (IFA_F_PERMANENT) and of global scope (RT_SCOPE_UNIVERSE).
    pub fn is_permanent_global(&self) -> bool {
        self.scope == RT_SCOPE_UNIVERSE && self.all_flags() & IFA_F_PERMANENT != 0
    }

    /// What RTM_NEWADDR takes back of what RTM_GETADDR reported.
    fn into_restorable(mut self) -> Address {
        self.attributes.retain(|a| ADDRESS_ATTRIBUTES_KEPT.contains(&a.kind));
        self
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.family, self.prefix_len, self.flags, self.scope]);
        out.extend_from_slice(&self.index.to_ne_bytes());
        for a in &self.attributes {
            put_attribute(out, a.kind, &a.data);
        }
    }
}

/// struct ifinfomsg: family, type, index, flags, change mask.
fn link_header(out: &mut Vec<u8>, index: u32, flags: u32, change: u32) {
    out.extend_from_slice(&[0, 0, 0, 0]); // AF_UNSPEC, padding, ARPHRD any
    out.extend_from_slice(&index.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&change.to_ne_bytes());
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn put_attribute(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(data);
    out.resize(out.len() + align(len) - len, 0);
}

/// The rtattrs of a message body, in order.
fn attributes(mut bytes: &[u8]) -> Result<Vec<Attribute>> {
    let mut found = Vec::new();
    while bytes.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([bytes[0], bytes[1]]));
        let kind = u16::from_ne_bytes([bytes[2], bytes[3]]);
        if len < 4 || len > bytes.len() {
            bail!("netlink: an attribute of length {len} in {} bytes", bytes.len());
        }
        found.push(Attribute { kind, data: bytes[4..len].to_vec() });
        bytes = &bytes[align(len).min(bytes.len())..];
    }
    Ok(found)
}

/// A NETLINK_ROUTE socket, synchronous: one request, its answers.
pub struct Netlink {
    socket: OwnedFd,
    sequence: u32,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        let socket = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .context("opening a netlink socket")?;
        bind(socket.as_raw_fd(), &NetlinkAddr::new(0, 0)).context("binding a netlink socket")?;
        Ok(Netlink { socket, sequence: 0 })
    }

    /// A socket in `namespace`: a socket belongs to the namespace it was
    /// made in, so a short-lived thread enters it and makes the socket.
    pub fn in_namespace(namespace: &std::fs::File) -> Result<Netlink> {
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(namespace, nix::sched::CloneFlags::CLONE_NEWNET)
                    .context("entering the container's network namespace")?;
                Netlink::open()
            })
            .join()
            .map_err(|_| anyhow!("netlink thread panicked"))?
        })
    }

    /// Sends a request of `kind` with `body`; returns the bodies of the
    /// answers of `answer` type until the final ack or done.
    fn request(&mut self, kind: u16, flags: u16, body: &[u8], answer: u16) -> Result<Vec<Vec<u8>>> {
        self.sequence += 1;
        let mut packet = Vec::with_capacity(HEADER + body.len());
        packet.extend_from_slice(&((HEADER + body.len()) as u32).to_ne_bytes());
        packet.extend_from_slice(&kind.to_ne_bytes());
        packet.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        packet.extend_from_slice(&self.sequence.to_ne_bytes());
        packet.extend_from_slice(&0u32.to_ne_bytes());
        packet.extend_from_slice(body);
        send(self.socket.as_raw_fd(), &packet, MsgFlags::empty()).context("netlink send")?;
        let mut answers = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let got = recv(self.socket.as_raw_fd(), &mut buffer, MsgFlags::MSG_TRUNC)
                .context("netlink receive")?;
            if got > buffer.len() {
                bail!("netlink: an answer of {got} bytes does not fit {}", buffer.len());
            }
            if self.answers_in(&buffer[..got], answer, &mut answers)? {
                return Ok(answers);
            }
        }
    }

    /// The messages of one datagram: bodies of type `answer` go to
    /// `answers`; true once this request's ack or done is seen, the
    /// kernel's errno as an io::Error if it refused.
    fn answers_in(
        &self,
        mut bytes: &[u8],
        answer: u16,
        answers: &mut Vec<Vec<u8>>,
    ) -> Result<bool> {
        while bytes.len() >= HEADER {
            let len = u32::from_ne_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
            let kind = u16::from_ne_bytes([bytes[4], bytes[5]]);
            let sequence = u32::from_ne_bytes(bytes[8..12].try_into().expect("4 bytes"));
            if len < HEADER || len > bytes.len() {
                bail!("netlink: a message of length {len} in {} bytes", bytes.len());
            }
            let body = &bytes[HEADER..len];
            if sequence == self.sequence {
                match kind {
                    NLMSG_ERROR => {
                        let code = body
                            .get(..4)
                            .map(|c| i32::from_ne_bytes(c.try_into().expect("4 bytes")))
                            .ok_or_else(|| anyhow!("netlink: a short error message"))?;
                        if code != 0 {
                            return Err(std::io::Error::from_raw_os_error(-code).into());
                        }
                        return Ok(true);
                    }
                    NLMSG_DONE => return Ok(true),
                    k if k == answer => answers.push(body.to_vec()),
                    _ => {}
                }
            }
            bytes = &bytes[align(len).min(bytes.len())..];
        }
        Ok(false)
    }

    /// Index → name of every link.
    pub fn links(&mut self) -> Result<BTreeMap<u32, String>> {
        let mut body = Vec::new();
        link_header(&mut body, 0, 0, 0);
        let mut links = BTreeMap::new();
        for answer in self.request(RTM_GETLINK, NLM_F_DUMP, &body, RTM_NEWLINK)? {
            if answer.len() < 16 {
                bail!("netlink: a link message of {} bytes", answer.len());
            }
            let index = u32::from_ne_bytes(answer[4..8].try_into().expect("4 bytes"));
            let name = attributes(&answer[16..])?.into_iter().find(|a| a.kind == IFLA_IFNAME);
            if let Some(name) = name {
                let name = name.data.split(|&b| b == 0).next().unwrap_or_default();
                links.insert(index, String::from_utf8_lossy(name).into_owned());
            }
        }
        Ok(links)
    }

    /// The addresses the spec says travel with a device: permanent, of
    /// global scope, any family; stripped to what RTM_NEWADDR takes back.
    pub fn permanent_global_addresses(&mut self, index: u32) -> Result<Vec<Address>> {
        let body = [0u8; 8]; // struct ifaddrmsg, AF_UNSPEC: every family
        let mut kept = Vec::new();
        for answer in self.request(RTM_GETADDR, NLM_F_DUMP, &body, RTM_NEWADDR)? {
            let address = Address::parse(&answer)?;
            if address.index == index && address.is_permanent_global() {
                kept.push(address.into_restorable());
            }
        }
        Ok(kept)
    }

    /// Moves link `index` into the namespace open at fd `namespace`, as `name`.
    pub fn move_link(&mut self, index: u32, namespace: i32, name: &str) -> Result<()> {
        let mut body = Vec::new();
        link_header(&mut body, index, 0, 0);
        put_attribute(&mut body, IFLA_NET_NS_FD, &(namespace as u32).to_ne_bytes());
        put_attribute(&mut body, IFLA_IFNAME, &[name.as_bytes(), &[0]].concat());
        self.request(RTM_SETLINK, NLM_F_ACK, &body, 0).map(drop)
    }

    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let mut body = Vec::new();
        link_header(&mut body, index, IFF_UP, IFF_UP);
        self.request(RTM_SETLINK, NLM_F_ACK, &body, 0).map(drop)
    }

    pub fn add_address(&mut self, address: &Address) -> Result<()> {
        let mut body = Vec::new();
        address.encode(&mut body);
        self.request(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &body, 0).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_with_padding() {
        let mut out = Vec::new();
        put_attribute(&mut out, IFLA_IFNAME, b"eth0\0");
        put_attribute(&mut out, IFLA_NET_NS_FD, &7u32.to_ne_bytes());
        assert_eq!(out.len(), 12 + 8, "a 5-byte name pads to 8, plus its 4-byte header");
        let found = attributes(&out).unwrap();
        assert_eq!(found[0], Attribute { kind: IFLA_IFNAME, data: b"eth0\0".to_vec() });
        assert_eq!(found[1], Attribute { kind: IFLA_NET_NS_FD, data: 7u32.to_ne_bytes().into() });
        assert!(attributes(&[9, 0, 1, 0]).is_err(), "an attribute longer than its message");
    }

    #[test]
    fn addresses_parse_and_encode_back() {
        let mut body = vec![2, 24, 0x80, 0, 5, 0, 0, 0];
        put_attribute(&mut body, 2, &[10, 0, 0, 1]);
        put_attribute(&mut body, IFA_LABEL, b"eth0\0");
        let address = Address::parse(&body).unwrap();
        assert_eq!((address.family, address.prefix_len, address.index), (2, 24, 5));
        assert!(address.is_permanent_global());
        let mut again = Vec::new();
        address.encode(&mut again);
        assert_eq!(again, body);
        let mut reported = address.clone();
        reported.attributes.push(Attribute { kind: IFA_CACHEINFO, data: vec![0; 16] });
        reported.attributes.push(Attribute { kind: 11, data: vec![0; 4] }); // IFA_PROTO
        let restored = reported.into_restorable();
        let kinds: Vec<u16> = restored.attributes.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [IFA_LOCAL], "label, cache info and unknowns are not sent back");
        // IFA_FLAGS, when present, is the whole story (the header has 8 bits).
        let mut dynamic = address.clone();
        dynamic.attributes.push(Attribute { kind: IFA_FLAGS, data: 0u32.to_ne_bytes().into() });
        assert!(!dynamic.is_permanent_global());
        let mut link_scope = address;
        link_scope.scope = 253;
        assert!(!link_scope.is_permanent_global());
    }

    #[test]
    fn the_loopback_link_is_listed() {
        // Listing links needs no privilege: every namespace has lo.
        let links = Netlink::open().unwrap().links().unwrap();
        assert!(links.values().any(|n| n == "lo"), "{links:?}");
    }

    #[test]
    fn errors_carry_the_kernels_errno() {
        let mut netlink = Netlink::open().unwrap();
        // No link has index 0x7fff_fff0: ENODEV from the kernel.
        let e = netlink.set_up(0x7fff_fff0).unwrap_err();
        let io = e.downcast_ref::<std::io::Error>().expect("an io::Error");
        assert!(matches!(io.raw_os_error(), Some(libc::ENODEV) | Some(libc::EPERM)), "{io}");
    }
}
