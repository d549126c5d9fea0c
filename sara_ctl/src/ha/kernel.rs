//! sara.ko's side of `sarectl ha`, through the kernel client: the role, the replication ring,
//! installing records on a backup, adopting the peer's on the active, and the flow dump a
//! resynchronisation (or a handback) sends.

use std::collections::HashSet;

use sara_core::flow::Wildcard;
use sara_core::genl;
use sara_core::msg::repl::{FlowRecord, Identity, Record, SessionRecord, Status};

use super::node::Kernel;
use crate::cli;
use crate::kernel::{Client, Flow, FlowIdentity, HaRole, HaState, CALL_DUMP_PARTS};

/// The kernel of this network namespace.
pub struct NlKernel {
    client: Client,
}

fn msg(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// The role and ring of this namespace.
pub fn ha_get(client: &mut Client) -> Result<HaState, String> {
    client
        .ha_get()
        .map_err(|e| msg("reading the high-availability role from sara.ko", e))
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

fn secs(ms: u32) -> u32 {
    ms.div_ceil(1000).min(genl::MAX_TIMEOUT_S)
}

/// One flow of a dump as a replication record, with its session id and whether it is the
/// session's signalling flow (None: a flow not worth replicating, such as an ended session's).
fn flow_record(f: &Flow) -> Option<(Record, u32, bool)> {
    let timeout_s = secs(f.timeout_ms);
    if f.identity == FlowIdentity::Signalling {
        if f.ended {
            return None;
        }
        let server_id = u16::try_from(f.server).ok().filter(|s| *s != 0)?;
        let r = Record::Session(SessionRecord {
            flow: f.key,
            session_id: f.session,
            server_id,
            identity: Identity::Signalling,
            status: Status::Established,
            timeout_s,
        });
        return Some((r, f.session, true));
    }
    let (identity, status) = if f.identity == FlowIdentity::Secondary {
        (Identity::Secondary, Status::Established)
    } else {
        (Identity::Announced, Status::New)
    };
    let r = Record::Flow(FlowRecord {
        flow: f.key,
        wildcard: Wildcard::from_bits(f.wildcard.to_u8()),
        session_id: f.session,
        identity,
        status,
        timeout_s,
    });
    Some((r, f.session, false))
}

impl Kernel for NlKernel {
    fn set_role(&mut self, active: bool) -> Result<(), String> {
        let role = if active {
            HaRole::Active
        } else {
            HaRole::Backup
        };
        self.client.ha_set_role(role).map_err(|e| {
            msg(
                &format!("setting sara.ko's role to {}", cli::ha_role_name(role)),
                e,
            )
        })
    }

    fn head(&mut self) -> Result<u64, String> {
        ha_get(&mut self.client).map(|s| s.head)
    }

    fn read(&mut self, from: u64) -> Result<(u64, Vec<Record>, bool), String> {
        let run = self
            .client
            .repl_get(from)
            .map_err(|e| msg("reading sara.ko's replication ring", e))?;
        let recs = run.records().map_err(|e| {
            msg(
                "sara.ko's replication records do not parse",
                format!("{e:?}"),
            )
        })?;
        Ok((run.first, recs, run.lost))
    }

    fn apply(&mut self, records: &[Record], flush: bool) -> Result<(u32, u32), String> {
        let r = self
            .client
            .repl_apply(records, flush)
            .map_err(|e| msg("installing replicated sessions in sara.ko", e))?;
        Ok((r.applied, r.failed))
    }

    fn adopt(&mut self, records: &[Record]) -> Result<(u32, u32, u32), String> {
        let r = self
            .client
            .repl_adopt(records)
            .map_err(|e| msg("adopting the peer's sessions in sara.ko", e))?;
        Ok((r.applied, r.skipped, r.failed))
    }

    fn dump(&mut self) -> Result<Vec<Record>, String> {
        let dump = self
            .client
            .flows(None, None)
            .map_err(|e| msg("dumping sara.ko's flow table", e))?;
        if dump.interrupted {
            // A flow that moved between table entries during every read may be missing: a
            // resynchronisation from it would leave the backup short of sessions while it believes
            // itself in sync. The node sends none; the backup asks again.
            return Err(format!(
                "dumping sara.ko's flow table: the table changed during each of {} reads (flows \
                 moving between entries); no resynchronisation from an incomplete table",
                crate::kernel::DUMP_TRIES
            ));
        }
        let mut sessions = Vec::new();
        let mut flows = Vec::new();
        let mut live = HashSet::new();
        for f in dump.decodable() {
            if let Some((rec, id, sig)) = flow_record(&f) {
                if sig {
                    live.insert(id);
                    sessions.push(rec);
                } else {
                    flows.push((rec, id));
                }
            }
        }
        // The Call-ID key first (the backup hashes its calls with it), the sessions, their flows,
        // then the SIP calls bound to them (decisions.md, "Failover keeps every call of a trunk").
        let calls = self
            .client
            .repl_calls(CALL_DUMP_PARTS)
            .map_err(|e| msg("dumping sara.ko's Call-ID index", e))?;
        let mut out = Vec::with_capacity(sessions.len() + flows.len() + calls.len());
        out.extend(
            calls
                .iter()
                .filter(|r| matches!(r, Record::CallKey(_)))
                .copied(),
        );
        out.extend(sessions);
        out.extend(
            flows
                .into_iter()
                .filter(|(_, id)| live.contains(id))
                .map(|(r, _)| r),
        );
        out.extend(calls.into_iter().filter(|r| match r {
            Record::Call(c) => live.contains(&c.session_id),
            _ => false,
        }));
        Ok(out)
    }
}
