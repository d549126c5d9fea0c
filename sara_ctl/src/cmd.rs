//! The commands behind `sarectl service|server|apply|show|stats|flows|sessions|announce|debug`:
//! open the kernel client, call its typed function, and return the text to print; and those of
//! `sarectl key` (key files, no kernel) and `sarectl status` (the manager's status file). `main.rs`
//! maps its clap arguments onto these.

use std::io::Read;
use std::path::Path;

use serde::Serialize;

use sara_core::flow::FlowKey;
use sara_core::genl;

use crate::calls;
use crate::cli::{self, show_key};
use crate::config;
use crate::error::{errno_name, Error, KernelError, PolicyHint, EXIT_KERNEL, EXIT_OK};
use crate::kernel::{self, Client, ConfigPlace, Outcome, Reply, ServerAdd, ServiceAdd, ServiceKey};
use crate::output::{self, FlowRow, Format, ServerRow, ServiceRow};

/// The warning of a flow dump that was still interrupted after [`kernel::DUMP_TRIES`] tries.
pub const DUMP_INTERRUPTED: &str =
    "flows kept moving between table entries while the table was read \
     (8 tries): the list may miss or repeat a flow that was just confirmed; run the command again";

/// What a command wants printed, and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// Text for standard output (may be empty).
    pub stdout: String,
    /// Exit status.
    pub exit: u8,
}

impl Done {
    fn ok(stdout: impl Into<String>) -> Self {
        Done {
            stdout: stdout.into(),
            exit: EXIT_OK,
        }
    }
}

/// Open the client, warning on stderr when the module speaks another protocol version.
fn open() -> Result<Client, Error> {
    let c = Client::open()?;
    let v = c.family_version();
    if v != 0 && v != u32::from(genl::VERSION) {
        eprintln!(
            "sarectl: warning: sara.ko speaks netlink protocol version {v}, this sarectl version {}",
            genl::VERSION
        );
    }
    Ok(c)
}

/// Open the client, run one command on it (a refusal gets `context`), and print the kernel's
/// warning, if it gave one (it did only if it acked: a reply that does not decode still has it).
fn call<T>(
    run: impl FnOnce(&mut Client) -> Result<T, Error>,
    context: impl FnOnce() -> String,
) -> Result<T, Error> {
    let mut c = open()?;
    let r = run(&mut c);
    warn(&mut c);
    r.map_err(|e| e.context(context()))
}

/// The kernel's warning about the last request, on stderr.
fn warn(c: &mut Client) {
    if let Some(w) = c.take_warning() {
        eprintln!("sarectl: warning from sara.ko: {w}");
    }
}

/// Confirmation of a change: one line for people, nothing with `--json`.
fn confirm(format: Format, line: String) -> Done {
    match format {
        Format::Table => Done::ok(line + "\n"),
        _ => Done::ok(""),
    }
}

/// `sarectl service add`.
pub fn service_add(a: &ServiceAdd, format: Format) -> Result<Done, Error> {
    call(
        |c| c.service_add(a),
        || format!("cannot add service {}", a.key),
    )?;
    Ok(confirm(format, format!("service {} added", a.key)))
}

/// `sarectl service del`.
pub fn service_del(k: &ServiceKey, format: Format) -> Result<Done, Error> {
    call(
        |c| c.service_del(k),
        || format!("cannot delete service {k}"),
    )?;
    Ok(confirm(format, format!("service {k} deleted")))
}

/// `sarectl service list`.
pub fn service_list(format: Format) -> Result<Done, Error> {
    let services = call(|c| c.services(), || "cannot list services".into())?;
    let rows: Vec<ServiceRow> = services.iter().map(ServiceRow::from).collect();
    Ok(Done::ok(output::render(rows.as_slice(), format)))
}

/// `sarectl server add`.
pub fn server_add(a: &ServerAdd, format: Format) -> Result<Done, Error> {
    call(
        |c| c.server_add(a),
        || format!("cannot add server {}", a.id),
    )?;
    Ok(confirm(
        format,
        format!("server {} ({} via {}) added", a.id, a.ip, a.ifname),
    ))
}

/// `sarectl server del`.
pub fn server_del(id: u32, format: Format) -> Result<Done, Error> {
    call(
        |c| c.server_del(id),
        || format!("cannot delete server {id}"),
    )?;
    Ok(confirm(format, format!("server {id} deleted")))
}

/// `sarectl server list`.
pub fn server_list(format: Format) -> Result<Done, Error> {
    let servers = call(|c| c.servers(), || "cannot list servers".into())?;
    let rows: Vec<ServerRow> = servers.iter().map(ServerRow::from).collect();
    Ok(Done::ok(output::render(rows.as_slice(), format)))
}

/// `sarectl stats`.
pub fn stats(format: Format) -> Result<Done, Error> {
    let stats = call(|c| c.stats(), || "cannot read the counters".into())?;
    Ok(Done::ok(match format {
        Format::Prometheus => output::stats_prometheus(&stats),
        f => output::render(&stats, f),
    }))
}

/// `sarectl status`: the manager's status file as a table, JSON or Prometheus text.
pub fn status(status_file: &Path, format: Format) -> Result<Done, Error> {
    let st =
        crate::control::manager::read_status(status_file).map_err(|e| Error::Io(e.to_string()))?;
    Ok(Done::ok(match format {
        Format::Prometheus => output::status_prometheus(&st),
        f => output::render(&st, f),
    }))
}

// ---- flows, sessions, announce ---------------------------------------------------------------

/// Which flows `sarectl flows` and `sarectl sessions` show. `server` and `session` are sent to the
/// kernel as filters of the dump (and checked again here); `status` and `identity` are applied here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowFilter {
    /// Only flows of sessions on this server.
    pub server: Option<u32>,
    /// Only flows of this session.
    pub session: Option<u32>,
    /// Only flows with this status (`genl::FLOW_STATUS_*`).
    pub status: Option<u8>,
    /// Only flows with this identity (`genl::FLOW_IDENTITY_*`).
    pub identity: Option<u8>,
}

impl FlowFilter {
    /// Whether `f` passes the filter.
    pub fn keeps(&self, f: &FlowRow) -> bool {
        self.server.is_none_or(|id| f.server == id)
            && self.session.is_none_or(|id| f.session == id)
            && self
                .status
                .is_none_or(|v| f.status == cli::flow_status_name(v))
            && self
                .identity
                .is_none_or(|v| f.identity == cli::flow_identity_name(v))
    }
}

/// The flow table, as one dump, sorted for people, with the filter applied.
fn read_flows(filter: &FlowFilter) -> Result<Vec<FlowRow>, Error> {
    let mut c = open()?;
    let dump = c
        .flows(filter.server, filter.session)
        .map_err(|e| e.context("cannot read the flow table"))?;
    let warning = c
        .take_warning()
        .or_else(|| dump.interrupted.then(|| DUMP_INTERRUPTED.to_string()));
    if let Some(w) = warning {
        eprintln!("sarectl: warning: {w}");
    }
    let mut flows: Vec<FlowRow> = dump.all()?.iter().map(FlowRow::from).collect();
    output::sort_flows(&mut flows);
    flows.retain(|f| filter.keeps(f));
    Ok(flows)
}

/// `sarectl flows`.
pub fn flows(filter: &FlowFilter, format: Format) -> Result<Done, Error> {
    let flows = read_flows(filter)?;
    Ok(Done::ok(output::render(flows.as_slice(), format)))
}

/// Why the Call-IDs are missing from `sarectl sessions` when the Call-ID index cannot be read for
/// want of CAP_NET_ADMIN.
pub const CALLS_NEED_ADMIN: &str =
    "Call-IDs not shown: reading SARA's Call-ID index needs CAP_NET_ADMIN (its dump carries the \
     index's hash key; run as root)";

/// What `sarectl sessions` makes of the Call-ID index's dump: its calls; or, when it could not be
/// read, none and one line for stderr (a note without CAP_NET_ADMIN, a warning otherwise). With
/// `--call-id` (`needed`) an unreadable dump is the command's error instead.
pub fn calls_of_dump(
    dump: Result<Vec<sara_core::msg::repl::Record>, Error>,
    needed: bool,
) -> Result<(Option<calls::CallTable>, Option<String>), Error> {
    match dump {
        Ok(records) => Ok((Some(calls::CallTable::from_records(&records)), None)),
        // (A refusal for want of CAP_NET_ADMIN says so: `errno_words`.)
        Err(e) if needed => Err(e.context("--call-id cannot read SARA's Call-ID index")),
        Err(Error::Kernel { err, .. }) if matches!(err.errno, libc::EPERM | libc::EACCES) => {
            Ok((None, Some(format!("sarectl: note: {CALLS_NEED_ADMIN}"))))
        }
        Err(e) => Ok((
            None,
            Some(format!(
                "sarectl: warning: Call-IDs not shown: cannot read SARA's Call-ID index: {e}"
            )),
        )),
    }
}

/// `sarectl sessions [--server ID] [--call-id ID]`: the sessions of the flow dump, a SIP call's
/// with its shortened Call-ID (`crate::calls`); with `call_id` only the session(s) of that call.
/// The Call-ID index is read only with `--call-id` or when a listed session is a UDP one (a SIP
/// call's, possibly): a listing of TCP sessions needs no CAP_NET_ADMIN and prints no note.
pub fn sessions(server: Option<u32>, call_id: Option<&str>, format: Format) -> Result<Done, Error> {
    let flows = read_flows(&FlowFilter {
        server,
        ..Default::default()
    })?;
    let mut sessions = output::group_sessions(&flows);
    let udp = sessions
        .iter()
        .any(|s| s.service.as_deref().is_some_and(|v| v.ends_with("/udp")));
    if call_id.is_none() && !udp {
        return Ok(Done::ok(output::render(sessions.as_slice(), format)));
    }
    let mut c = open()?;
    let dump = c.repl_calls(kernel::CALL_DUMP_PARTS);
    warn(&mut c);
    let (table, line) = calls_of_dump(dump, call_id.is_some())?;
    if let Some(l) = line {
        eprintln!("{l}");
    }
    if let Some(table) = table {
        calls::annotate(&mut sessions, &table);
        if let Some(id) = call_id {
            let keep = calls::sessions_of_call(&flows, &table, id.as_bytes());
            sessions.retain(|s| keep.contains(&s.session));
        }
    }
    Ok(Done::ok(output::render(sessions.as_slice(), format)))
}

/// The operator's words for a refused gateway report: what was attempted, and, when the kernel
/// found no announced flow to complete but gave no reason, what that means.
pub fn announce_error(e: Error, k: &FlowKey) -> Error {
    let e = match e {
        Error::Kernel { context, mut err } if err.errno == libc::ENOENT => {
            if err.message.as_deref().is_none_or(|m| m.trim().is_empty()) {
                err.message = Some(
                    "no announced flow waiting for its missing port matches this report (it may \
                     have been completed already, have expired, or never have been announced; \
                     `sarectl flows --identity announced` lists the flows waiting)"
                        .into(),
                );
            }
            Error::Kernel { context, err }
        }
        other => other,
    };
    e.context(format!(
        "cannot complete the announced flow {}",
        show_key(k)
    ))
}

/// `sarectl announce`: a gateway report completing an announced flow.
pub fn announce(k: &FlowKey, format: Format) -> Result<Done, Error> {
    call(|c| c.announce(k), String::new).map_err(|e| announce_error(e, k))?;
    Ok(confirm(format, format!("completed: {}", show_key(k))))
}

// ---- apply and show --------------------------------------------------------------------------

/// Read a cluster file (`-` is standard input); an unreadable file is a usage error.
fn read_cluster_file(path: &Path) -> Result<(String, String), Error> {
    let origin = path.display().to_string();
    let text = if origin == "-" {
        let mut t = String::new();
        std::io::stdin()
            .read_to_string(&mut t)
            .map(|_| t)
            .map_err(|e| {
                Error::Usage(format!(
                    "cannot read the cluster file from standard input: {e}"
                ))
            })?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read the cluster file {origin}: {e}")))?
    };
    Ok((origin, text))
}

/// `services[i]` or `servers[i]`: a place in the cluster file.
fn place_text(p: ConfigPlace) -> String {
    match p {
        ConfigPlace::Service(n) => format!("services[{n}]"),
        ConfigPlace::Server(n) => format!("servers[{n}]"),
    }
}

/// `sarectl apply -f FILE [--dry-run]`: check the whole file, then replace the kernel's services
/// and servers with one `CMD_CONFIG_SET`.
pub fn apply(path: &Path, dry_run: bool, format: Format) -> Result<Done, Error> {
    let (origin, text) = read_cluster_file(path)?;
    let plan = config::parse_for_apply(&text, &origin).map_err(|e| Error::Usage(e.to_string()))?;
    if dry_run {
        let request_len = kernel::config_set_len(&plan.services, &plan.servers)?;
        let dry = output::DryRun {
            plan: &plan,
            request_len,
        };
        return Ok(Done::ok(output::render(&dry, format)));
    }
    let mut c = open()?;
    if let Err(e) = c.config_set(&plan.services, &plan.servers) {
        // Name the service or server the kernel objects to, as the file calls it.
        let place = match &e {
            Error::Kernel { err, .. } => err.bad_attr_offset.and_then(|off| {
                kernel::config_set_place(&plan.services, &plan.servers, off).map(place_text)
            }),
            _ => None,
        };
        let place = place.map(|p| format!(" ({p})")).unwrap_or_default();
        return Err(e.context(format!(
            "cannot apply {origin}{place}; sara.ko keeps its previous configuration"
        )));
    }
    warn(&mut c);
    Ok(confirm(
        format,
        format!(
            "applied: {}, {}",
            output::count(plan.services.len(), "service"),
            output::count(plan.servers.len(), "server")
        ),
    ))
}

/// `sarectl show`: the running services and servers as a cluster file (JSON, always).
pub fn show() -> Result<Done, Error> {
    let mut c = open()?;
    let services = c
        .services()
        .map_err(|e| e.context("cannot list services"))?;
    let servers = c.servers().map_err(|e| e.context("cannot list servers"))?;
    Ok(Done::ok(output::json(&config::from_kernel(
        &services, &servers,
    )?)))
}

// ---- key files --------------------------------------------------------------------------------

/// `sarectl key generate FILE [--id N] [--force]`: a new cluster key in a new key file, mode 0600
/// (the parent directory is created if missing). Without `force` an existing file is left alone.
pub fn key_generate(path: &Path, id: u32, force: bool, format: Format) -> Result<Done, Error> {
    use crate::auth::{generate, write_key_file, KeyError, KeyRing};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Io(format!(
                    "creating the directory {} for the key file: {e}",
                    dir.display()
                ))
            })?;
        }
    }
    let key = generate(id).map_err(|e| Error::Io(e.to_string()))?;
    match write_key_file(path, &KeyRing::single(key), force) {
        Ok(()) => {}
        Err(KeyError::Exists { .. }) => {
            return Err(Error::Usage(format!(
                "key file {p} exists; not overwriting it: the daemons that read it would stop \
                 understanding the nodes that still have the old key. Add --force to replace it \
                 (then copy it to every node), or rotate keys without an outage as \
                 'sarectl key --help' shows",
                p = path.display()
            )))
        }
        Err(e) => return Err(Error::Io(e.to_string())),
    }
    Ok(confirm(
        format,
        format!(
            "wrote a new key (id {id}) to {p}, mode 0600.\n\
             Copy this file unchanged, with mode 0600, to every node (servers, dispatchers, \
             gateway) and start every daemon with --key-file {p}.",
            p = path.display()
        ),
    ))
}

/// `sarectl key show FILE`: the key ids (never the keys), the permissions, and whether a daemon
/// would take the file; exit status 4 when it would not.
pub fn key_show(path: &Path, format: Format) -> Result<Done, Error> {
    use crate::auth::keys::MAX_FILE_LEN;
    use crate::auth::KeyRing;
    use std::os::unix::fs::MetadataExt;
    let io = |e: std::io::Error| Error::Io(format!("key file {}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(Error::Io(format!(
            "key file {}: not a regular file",
            path.display()
        )));
    }
    let mode = meta.mode() & 0o7777;
    let permissions_ok = mode & 0o077 == 0;
    let mut text = String::new();
    let read = f
        .take(MAX_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())
        .and_then(|n| {
            if n as u64 > MAX_FILE_LEN {
                Err(format!(
                    "too big for a key file (more than {MAX_FILE_LEN} bytes)"
                ))
            } else {
                Ok(())
            }
        });
    let parsed = read.and_then(|()| KeyRing::parse(&text).map_err(|e| e.to_string()));
    let (keys, text_error) = match parsed {
        Ok(ring) => (
            ring.ids()
                .into_iter()
                .enumerate()
                .map(|(i, id)| output::KeyRow { id, seals: i == 0 })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e)),
    };
    let usable = permissions_ok && text_error.is_none();
    let report = output::KeyFileReport {
        file: path.display().to_string(),
        mode: format!("{mode:04o}"),
        uid: meta.uid(),
        permissions_ok,
        keys,
        text_error,
        usable,
    };
    Ok(Done {
        stdout: output::render(&report, format),
        exit: if usable {
            EXIT_OK
        } else {
            crate::error::EXIT_IO
        },
    })
}

// ---- debug send-raw -------------------------------------------------------------------------

/// Parse `TYPE:HEX` for `debug send-raw --attr`. TYPE is a number (decimal or `0x` hex, flag bits
/// allowed) or an attribute name (`A_SERVER_MAC`, `server_mac`); HEX is the payload, possibly empty,
/// with optional `0x` and `:`/`.`/`_` separators.
pub fn parse_raw_attr(s: &str) -> Result<RawAttr, String> {
    let (ty, hex) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}': expected TYPE:HEX, for example 9:525400123456 or 7:"))?;
    let ty = parse_attr_type(ty)?;
    let hex: String = hex
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !":._".contains(*c))
        .collect();
    if !hex.len().is_multiple_of(2) {
        return Err(format!(
            "'{s}': the payload needs an even number of hex digits"
        ));
    }
    let payload = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| format!("'{s}': the payload is not hex"))?;
    Ok(RawAttr { ty, payload })
}

fn parse_attr_type(t: &str) -> Result<u16, String> {
    let num = match t.strip_prefix("0x") {
        Some(h) => u16::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    };
    if let Some(n) = num {
        return Ok(n);
    }
    let want = t.to_ascii_uppercase();
    let want = if want.starts_with("A_") {
        want
    } else {
        format!("A_{want}")
    };
    (1..=256)
        .find(|n| crate::error::attr_name(*n) == Some(want.as_str()))
        .ok_or_else(|| format!("unknown attribute type '{t}': give a number or a name like A_VIP"))
}

/// One `--attr TYPE:HEX` of `debug send-raw`: an attribute type (flag bits included) and its
/// payload, sent as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttr {
    /// Attribute type.
    pub ty: u16,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

/// `sarectl debug send-raw` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// Generic netlink command.
    pub cmd: u8,
    /// Attributes, sent as given.
    pub attrs: Vec<RawAttr>,
    /// Generic netlink header version.
    pub version: u8,
    /// Also set `NLM_F_DUMP`.
    pub dump: bool,
}

#[derive(Serialize)]
struct RawAttrOut {
    #[serde(rename = "type")]
    ty: u16,
    name: Option<&'static str>,
    len: usize,
    hex: String,
}

#[derive(Serialize)]
struct RawReplyOut {
    cmd: u8,
    attrs: Vec<RawAttrOut>,
}

#[derive(Serialize)]
struct RawPolicyOut {
    min_value: Option<u64>,
    max_value: Option<u64>,
    min_value_s: Option<i64>,
    max_value_s: Option<i64>,
    min_len: Option<u32>,
    max_len: Option<u32>,
}

/// JSON answer of `debug send-raw`.
#[derive(Serialize)]
struct RawOut {
    ok: bool,
    errno: i32,
    error: Option<&'static str>,
    message: Option<String>,
    bad_attr_offset: Option<u32>,
    bad_attr: Option<u16>,
    missing_attr: Option<u16>,
    policy: Option<RawPolicyOut>,
    warning: Option<String>,
    replies: Vec<RawReplyOut>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn raw_replies(replies: &[Reply]) -> Vec<RawReplyOut> {
    replies
        .iter()
        .map(|r| RawReplyOut {
            cmd: r.cmd,
            attrs: r
                .attrs
                .iter()
                .map(|a| RawAttrOut {
                    ty: a.ty,
                    name: crate::error::attr_name(a.ty),
                    len: a.payload.len(),
                    hex: hex(&a.payload),
                })
                .collect(),
        })
        .collect()
}

/// Render the outcome of `debug send-raw`.
pub fn render_raw(outcome: &Outcome, format: Format) -> Result<Done, Error> {
    let (replies, warning, err) = match outcome {
        Outcome::Ok {
            replies,
            warning,
            interrupted,
        } => {
            let warning = warning
                .clone()
                .or_else(|| interrupted.then(|| DUMP_INTERRUPTED.to_string()));
            (replies.as_slice(), warning, None)
        }
        Outcome::Refused(e) => (&[][..], None, Some(e.clone())),
    };
    let exit = if err.is_some() { EXIT_KERNEL } else { EXIT_OK };
    if format == Format::Json {
        let e = err.clone().unwrap_or_default();
        let out = RawOut {
            ok: err.is_none(),
            errno: e.errno,
            error: errno_name(e.errno),
            message: e.message,
            bad_attr_offset: e.bad_attr_offset,
            bad_attr: e.bad_attr,
            missing_attr: e.missing_attr,
            policy: e.policy.map(|p: PolicyHint| RawPolicyOut {
                min_value: p.min_value,
                max_value: p.max_value,
                min_value_s: p.min_value_s,
                max_value_s: p.max_value_s,
                min_len: p.min_len,
                max_len: p.max_len,
            }),
            warning,
            replies: raw_replies(replies),
        };
        return Ok(Done {
            stdout: output::json(&out),
            exit,
        });
    }
    if let Some(e) = err {
        return Err(refused(e));
    }
    let mut s = String::from("ok: sara.ko accepted the request\n");
    if let Some(w) = warning {
        s.push_str(&format!("warning: {w}\n"));
    }
    for r in raw_replies(replies) {
        s.push_str(&format!("reply cmd {}:\n", r.cmd));
        for a in r.attrs {
            let name = a.name.map(|n| format!(" {n}")).unwrap_or_default();
            s.push_str(&format!("  {}{name} len {}: {}\n", a.ty, a.len, a.hex));
        }
    }
    Ok(Done { stdout: s, exit })
}

fn refused(e: KernelError) -> Error {
    let name = errno_name(e.errno)
        .map(|n| format!("{n}, "))
        .unwrap_or_default();
    let context = format!("sara.ko refused the request ({name}errno {})", e.errno);
    Error::Kernel {
        context,
        err: Box::new(e),
    }
}

/// `sarectl debug send-raw`: send exactly what was given, with `NLM_F_ACK`, and show the answer.
pub fn send_raw(r: &RawRequest, format: Format) -> Result<Done, Error> {
    let mut c = open()?;
    let attrs: Vec<(u16, Vec<u8>)> = r.attrs.iter().map(|a| (a.ty, a.payload.clone())).collect();
    let outcome = c.send_raw(r.cmd, &attrs, r.version, r.dump)?;
    render_raw(&outcome, format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Attr;
    use sara_core::msg::repl::Record;

    #[test]
    fn sessions_without_cap_net_admin_get_a_note_not_an_error() {
        let eperm = || Error::Kernel {
            context: String::new(),
            err: Box::new(KernelError::from_errno(libc::EPERM)),
        };
        // Read: the calls, nothing on stderr.
        let (t, line) = calls_of_dump(Ok(vec![Record::CallKey([1; 16])]), false).unwrap();
        assert!(t.is_some_and(|t| t.is_empty()) && line.is_none());
        // No CAP_NET_ADMIN: the sessions are listed without Call-IDs, with one note saying why.
        let (t, line) = calls_of_dump(Err(eperm()), false).unwrap();
        assert!(t.is_none());
        let line = line.unwrap();
        assert!(
            line.starts_with("sarectl: note: Call-IDs not shown"),
            "{line}"
        );
        assert!(
            line.contains("CAP_NET_ADMIN") && !line.contains('\n'),
            "{line}"
        );
        // Another failure: a warning that says what failed.
        let (t, line) = calls_of_dump(Err(Error::Io("timed out".into())), false).unwrap();
        assert!(t.is_none());
        assert!(line
            .unwrap()
            .ends_with("cannot read SARA's Call-ID index: timed out"));
        // --call-id cannot work without the index: the kernel's refusal is the command's (exit 1).
        let e = calls_of_dump(Err(eperm()), true).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_KERNEL);
        assert!(e.to_string().starts_with("--call-id cannot read"), "{e}");
        assert!(e.to_string().contains("CAP_NET_ADMIN"), "{e}");
    }

    #[test]
    fn raw_attr_syntax() {
        assert_eq!(
            parse_raw_attr("9:525400123456").unwrap(),
            RawAttr {
                ty: 9,
                payload: vec![0x52, 0x54, 0, 0x12, 0x34, 0x56]
            }
        );
        assert_eq!(parse_raw_attr("9:52:54:00:12:34").unwrap().payload.len(), 5);
        assert_eq!(
            parse_raw_attr("7:").unwrap(),
            RawAttr {
                ty: 7,
                payload: vec![]
            }
        );
        assert_eq!(
            parse_raw_attr("0x0c:0x01000000").unwrap(),
            RawAttr {
                ty: 12,
                payload: vec![1, 0, 0, 0]
            }
        );
        // By name: A_SERVER_MAC is 9, A_VIP 1 (sara_core::genl).
        assert_eq!(parse_raw_attr("A_SERVER_MAC:01").unwrap().ty, 9);
        assert_eq!(parse_raw_attr("vip:0a000001").unwrap().ty, 1);
        assert_eq!(parse_raw_attr("32769:").unwrap().ty, 0x8001);
        assert!(parse_raw_attr("9").unwrap_err().contains("TYPE:HEX"));
        assert!(parse_raw_attr("9:abc").unwrap_err().contains("even"));
        assert!(parse_raw_attr("9:zz").unwrap_err().contains("not hex"));
        assert!(parse_raw_attr("nosuch:00")
            .unwrap_err()
            .contains("unknown attribute type"));
        assert!(parse_raw_attr("70000:00").is_err());
    }

    #[test]
    fn raw_outcome_rendering() {
        let ok = Outcome::Ok {
            replies: vec![Reply {
                cmd: 3,
                attrs: vec![Attr::bytes(2, [0x50, 0])], // A_PORT
            }],
            warning: None,
            interrupted: false,
        };
        let d = render_raw(&ok, Format::Table).unwrap();
        assert_eq!(d.exit, 0);
        assert_eq!(
            d.stdout,
            "ok: sara.ko accepted the request\nreply cmd 3:\n  2 A_PORT len 2: 5000\n"
        );
        let d = render_raw(&ok, Format::Json).unwrap();
        let v: serde_json::Value = serde_json::from_str(&d.stdout).unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(v["errno"], 0);
        assert_eq!(v["replies"][0]["attrs"][0]["hex"], "5000");

        let refused = Outcome::Refused(KernelError {
            errno: libc::EINVAL,
            message: Some("bad MAC".into()),
            bad_attr_offset: Some(36),
            bad_attr: Some(9), // A_SERVER_MAC
            missing_attr: None,
            policy: Some(PolicyHint {
                min_len: Some(6),
                max_len: Some(6),
                ..Default::default()
            }),
        });
        let d = render_raw(&refused, Format::Json).unwrap();
        assert_eq!(d.exit, 1);
        let v: serde_json::Value = serde_json::from_str(&d.stdout).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["errno"], 22);
        assert_eq!(v["error"], "EINVAL");
        assert_eq!(v["message"], "bad MAC");
        assert_eq!(v["bad_attr"], 9);
        assert_eq!(v["policy"]["min_len"], 6);
        let e = render_raw(&refused, Format::Table).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.to_string(),
            "sara.ko refused the request (EINVAL, errno 22): invalid request: bad MAC \
             (offending attribute A_SERVER_MAC (9); length in bytes must be 6)"
        );
    }

    #[test]
    fn flow_filter_keeps_what_was_asked() {
        let f = |status: &str, identity: &str, server, session| FlowRow {
            src: std::net::Ipv4Addr::new(10, 0, 1, 2),
            sport: 1,
            dst: std::net::Ipv4Addr::new(10, 0, 0, 100),
            dport: 2,
            proto: "udp".into(),
            server,
            session,
            status: status.into(),
            identity: identity.into(),
            wildcard: "none".into(),
            ended: false,
            idle_ms: 0,
            timeout_ms: 0,
            packets: 0,
            bytes: 0,
        };
        let all = FlowFilter::default();
        let est = FlowFilter {
            status: Some(genl::FLOW_STATUS_ESTABLISHED),
            ..Default::default()
        };
        let ann = FlowFilter {
            identity: Some(genl::FLOW_IDENTITY_ANNOUNCED),
            server: Some(2),
            ..Default::default()
        };
        let s17 = FlowFilter {
            session: Some(17),
            ..Default::default()
        };
        let a = f("established", "signalling", 1, 17);
        let b = f("new", "announced", 2, 18);
        assert!(all.keeps(&a) && all.keeps(&b));
        assert!(est.keeps(&a) && !est.keeps(&b));
        assert!(!ann.keeps(&a) && ann.keeps(&b));
        assert!(s17.keeps(&a) && !s17.keeps(&b));
    }

    #[test]
    fn refused_announce_is_said_in_plain_words() {
        let key = FlowKey::new([10, 0, 1, 2], 7624, [10, 0, 0, 100], 42182, 17);
        let kernel = |err: KernelError| Error::Kernel {
            context: String::new(),
            err: Box::new(err),
        };
        // The kernel's own words come through.
        let e = announce_error(
            kernel(KernelError {
                message: Some("no announced flow matches".into()),
                ..KernelError::from_errno(libc::ENOENT)
            }),
            &key,
        );
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.to_string(),
            "cannot complete the announced flow udp 10.0.1.2:7624 -> 10.0.0.100:42182: not found: \
             no announced flow matches"
        );
        // Without a message, sarectl says what ENOENT means here.
        let e = announce_error(kernel(KernelError::from_errno(libc::ENOENT)), &key);
        assert!(
            e.to_string()
                .contains("not found: no announced flow waiting for its missing port"),
            "{e}"
        );
        let e = announce_error(kernel(KernelError::from_errno(libc::EPERM)), &key);
        assert!(e.to_string().contains("needs CAP_NET_ADMIN"), "{e}");
        assert_eq!(e.exit_code(), 1);
        // Not a refusal: unchanged.
        assert_eq!(
            announce_error(Error::FamilyNotFound, &key),
            Error::FamilyNotFound
        );
    }

    #[test]
    fn an_interrupted_raw_dump_says_so() {
        let dump = Outcome::Ok {
            replies: vec![],
            warning: None,
            interrupted: true,
        };
        let d = render_raw(&dump, Format::Table).unwrap();
        assert_eq!(
            d.stdout,
            format!("ok: sara.ko accepted the request\nwarning: {DUMP_INTERRUPTED}\n")
        );
        let v: serde_json::Value =
            serde_json::from_str(&render_raw(&dump, Format::Json).unwrap().stdout).unwrap();
        assert_eq!(v["warning"], DUMP_INTERRUPTED);
        assert!(DUMP_INTERRUPTED.contains(&format!("({} tries)", kernel::DUMP_TRIES)));
    }

    #[test]
    fn config_places_as_the_file_says_them() {
        assert_eq!(place_text(ConfigPlace::Service(0)), "services[0]");
        assert_eq!(place_text(ConfigPlace::Server(2)), "servers[2]");
    }
}
