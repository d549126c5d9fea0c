//! The manager's push, `CMD_PUSH`: the loads, the thresholds in force and each known server's
//! state, every interval.
//!
//! ```text
//! A_LOAD_DISPATCHER u16 | A_LOAD_CLUSTER u16 | A_T1 u16 | A_T2 u16 | A_T3 u16 | A_TC u16
//! [| A_INCREMENT u16]
//! | A_SERVER nest (NLA_F_NESTED): A_SERVER_ID u32 | A_STATE u8 | A_FORECAST u16 | A_LOAD u16 |
//!                                 A_LOAD_KNOWN u8                     ... one per known server
//! ```

use sara_core::genl;
use serde::{Deserialize, Serialize};

use super::attr::Attr;
use super::msg::Request;
use super::Client;
use crate::error::Error;

/// One server in a push (an `A_SERVER` nest of `CMD_PUSH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushServer {
    /// `A_SERVER_ID`.
    pub id: u16,
    /// `A_STATE`: `genl::STATE_UP`, `STATE_DOWN` or `STATE_DRAINING`.
    pub state: u8,
    /// `A_FORECAST`: damped forecast l̃, per-mille.
    pub forecast: u16,
    /// `A_LOAD`: last measured load, per-mille.
    pub load: u16,
    /// `A_LOAD_KNOWN`: false when the server's load monitor has failed (or never reported).
    pub load_known: bool,
}

/// What the manager pushes to `sara.ko` (`CMD_PUSH`; `sara_core::genl` documents the attributes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// `A_LOAD_DISPATCHER`: l_d, per-mille.
    pub load_dispatcher: u16,
    /// `A_LOAD_CLUSTER`: l_c (from the forecasts when forecasting is on), per-mille.
    pub load_cluster: u16,
    /// `A_T1`.
    pub t1: u16,
    /// `A_T2` (moved).
    pub t2: u16,
    /// `A_T3` (moved).
    pub t3: u16,
    /// `A_TC`.
    pub tc: u16,
    /// `A_INCREMENT`, when configured.
    pub increment: Option<u16>,
    /// One entry per server whose state is known (servers not named keep their state).
    pub servers: Vec<PushServer>,
}

/// The `CMD_PUSH` request for a push (attribute types and sizes as `sara_core::genl` documents).
fn push_request(p: &Push) -> Request {
    let mut attrs = vec![
        Attr::u16(genl::A_LOAD_DISPATCHER, p.load_dispatcher),
        Attr::u16(genl::A_LOAD_CLUSTER, p.load_cluster),
        Attr::u16(genl::A_T1, p.t1),
        Attr::u16(genl::A_T2, p.t2),
        Attr::u16(genl::A_T3, p.t3),
        Attr::u16(genl::A_TC, p.tc),
    ];
    if let Some(i) = p.increment {
        attrs.push(Attr::u16(genl::A_INCREMENT, i));
    }
    for s in &p.servers {
        attrs.push(Attr::nest(
            genl::A_SERVER,
            &[
                Attr::u32(genl::A_SERVER_ID, u32::from(s.id)),
                Attr::u8(genl::A_STATE, s.state),
                Attr::u16(genl::A_FORECAST, s.forecast),
                Attr::u16(genl::A_LOAD, s.load),
                Attr::u8(genl::A_LOAD_KNOWN, u8::from(s.load_known)),
            ],
        ));
    }
    Request {
        cmd: genl::CMD_PUSH,
        attrs,
    }
}

impl Client {
    /// `CMD_PUSH`.
    pub fn push(&mut self, p: &Push) -> Result<(), Error> {
        self.call(&push_request(p)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::msg::{encode_request, FLAGS_REQUEST_ACK};
    use crate::kernel::test_util::*;

    #[test]
    fn push_request_attributes() {
        use sara_core::genl as g;
        use sara_core::genl::{STATE_DRAINING, STATE_UP};
        let p = Push {
            load_dispatcher: 10,
            load_cluster: 418,
            t1: 600,
            t2: 725,
            t3: 900,
            tc: 1000,
            increment: Some(5),
            servers: vec![
                PushServer {
                    id: 1,
                    state: STATE_UP,
                    forecast: 201,
                    load: 200,
                    load_known: true,
                },
                PushServer {
                    id: 513,
                    state: STATE_DRAINING,
                    forecast: 3,
                    load: 0,
                    load_known: false,
                },
            ],
        };
        let r = push_request(&p);
        assert_eq!(r.cmd, g::CMD_PUSH);
        let top: Vec<(u16, usize)> = r
            .attrs
            .iter()
            .map(|a| (a.ty & 0x3fff, a.payload.len()))
            .collect();
        assert_eq!(
            &top[..7],
            &[
                (g::A_LOAD_DISPATCHER, 2),
                (g::A_LOAD_CLUSTER, 2),
                (g::A_T1, 2),
                (g::A_T2, 2),
                (g::A_T3, 2),
                (g::A_TC, 2),
                (g::A_INCREMENT, 2)
            ]
        );
        assert_eq!(r.attrs[3].get_u16().unwrap(), 725);
        let nests: Vec<_> = r
            .attrs
            .iter()
            .filter(|a| a.ty & 0x3fff == g::A_SERVER)
            .collect();
        assert_eq!(nests.len(), 2);
        assert!(
            nests
                .iter()
                .all(|a| a.ty & crate::kernel::attr::NLA_F_NESTED != 0),
            "strict policies need NLA_F_NESTED"
        );
        let inner = crate::kernel::attr::parse_attrs(&nests[1].payload).unwrap();
        let get = |t: u16| inner.iter().find(|a| a.ty == t).unwrap();
        assert_eq!(get(g::A_SERVER_ID).get_u32().unwrap(), 513);
        assert_eq!(get(g::A_STATE).get_u8().unwrap(), STATE_DRAINING);
        assert_eq!(get(g::A_FORECAST).get_u16().unwrap(), 3);
        assert_eq!(get(g::A_LOAD).get_u16().unwrap(), 0);
        assert_eq!(get(g::A_LOAD_KNOWN).get_u8().unwrap(), 0);
        // Without an increment, no A_INCREMENT.
        let r = push_request(&Push {
            increment: None,
            servers: vec![],
            ..p
        });
        assert!(r.attrs.iter().all(|a| a.ty != g::A_INCREMENT));
        // The whole request encodes.
        crate::kernel::msg::encode_request(
            1,
            crate::kernel::msg::FLAGS_REQUEST_ACK,
            1,
            &push_request(&Push {
                servers: vec![],
                increment: None,
                load_dispatcher: 0,
                load_cluster: 0,
                t1: 1,
                t2: 2,
                t3: 3,
                tc: 4,
            }),
        )
        .unwrap();
    }

    #[test]
    fn push_request_bytes() {
        let p = Push {
            load_dispatcher: 1,
            load_cluster: 2,
            t1: 600,
            t2: 750,
            t3: 900,
            tc: 1000,
            increment: None,
            servers: vec![PushServer {
                id: 7,
                state: genl::STATE_DOWN,
                forecast: 300,
                load: 250,
                load_known: true,
            }],
        };
        let bytes = encode_request(30, FLAGS_REQUEST_ACK, 2, &push_request(&p)).unwrap();
        let u16a = |t: u16, v: u16| nla(t, &v.to_ne_bytes());
        let mut want = nlmsg(
            30,
            FLAGS_REQUEST_ACK,
            2,
            &genlmsg(
                genl::CMD_PUSH,
                &[
                    u16a(genl::A_LOAD_DISPATCHER, 1),
                    u16a(genl::A_LOAD_CLUSTER, 2),
                    u16a(genl::A_T1, 600),
                    u16a(genl::A_T2, 750),
                    u16a(genl::A_T3, 900),
                    u16a(genl::A_TC, 1000),
                    nest(
                        genl::A_SERVER,
                        &[
                            nla(genl::A_SERVER_ID, &7u32.to_ne_bytes()),
                            nla(genl::A_STATE, &[genl::STATE_DOWN]),
                            u16a(genl::A_FORECAST, 300),
                            u16a(genl::A_LOAD, 250),
                            nla(genl::A_LOAD_KNOWN, &[1]),
                        ],
                    ),
                ],
            ),
        );
        want[12..16].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(bytes, want);
    }
}
