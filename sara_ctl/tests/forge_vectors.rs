//! The datagrams of `qemu-tests/tools/forge.py` (the attacker of the VM test 22-forged-control.sh),
//! pinned here as `forge.py vectors` prints them (checked here when python3 is there, and by
//! `forge.py selftest`): sara_core parses every message it builds as the message it means, sara_ctl
//! opens what it seals with the cluster key's layout, and refuses its forgeries for the reason the
//! test expects. So the VM test's forgeries are well-formed, and would be believed if the trailer
//! were not checked.

use sara_core::flow::{FlowKey, Wildcard, PROTO_TCP, PROTO_UDP};
use sara_core::msg::heartbeat::{self, Flag};
use sara_core::msg::repl::{self, Identity, Record, Role, Status};
use sara_core::msg::{announce, load};
use sara_ctl::auth::{open, seal_to_vec, Key, KeyRing, Reject};
use std::collections::BTreeMap;
use std::net::SocketAddr;

const ANNOUNCE: &str = concat!(
    "5341010200000008010000000a0001020a000064a09615b2060400000a0001020a000064a0321bb0",
    "11040000",
);
const BATCH: &str = concat!(
    "53410103000101c8000000070000000c00050000012000017fff0000000100000000003c0a000102",
    "0a000064afc915b206040000022001007fff0000020000000000003c0a0001020a000064a0320000",
    "1104000005080000000000010608000000000001030800007fff0000",
);
const HA_HEARTBEAT: &str = concat!(
    "53410103000202ff000000070000000c00020000070c0100000000070000000d040c000000000007",
    "0000000d",
);
const HEARTBEAT: &str = "0001000003e9126955b900";
const LOAD: &str = "53410101000200000000004d075bcd1503e803e803e803e803e803e8";
const SEALED_ANNOUNCE: &str = concat!(
    "5341010200000008010000000a0001020a000064a09615b2060400000a0001020a000064a0321bb0",
    "11040000ffff00010000000100064a00000000037cc556c076c85bc3c123013b687d8169",
);
const SEALED_BATCH: &str = concat!(
    "53410103000101c8000000070000000c00050000012000017fff0000000100000000003c0a000102",
    "0a000064afc915b206040000022001007fff0000020000000000003c0a0001020a000064a0320000",
    "1104000005080000000000010608000000000001030800007fff0000000000010000000100064a00",
    "00000002bf5bf7c478cb4327fec713cdc46536e1",
);
const SEALED_HEARTBEAT: &str = concat!(
    "0001000003e9126955b900000000010000000100064a000000000164f72c04f51ddcdc1c0f9bc71b",
    "992284",
);
const UNKNOWN_KEY_HEARTBEAT: &str = concat!(
    "0001000003e9126955b900000000010000000200064a00000000051bc84d8255426baf5319fa5704",
    "686fa1",
);
const WRONG_TAG_HEARTBEAT: &str = concat!(
    "0001000003e9126955b900000000010000000100064a0000000004b37985ea6be1c94328b6aa38bb",
    "969382",
);

/// forge.py's VECTOR_KEY: bytes 0..=31, id 1.
fn ring() -> KeyRing {
    KeyRing::single(Key {
        id: 1,
        bytes: core::array::from_fn(|i| i as u8),
    })
}

fn bytes(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

const CL: [u8; 4] = [10, 0, 1, 2];
const VIP: [u8; 4] = [10, 0, 0, 100];

#[test]
fn messages_parse_as_meant() {
    assert_eq!(
        heartbeat::parse(&bytes(HEARTBEAT)),
        Ok(heartbeat::Heartbeat {
            host_id: 1,
            seq: 1001,
            flag: Flag::AppDown,
            timestamp: 1_767_225_600,
        })
    );
    let l = load::parse(&bytes(LOAD)).unwrap();
    assert_eq!((l.host_id, l.seq, l.timestamp_ms), (2, 77, 123_456_789));
    assert_eq!(
        [
            l.cpu,
            l.memory,
            l.net_buffers,
            l.io_queue,
            l.backlog,
            l.load
        ],
        [1000; 6]
    );
    let a = bytes(ANNOUNCE);
    let v = announce::parse(&a).unwrap();
    let e: Vec<_> = v.entries().collect();
    assert_eq!((v.seq, e.len()), (8, 1));
    assert_eq!(
        e[0].signalling,
        FlowKey::new(CL, 41110, VIP, 5554, PROTO_TCP)
    );
    assert_eq!(
        e[0].announced,
        FlowKey::new(CL, 41010, VIP, 7088, PROTO_UDP)
    );

    let b = bytes(BATCH);
    let v = repl::parse(&b).unwrap();
    assert_eq!(
        (
            v.header.sender_id,
            v.header.role,
            v.header.priority,
            v.header.epoch,
            v.header.seq
        ),
        (1, Role::Active, 200, 7, 12)
    );
    let r: Vec<Record> = v.records().collect();
    assert_eq!(r.len(), 5);
    match r[0] {
        Record::Session(s) => {
            assert_eq!(s.flow, FlowKey::new(CL, 45001, VIP, 5554, PROTO_TCP));
            assert_eq!(
                (s.session_id, s.server_id, s.timeout_s),
                (0x7FFF_0000, 1, 60)
            );
            assert_eq!(
                (s.identity, s.status),
                (Identity::Signalling, Status::Established)
            );
        }
        other => panic!("{other:?}"),
    }
    match r[1] {
        Record::Flow(f) => {
            assert_eq!(f.flow, FlowKey::new(CL, 41010, VIP, 0, PROTO_UDP));
            assert_eq!(
                (f.wildcard, f.session_id, f.identity),
                (Wildcard::DstPort, 0x7FFF_0000, Identity::Announced)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        r[2..],
        [
            Record::ResyncBegin { sessions: 1 },
            Record::ResyncEnd { records: 1 },
            Record::SessionEnded {
                session_id: 0x7FFF_0000
            }
        ]
    );
    let h = bytes(HA_HEARTBEAT);
    let v = repl::parse(&h).unwrap();
    assert_eq!(
        (v.header.sender_id, v.header.role, v.header.priority),
        (2, Role::Backup, 255)
    );
    let r: Vec<Record> = v.records().collect();
    assert_eq!(
        r,
        [
            Record::Ack {
                flags: repl::ACK_WANTS_VIP,
                epoch: 7,
                next_seq: 13
            },
            Record::ResyncRequest {
                epoch: 7,
                next_seq: 13
            }
        ]
    );
}

#[test]
fn sealed_ones_open_and_match_sarectl_s_own_seal() {
    let ring = ring();
    for (sealed, msg, sender) in [
        (SEALED_HEARTBEAT, HEARTBEAT, 1),
        (SEALED_BATCH, BATCH, 1),
        (SEALED_ANNOUNCE, ANNOUNCE, 0xFFFF_0001),
    ] {
        let d = bytes(sealed);
        let o = open(&ring, &d).unwrap();
        assert_eq!((o.sender, o.key_id, o.msg), (sender, 1, &bytes(msg)[..]));
        assert_eq!(
            seal_to_vec(ring.sealing(), sender, o.seq, o.msg).unwrap(),
            d
        );
    }
    // What the daemons' sender checks say of them (the manager with server 1 at 10.0.0.11).
    let ips: BTreeMap<u16, std::net::Ipv4Addr> = [(1, "10.0.0.11".parse().unwrap())].into();
    let at = |s: &str| -> SocketAddr { s.parse().unwrap() };
    let hb = bytes(SEALED_HEARTBEAT);
    let o = open(&ring, &hb).unwrap();
    assert_eq!(
        sara_ctl::control::manager::admit(&o, at("10.0.0.11:40000"), &ips),
        Ok(())
    );
    assert_eq!(
        sara_ctl::control::manager::admit(&o, at("10.0.1.2:40000"), &ips),
        Err(Reject::WrongSource)
    );
    let an = bytes(SEALED_ANNOUNCE);
    let o = open(&ring, &an).unwrap();
    assert_eq!(
        sara_ctl::control::manager::admit(&o, at("10.0.1.2:40000"), &ips),
        Ok(())
    );
    let bt = bytes(SEALED_BATCH);
    let o = open(&ring, &bt).unwrap();
    assert_eq!(sara_ctl::ha::link::admit(&o), Ok(()));
}

#[test]
fn forgeries_are_refused_for_the_expected_reason() {
    let ring = ring();
    assert_eq!(
        open(&ring, &bytes(WRONG_TAG_HEARTBEAT)),
        Err(Reject::BadTag)
    );
    assert_eq!(
        open(&ring, &bytes(UNKNOWN_KEY_HEARTBEAT)),
        Err(Reject::UnknownKey)
    );
    // Without a trailer: a heartbeat is too short to carry one.
    assert_eq!(open(&ring, &bytes(HEARTBEAT)), Err(Reject::Malformed));
    let mut flipped = bytes(SEALED_HEARTBEAT);
    flipped[6] = 0x13; // flag changed in transit
    assert_eq!(open(&ring, &flipped), Err(Reject::BadTag));
}

/// forge.py still makes exactly these bytes (when python3 is there: the VM image has it, a bare
/// build host may not).
#[test]
fn forge_py_still_makes_these_bytes() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../qemu-tests/tools/forge.py");
    let out = match std::process::Command::new("python3")
        .args([script, "vectors"])
        .output()
    {
        Ok(o) if o.status.success() => o.stdout,
        Ok(o) => panic!(
            "forge.py vectors failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            eprintln!("skipped: no python3 ({e})");
            return;
        }
    };
    let v: BTreeMap<String, String> = serde_json::from_slice(&out).expect("forge.py vectors: JSON");
    let pinned = [
        ("announce", ANNOUNCE),
        ("batch", BATCH),
        ("ha_heartbeat", HA_HEARTBEAT),
        ("heartbeat", HEARTBEAT),
        ("load", LOAD),
        ("sealed_announce", SEALED_ANNOUNCE),
        ("sealed_batch", SEALED_BATCH),
        ("sealed_heartbeat", SEALED_HEARTBEAT),
        ("unknown_key_heartbeat", UNKNOWN_KEY_HEARTBEAT),
        ("wrong_tag_heartbeat", WRONG_TAG_HEARTBEAT),
    ];
    assert_eq!(v.len(), pinned.len(), "forge.py makes other vectors: {v:?}");
    for (name, hex) in pinned {
        assert_eq!(v.get(name).map(String::as_str), Some(hex), "{name}");
    }
}
