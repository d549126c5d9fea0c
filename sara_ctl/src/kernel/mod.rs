//! The kernel client: everything `sarectl` says to `sara.ko` and hears back. Every message of the
//! generic netlink family `sara` is built and decoded in this module, and nowhere else; its users
//! (the CLI, the manager, the HA daemon) call one typed function per command on a [`Client`] and get
//! numbers and enums back, never attributes, and never display strings.
//!
//! * [`Client`] (here): the socket in the caller's network namespace, the resolution of the family,
//!   request/ack and dump exchanges (a dump the kernel flags as interrupted is taken again).
//! * [`attr`]: the attribute type and its parser; [`msg`]: the bytes of a request, the reading of
//!   a reply datagram and the gathering of an answer; [`names`]: attribute names for messages.
//! * One file per group of commands, each with its requests, its replies and its `Client` methods:
//!   [`service`] (services, servers, the whole configuration), [`stats`], [`flow`] (the flow table,
//!   gateway reports), [`push`] (the manager's push), [`ha`] (role and replication).
//!
//! The numbers are `sara_core::genl`'s.

use std::io;
use std::time::Duration;

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;
use sara_core::genl;

use crate::error::Error;

/// A value of a `u8` field of the protocol: one variant per value this sarectl knows, and
/// `Unknown(n)` for one a newer `sara.ko` sends.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:path,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this sarectl does not know.
            Unknown(u8),
        }

        impl $name {
            /// From the wire value.
            pub fn from_u8(v: u8) -> Self {
                match v {
                    $($value => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }

            /// The wire value.
            pub fn to_u8(self) -> u8 {
                match self {
                    $($name::$variant => $value,)*
                    $name::Unknown(v) => v,
                }
            }
        }
    };
}

pub mod attr;
pub mod flow;
pub mod ha;
mod msg;
pub mod names;
pub mod push;
pub mod service;
pub mod stats;

pub use attr::Attr;
pub use flow::{Flow, FlowDump, FlowIdentity, FlowStatus, PortWildcard};
pub use ha::{HaRole, HaState, ReplApplied, ReplRun, CALL_DUMP_PARTS};
pub use msg::{Outcome, Reply};
pub use push::{Push, PushServer};
pub use service::{
    config_set_len, config_set_place, ConfigPlace, Server, ServerAdd, Service, ServiceAdd,
    ServiceKey, MAX_SERVER_ID, MAX_WEIGHT,
};
pub use stats::{Counter, Stats};

use msg::{
    attr_type_at, decode_datagram, encode_request_version, Answer, Request, FLAGS_DUMP,
    FLAGS_REQUEST_ACK, NLMSG_HDRLEN, NLM_F_DUMP,
};

/// Times a dump the kernel flagged as interrupted is taken before it is given up.
pub const DUMP_TRIES: u32 = 8;

/// How long to wait for the kernel's answer before giving up.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

const GENL_ID_CTRL: u16 = libc::GENL_ID_CTRL as u16;
const CTRL_CMD_GETFAMILY: u8 = libc::CTRL_CMD_GETFAMILY as u8;
const CTRL_ATTR_FAMILY_ID: u16 = libc::CTRL_ATTR_FAMILY_ID as u16;
const CTRL_ATTR_FAMILY_NAME: u16 = libc::CTRL_ATTR_FAMILY_NAME as u16;
const CTRL_ATTR_VERSION: u16 = libc::CTRL_ATTR_VERSION as u16;

/// The reply messages of a dump, and whether its last try was still interrupted.
struct Dump {
    replies: Vec<Reply>,
    interrupted: bool,
}

fn io_error(what: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Io(format!(
            "{what}: no answer from the kernel within {} s",
            REPLY_TIMEOUT.as_secs()
        )),
        _ => Error::Io(format!("{what}: {e}")),
    }
}

/// A generic netlink socket with the `sara` family resolved.
pub struct Client {
    sock: NlSocket,
    family: u16,
    family_version: u32,
    seq: u32,
    warning: Option<String>,
}

impl Client {
    /// Open a generic netlink socket in the caller's network namespace, ask for extended acks,
    /// and resolve family `sara` ([`Error::FamilyNotFound`] when `sara.ko` is not loaded).
    pub fn open() -> Result<Client, Error> {
        Client::open_family(genl::FAMILY_NAME)
    }

    /// [`Client::open`] for any generic netlink family (tests use `nlctrl`, which every kernel
    /// has). An unknown name is [`Error::FamilyNotFound`].
    pub fn open_family(name: &str) -> Result<Client, Error> {
        let sock = NlSocket::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| io_error("cannot open a generic netlink socket", e))?;
        // NETLINK_EXT_ACK (11): error messages from the kernel. Kernels without it still work.
        let _ = sock.enable_ext_ack(true);
        crate::sys::set_recv_timeout(&sock, REPLY_TIMEOUT)
            .map_err(|e| io_error("cannot set the socket's receive timeout", e))?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        let mut c = Client {
            sock,
            family: GENL_ID_CTRL,
            family_version: 0,
            seq: seed,
            warning: None,
        };
        let req = Request {
            cmd: CTRL_CMD_GETFAMILY,
            attrs: vec![Attr::string(CTRL_ATTR_FAMILY_NAME, name)],
        };
        let replies = match c.exchange(GENL_ID_CTRL, FLAGS_REQUEST_ACK, 1, &req)? {
            Outcome::Ok { replies, .. } => replies,
            Outcome::Refused(e) if e.errno == libc::ENOENT => return Err(Error::FamilyNotFound),
            Outcome::Refused(e) => {
                return Err(Error::Io(format!(
                    "cannot resolve generic netlink family \"{name}\": {}",
                    e.describe()
                )))
            }
        };
        let attrs: Vec<&Attr> = replies.iter().flat_map(|r| &r.attrs).collect();
        let id = attrs
            .iter()
            .find(|a| a.ty == CTRL_ATTR_FAMILY_ID)
            .and_then(|a| a.get_u16().ok())
            .ok_or(Error::FamilyNotFound)?;
        c.family = id;
        c.family_version = attrs
            .iter()
            .find(|a| a.ty == CTRL_ATTR_VERSION)
            .and_then(|a| a.get_u32().ok())
            .unwrap_or(0);
        Ok(c)
    }

    /// The resolved family id.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// The version the kernel registered family `sara` with.
    pub fn family_version(&self) -> u32 {
        self.family_version
    }

    /// The warning (`NLMSGERR_ATTR_MSG` of a successful request) of the last request.
    pub fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }

    /// Send `req` to family `sara` with `NLM_F_ACK`; return the replies, or the kernel's refusal as
    /// [`Error::Kernel`]. A `*_GET` the kernel only serves as a dump is retried as one.
    fn call(&mut self, req: &Request) -> Result<Vec<Reply>, Error> {
        let refused = |err| Error::Kernel {
            context: String::new(),
            err: Box::new(err),
        };
        let mut outcome = self.exchange(self.family, FLAGS_REQUEST_ACK, genl::VERSION, req)?;
        if let Outcome::Refused(e) = &outcome {
            if e.errno == libc::EOPNOTSUPP && is_get(req.cmd) {
                let flags = FLAGS_REQUEST_ACK | NLM_F_DUMP;
                if let ok @ Outcome::Ok { .. } =
                    self.exchange(self.family, flags, genl::VERSION, req)?
                {
                    outcome = ok;
                }
            }
        }
        match outcome {
            Outcome::Ok {
                replies, warning, ..
            } => {
                self.warning = warning;
                Ok(replies)
            }
            Outcome::Refused(e) => Err(refused(e)),
        }
    }

    /// Send `req` to family `sara` as a dump (`NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK`) and return
    /// every reply message up to `NLMSG_DONE`, or the kernel's refusal (an `NLMSG_ERROR` for the
    /// request, or a `NLMSG_DONE` carrying an error) as [`Error::Kernel`].
    ///
    /// A dump the kernel flags as interrupted (`NLM_F_DUMP_INTR`: a flow moved between table entries
    /// while it was read, so the list may show it twice or not at all) is taken again, up to
    /// [`DUMP_TRIES`] times; the last one is returned with `interrupted` set.
    fn dump(&mut self, req: &Request) -> Result<Dump, Error> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.exchange(self.family, FLAGS_DUMP, genl::VERSION, req)? {
                Outcome::Ok {
                    interrupted: true, ..
                } if tries < DUMP_TRIES => continue,
                Outcome::Ok {
                    replies,
                    warning,
                    interrupted,
                } => {
                    self.warning = warning;
                    return Ok(Dump {
                        replies,
                        interrupted,
                    });
                }
                Outcome::Refused(e) => {
                    return Err(Error::Kernel {
                        context: String::new(),
                        err: Box::new(e),
                    })
                }
            }
        }
    }

    /// Send exactly `cmd` with the attributes `attrs` (type, payload; any values, in this order)
    /// and this generic netlink `version` to family `sara`, with `NLM_F_ACK` (and `NLM_F_DUMP` if
    /// `dump`), and report what came back. For `sarectl debug send-raw`.
    pub fn send_raw(
        &mut self,
        cmd: u8,
        attrs: &[(u16, Vec<u8>)],
        version: u8,
        dump: bool,
    ) -> Result<Outcome, Error> {
        let req = Request {
            cmd,
            attrs: attrs
                .iter()
                .map(|(t, p)| Attr::bytes(*t, p.clone()))
                .collect(),
        };
        let flags = FLAGS_REQUEST_ACK | if dump { NLM_F_DUMP } else { 0 };
        self.exchange(self.family, flags, version, &req)
    }

    /// One exchange: send, then read until the ack, the error, or the end of a dump.
    fn exchange(
        &mut self,
        nl_type: u16,
        flags: u16,
        version: u8,
        req: &Request,
    ) -> Result<Outcome, Error> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = encode_request_version(nl_type, flags, seq, version, req)?;
        self.sock
            .send(&bytes, Msg::empty())
            .map_err(|e| io_error("cannot send the request", e))?;
        let mut answer = Answer::new(seq);
        loop {
            let dgram = self.recv_datagram()?;
            let msgs = decode_datagram(&dgram).map_err(Error::Protocol)?;
            if let Some(outcome) = answer.feed(msgs)? {
                return Ok(match outcome {
                    Outcome::Refused(mut e) => {
                        if e.bad_attr.is_none() {
                            e.bad_attr = e.bad_attr_offset.and_then(|o| attr_type_at(&bytes, o));
                        }
                        Outcome::Refused(e)
                    }
                    ok => ok,
                });
            }
        }
    }

    /// Receive one whole datagram, however large.
    fn recv_datagram(&self) -> Result<Vec<u8>, Error> {
        loop {
            let mut probe = [0u8; 0];
            let len = match self.sock.recv(&mut probe[..], Msg::PEEK | Msg::TRUNC) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error("cannot read the kernel's answer", e)),
            };
            let mut buf = vec![0u8; len.max(NLMSG_HDRLEN)];
            match self.sock.recv(&mut buf[..], Msg::empty()) {
                Ok((n, _)) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error("cannot read the kernel's answer", e)),
            }
        }
    }
}

fn is_get(cmd: u8) -> bool {
    matches!(
        cmd,
        genl::CMD_SERVICE_GET | genl::CMD_SERVER_GET | genl::CMD_STATS_GET
    )
}

// Declared after the code: scripts/check-imports.py reads a file only up to its first test item.
#[cfg(test)]
mod test_util;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_enums_keep_unknown_values() {
        assert_eq!(HaRole::from_u8(genl::HA_BACKUP), HaRole::Backup);
        assert_eq!(HaRole::Active.to_u8(), genl::HA_ACTIVE);
        assert_eq!(HaRole::from_u8(9), HaRole::Unknown(9));
        assert_eq!(HaRole::Unknown(9).to_u8(), 9);
        for v in 0..=255u8 {
            assert_eq!(FlowStatus::from_u8(v).to_u8(), v);
            assert_eq!(FlowIdentity::from_u8(v).to_u8(), v);
            assert_eq!(PortWildcard::from_u8(v).to_u8(), v);
        }
        assert_eq!(
            FlowIdentity::from_u8(genl::FLOW_IDENTITY_SECONDARY),
            FlowIdentity::Secondary
        );
        assert_eq!(
            PortWildcard::from_u8(genl::WILDCARD_DST_PORT),
            PortWildcard::DstPort
        );
    }

    #[test]
    fn only_the_listing_commands_are_retried_as_dumps() {
        assert!(is_get(genl::CMD_SERVICE_GET) && is_get(genl::CMD_SERVER_GET));
        assert!(is_get(genl::CMD_STATS_GET));
        assert!(!is_get(genl::CMD_FLOW_GET) && !is_get(genl::CMD_HA_GET));
        assert!(!is_get(genl::CMD_SERVICE_ADD));
    }

    /// The real socket path against the running kernel's own `nlctrl` family: resolve, request
    /// and reply, and a policy rejection with extended ack. Skipped where netlink is unavailable.
    #[test]
    fn real_kernel_exchange_with_nlctrl() {
        let mut c = match Client::open_family("nlctrl") {
            Ok(c) => c,
            Err(e) => {
                eprintln!("skipped: no generic netlink here ({e})");
                return;
            }
        };
        assert_eq!(c.family_id(), GENL_ID_CTRL);
        assert!(c.family_version() >= 1);
        // A request with a reply: the family's own description.
        let name = (CTRL_ATTR_FAMILY_NAME, b"nlctrl\0".to_vec());
        let Outcome::Ok { replies, .. } =
            c.send_raw(CTRL_CMD_GETFAMILY, &[name], 1, false).unwrap()
        else {
            panic!("nlctrl refused GETFAMILY")
        };
        let id = replies[0]
            .attrs
            .iter()
            .find(|a| a.ty == CTRL_ATTR_FAMILY_ID)
            .unwrap();
        assert_eq!(id.get_u16().unwrap(), GENL_ID_CTRL);
        // A malformed request: CTRL_ATTR_FAMILY_ID is a u16; one byte fails the policy.
        let one_byte = (CTRL_ATTR_FAMILY_ID, vec![1]);
        let Outcome::Refused(e) = c
            .send_raw(CTRL_CMD_GETFAMILY, &[one_byte], 1, false)
            .unwrap()
        else {
            panic!("the kernel accepted a 1-byte u16")
        };
        assert!(e.errno == libc::EINVAL || e.errno == libc::ERANGE, "{e:?}");
        assert_eq!(e.bad_attr, Some(CTRL_ATTR_FAMILY_ID), "{e:?}");
        assert!(e.message.is_some(), "no extended ack message: {e:?}");
        // Unknown family.
        assert_eq!(
            Client::open_family("sara-nosuch").err(),
            Some(Error::FamilyNotFound)
        );
    }
}
