//! sara.ko's side of `sarectl ha`: the role (`CMD_HA_SET`), the replication ring
//! (`CMD_HA_GET`, `CMD_REPL_GET`), installing records on a backup (`CMD_REPL_APPLY`) and the flow
//! dump a resynchronisation sends (`CMD_FLOW_GET`).

use std::collections::HashSet;

use sara_core::flow::{FlowKey, Wildcard};
use sara_core::genl;
use sara_core::msg::repl::{self, FlowRecord, Identity, Record, SessionRecord, Status};

use super::node::Kernel;
use crate::kernel::{Client, Reply};
use crate::proto::{Attr, Request};

/// The kernel of this network namespace.
pub struct NlKernel {
    client: Client,
}

fn msg(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

fn attr(replies: &[Reply], ty: u16) -> Option<&Attr> {
    replies
        .iter()
        .flat_map(|r| r.attrs.iter())
        .find(|a| a.ty == ty)
}

/// The role and ring of this namespace: (role, head, capacity).
pub fn ha_get(client: &mut Client) -> Result<(u8, u64, u32), String> {
    let r = client
        .call(&Request {
            cmd: genl::CMD_HA_GET,
            attrs: vec![],
        })
        .map_err(|e| msg("reading the high-availability role from sara.ko", e))?;
    let role = attr(&r, genl::A_HA_ROLE)
        .and_then(|a| a.get_u8().ok())
        .unwrap_or(0);
    let head = attr(&r, genl::A_REPL_HEAD)
        .and_then(|a| a.get_u64().ok())
        .unwrap_or(0);
    let cap = attr(&r, genl::A_REPL_CAPACITY)
        .and_then(|a| a.get_u32().ok())
        .unwrap_or(0);
    Ok((role, head, cap))
}

impl NlKernel {
    /// Opens the generic netlink socket (sara.ko must be loaded).
    pub fn open() -> Result<NlKernel, String> {
        let client = Client::open().map_err(|e| msg("opening sara.ko's control socket", e))?;
        Ok(NlKernel { client })
    }

    /// The socket, for other requests.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

fn run_bytes(records: &[Record]) -> Vec<u8> {
    let mut out = vec![0u8; records.len() * repl::MAX_RECORD_LEN];
    let mut n = 0;
    for r in records {
        if let Ok(k) = repl::encode_record(r, &mut out[n..]) {
            n += k;
        }
    }
    out.truncate(n);
    out
}

fn secs(ms: u32) -> u32 {
    ms.div_ceil(1000).min(genl::MAX_TIMEOUT_S)
}

/// One `A_FLOW` nest of a dump as a replication record (None: a flow not worth replicating, such
/// as an ended session's).
fn flow_record(attrs: &[Attr]) -> Option<(Record, u32, bool)> {
    let mut src = [0u8; 4];
    let mut dst = [0u8; 4];
    let (mut sport, mut dport, mut proto) = (0u16, 0u16, 0u8);
    let (mut server, mut session, mut identity, mut wild, mut ended, mut timeout) =
        (0u32, 0u32, 0u8, 0u8, false, 0u32);
    for a in attrs {
        match a.ty {
            genl::A_FLOW_SRC => src = a.get_ipv4().ok()?.octets(),
            genl::A_FLOW_DST => dst = a.get_ipv4().ok()?.octets(),
            genl::A_FLOW_SPORT => sport = a.get_u16().ok()?,
            genl::A_FLOW_DPORT => dport = a.get_u16().ok()?,
            genl::A_PROTO => proto = a.get_u8().ok()?,
            genl::A_SERVER_ID => server = a.get_u32().ok()?,
            genl::A_SESSION_ID => session = a.get_u32().ok()?,
            genl::A_FLOW_IDENTITY => identity = a.get_u8().ok()?,
            genl::A_FLOW_WILDCARD => wild = a.get_u8().ok()?,
            genl::A_FLOW_ENDED => ended = a.get_u8().ok()? != 0,
            genl::A_FLOW_TIMEOUT_MS => timeout = a.get_u32().ok()?,
            _ => {}
        }
    }
    let key = FlowKey::new(src, sport, dst, dport, proto);
    if identity == genl::FLOW_IDENTITY_SIGNALLING {
        if ended {
            return None;
        }
        let server_id = u16::try_from(server).ok().filter(|s| *s != 0)?;
        let r = Record::Session(SessionRecord {
            flow: key,
            session_id: session,
            server_id,
            identity: Identity::Signalling,
            status: Status::Established,
            timeout_s: secs(timeout),
        });
        return Some((r, session, true));
    }
    let (identity, status) = if identity == genl::FLOW_IDENTITY_SECONDARY {
        (Identity::Secondary, Status::Established)
    } else {
        (Identity::Announced, Status::New)
    };
    let r = Record::Flow(FlowRecord {
        flow: key,
        wildcard: Wildcard::from_bits(wild),
        session_id: session,
        identity,
        status,
        timeout_s: secs(timeout),
    });
    Some((r, session, false))
}

impl Kernel for NlKernel {
    fn set_role(&mut self, active: bool) -> Result<(), String> {
        let role = if active {
            genl::HA_ACTIVE
        } else {
            genl::HA_BACKUP
        };
        self.client
            .call(&Request {
                cmd: genl::CMD_HA_SET,
                attrs: vec![Attr::u8(genl::A_HA_ROLE, role)],
            })
            .map(|_| ())
            .map_err(|e| {
                msg(
                    &format!("setting sara.ko's role to {}", genl::ha_role_name(role)),
                    e,
                )
            })
    }

    fn head(&mut self) -> Result<u64, String> {
        ha_get(&mut self.client).map(|(_, h, _)| h)
    }

    fn read(&mut self, from: u64) -> Result<(u64, Vec<Record>, bool), String> {
        let r = self
            .client
            .call(&Request {
                cmd: genl::CMD_REPL_GET,
                attrs: vec![Attr::bytes(genl::A_REPL_SEQ, from.to_ne_bytes())],
            })
            .map_err(|e| msg("reading sara.ko's replication ring", e))?;
        let first = attr(&r, genl::A_REPL_SEQ)
            .and_then(|a| a.get_u64().ok())
            .unwrap_or(from);
        let lost = attr(&r, genl::A_REPL_LOST)
            .and_then(|a| a.get_u8().ok())
            .unwrap_or(0)
            != 0;
        let run = attr(&r, genl::A_REPL_RECORDS)
            .map(|a| a.payload.as_slice())
            .unwrap_or(&[]);
        let recs = repl::parse_records(run)
            .map_err(|e| {
                msg(
                    "sara.ko's replication records do not parse",
                    format!("{e:?}"),
                )
            })?
            .collect();
        Ok((first, recs, lost))
    }

    fn apply(&mut self, records: &[Record], flush: bool) -> Result<(u32, u32), String> {
        let mut attrs = vec![Attr::bytes(genl::A_REPL_RECORDS, run_bytes(records))];
        if flush {
            attrs.push(Attr::bytes(genl::A_HA_FLUSH, Vec::new()));
        }
        let r = self
            .client
            .call(&Request {
                cmd: genl::CMD_REPL_APPLY,
                attrs,
            })
            .map_err(|e| msg("installing replicated sessions in sara.ko", e))?;
        let a = attr(&r, genl::A_REPL_APPLIED)
            .and_then(|a| a.get_u32().ok())
            .unwrap_or(0);
        let f = attr(&r, genl::A_REPL_FAILED)
            .and_then(|a| a.get_u32().ok())
            .unwrap_or(0);
        Ok((a, f))
    }

    fn dump(&mut self) -> Result<Vec<Record>, String> {
        let replies = self
            .client
            .dump(&crate::proto::flow_get(None, None))
            .map_err(|e| msg("dumping sara.ko's flow table", e))?;
        let mut sessions = Vec::new();
        let mut flows = Vec::new();
        let mut live = HashSet::new();
        for a in replies
            .iter()
            .flat_map(|r| r.attrs.iter())
            .filter(|a| a.ty == genl::A_FLOW)
        {
            let Ok(nest) = a.nested() else { continue };
            if let Some((rec, id, sig)) = flow_record(&nest) {
                if sig {
                    live.insert(id);
                    sessions.push(rec);
                } else {
                    flows.push((rec, id));
                }
            }
        }
        sessions.extend(
            flows
                .into_iter()
                .filter(|(_, id)| live.contains(id))
                .map(|(r, _)| r),
        );
        Ok(sessions)
    }
}
