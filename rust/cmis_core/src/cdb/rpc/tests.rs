// SPDX-License-Identifier: GPL-2.0

//! The RPC against the emulated module, on a virtual clock.

use super::*;
use crate::emu::{vendor, BusError, Module, Profile};
use crate::image::Version;
use crate::io::ModuleReset;
use crate::io::Notice;

/// The host side: a module and a clock.
struct Bed {
    m: Module,
    now: Nanos,
    /// Writes to the CDB pages (9Fh, A0h-AFh), by bank.
    cdb_writes: [u32; 2],
}

impl Bed {
    fn new(profile: Profile) -> Self {
        Self {
            m: Module::new(profile, Version::new(1, 0, 0), 1),
            now: 1,
            cdb_writes: [0; 2],
        }
    }
}

impl ModuleIo for Bed {
    fn now(&self) -> Nanos {
        self.now
    }

    fn read(&mut self, a: Access, buf: &mut [u8]) -> Result<(), Errno> {
        self.m
            .serve(&mut self.now, &a, |m, now, t, r| {
                m.read(now, t, &mut buf[r])
            })
            .map_err(BusError::errno)
    }

    fn write(&mut self, a: Access, data: &[u8]) -> Result<(), Errno> {
        if a.page >= super::super::CDB_PAGE && a.offset >= 128 {
            self.cdb_writes[usize::from(a.bank)] += 1;
        }
        self.m
            .serve(&mut self.now, &a, |m, now, t, r| m.write(now, t, &data[r]))
            .map_err(BusError::errno)
    }

    fn sleep(&mut self, ns: Nanos) {
        assert!(ns > 0);
        self.now += ns;
    }

    fn reset_module(&mut self) -> Result<ModuleReset, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn notify(&mut self, _notice: Notice) {}

    fn interrupted(&self) -> Option<Interrupt> {
        None
    }
}

fn call(id: u16, scope: Scope) -> Call<'static> {
    Call {
        id: CommandId(id),
        lpl: &[],
        epl: &[],
        scope,
        instance: None,
        timeout_ms: None,
    }
}

fn run_on_bed(bed: &mut Bed, c: &Call<'_>) -> (Result<Outcome, RpcError>, std::vec::Vec<u8>) {
    let mut reply = [0u8; LPL_MAX_LEN];
    let r = run(bed, c, &mut reply);
    let len = r.map_or(0, |o| o.reply_len);
    (r, reply[..len].to_vec())
}

#[test]
fn above_its_scope_a_command_is_refused_before_the_module_is_touched() {
    let mut bed = Bed::new(Profile::DEFAULT);
    for (id, declared, needs) in [
        (0x0101, Scope::DebugWrite, Scope::DebugWriteFull),
        (0x8000, Scope::DebugWrite, Scope::DebugWriteFull),
        (0x0001, Scope::DebugReadOnly, Scope::DebugWrite),
        (0x0100, Scope::Configuration, Scope::DebugReadOnly),
    ] {
        let (r, _) = run_on_bed(&mut bed, &call(id, declared));
        assert_eq!(r, Err(RpcError::Refused(Refusal::AboveScope { needs })));
        assert_eq!(errno(&r.unwrap_err()), Errno::EPERM);
    }
    assert_eq!(bed.m.counters().reads + bed.m.counters().writes, 0);
}

#[test]
fn read_only_commands_reply_as_the_model_computes() {
    let mut bed = Bed::new(Profile::DEFAULT);
    let (r, reply) = run_on_bed(&mut bed, &call(0x0000, Scope::DebugReadOnly));
    let o = r.unwrap();
    assert!(o.succeeded() && o.instance == 1 && o.meaning() == "success");
    // Query Status: length 2, not unlocked.
    assert_eq!(reply, [2, 0]);
    // Get Firmware Info: bank A running and committed, version 1.0.0.
    let (r, reply) = run_on_bed(&mut bed, &call(0x0100, Scope::DebugReadOnly));
    assert!(r.unwrap().succeeded());
    let info = super::super::advert::FwInfo::decode(&reply);
    assert_eq!(info.running(), Some(crate::bank::BankId::A));
    // The vendor's harmless read: its counter is the model's.
    let (r, reply) = run_on_bed(&mut bed, &call(vendor::READ_STATUS, Scope::DebugWriteFull));
    assert!(r.unwrap().succeeded());
    assert_eq!(&reply[..4], b"EMU\0");
    let commands = u32::from_be_bytes([reply[4], reply[5], reply[6], reply[7]]);
    assert_eq!(u64::from(commands), bed.m.counters().commands);
    assert_eq!(commands, 3);
}

#[test]
fn a_vendor_setting_holds_until_the_module_resets() {
    let mut bed = Bed::new(Profile::DEFAULT);
    let set = Call {
        lpl: &[0x5a],
        ..call(vendor::SET_SETTING, Scope::DebugWriteFull)
    };
    let (r, reply) = run_on_bed(&mut bed, &set);
    assert!(r.unwrap().succeeded() && reply.is_empty());
    assert_eq!(bed.m.vendor_setting(), 0x5a);
    let (_, reply) = run_on_bed(&mut bed, &call(vendor::READ_STATUS, Scope::DebugWriteFull));
    assert_eq!(reply[3], 0x5a);
    bed.m.hard_reset(bed.now);
    assert_eq!(bed.m.vendor_setting(), 0);
    // Without its payload: a parameter error, told as the module's status.
    let (r, _) = run_on_bed(&mut bed, &call(vendor::SET_SETTING, Scope::DebugWriteFull));
    // The module is still booting after the reset: wait until it answers.
    let o = match r {
        Ok(o) => o,
        Err(_) => {
            bed.now += 5_000 * NS_PER_MS;
            let (r, _) = run_on_bed(&mut bed, &call(vendor::SET_SETTING, Scope::DebugWriteFull));
            r.unwrap()
        }
    };
    assert_eq!(o.status, 0x42);
    assert_eq!(o.meaning(), Failure::PARAMETER.message());
}

#[test]
fn a_command_the_module_does_not_know_ends_with_its_status() {
    let mut bed = Bed::new(Profile::DEFAULT);
    let (r, reply) = run_on_bed(&mut bed, &call(0x9000, Scope::DebugWriteFull));
    let o = r.unwrap();
    assert_eq!((o.status, o.succeeded(), reply.len()), (0x41, false, 0));
    assert_eq!(o.meaning(), "command id unknown to the module");
    // Performance monitoring is not implemented either.
    let (r, _) = run_on_bed(&mut bed, &call(0x0042, Scope::DebugReadOnly));
    assert_eq!(r.unwrap().status, 0x41);
}

#[test]
fn payloads_beyond_the_module_are_refused_without_writing() {
    let long = [0u8; LPL_MAX_LEN + 1];
    let mut bed = Bed::new(Profile::DEFAULT);
    let c = Call {
        lpl: &long,
        ..call(vendor::SET_SETTING, Scope::DebugWriteFull)
    };
    assert_eq!(
        run_on_bed(&mut bed, &c).0,
        Err(RpcError::Refused(Refusal::LplTooLong))
    );
    let epl = [0u8; 2049];
    let c = Call {
        epl: &epl,
        ..call(vendor::SET_SETTING, Scope::DebugWriteFull)
    };
    assert_eq!(
        run_on_bed(&mut bed, &c).0,
        Err(RpcError::Refused(Refusal::EplTooLong { max: 2048 }))
    );
    // A module without EPL pages takes none.
    let mut bed = Bed::new(Profile::REALISTIC_LPL);
    let c = Call {
        epl: &epl[..16],
        ..call(vendor::SET_SETTING, Scope::DebugWriteFull)
    };
    let r = run_on_bed(&mut bed, &c).0;
    assert_eq!(r, Err(RpcError::Refused(Refusal::EplTooLong { max: 0 })));
    assert_eq!(errno(&r.unwrap_err()), Errno::EINVAL);
    assert_eq!(bed.m.counters().writes, 0);
    for t in [0, MAX_TIMEOUT_MS + 1] {
        let c = Call {
            timeout_ms: Some(t),
            ..call(0x0000, Scope::DebugReadOnly)
        };
        assert_eq!(check(&c), Err(Refusal::BadTimeout));
    }
}

#[test]
fn an_epl_payload_reaches_the_module() {
    let mut bed = Bed::new(Profile::DEFAULT);
    let epl = [0x11u8; 300];
    let c = Call {
        lpl: &[7],
        epl: &epl,
        ..call(vendor::SET_SETTING, Scope::DebugWriteFull)
    };
    assert!(run_on_bed(&mut bed, &c).0.unwrap().succeeded());
    assert_eq!(bed.m.vendor_setting(), 7);
}

#[test]
fn instances_as_advertised_and_never_a_busy_one() {
    let mut bed = Bed::new(Profile::DEFAULT);
    let c = Call {
        instance: Some(2),
        ..call(0x0000, Scope::DebugReadOnly)
    };
    assert_eq!(
        run_on_bed(&mut bed, &c).0,
        Err(RpcError::Refused(Refusal::NoSuchInstance { instances: 1 }))
    );
    let mut p = Profile::DEFAULT;
    p.cdb_instances = 2;
    let mut bed = Bed::new(p);
    let (r, reply) = run_on_bed(&mut bed, &c);
    assert_eq!(r.unwrap().instance, 2);
    assert_eq!(reply, [2, 0]);
    assert!(bed.cdb_writes[1] > 0 && bed.cdb_writes[0] == 0);
    // Instance 1 hangs on a command: its pages are left alone, the next
    // call without an instance goes to instance 2.
    bed.m.faults.hang_next = true;
    let hang = Call {
        instance: Some(1),
        timeout_ms: Some(50),
        ..call(0x0000, Scope::DebugReadOnly)
    };
    let r = run_on_bed(&mut bed, &hang).0;
    assert!(
        matches!(r, Err(RpcError::Cdb(CdbError::Timeout { .. }))),
        "{r:?}"
    );
    let writes = bed.cdb_writes;
    let r = run_on_bed(&mut bed, &hang).0;
    assert!(
        matches!(r, Err(RpcError::Refused(Refusal::Busy { instance: 1, .. }))),
        "{r:?}"
    );
    assert_eq!(bed.cdb_writes, writes);
    let (r, _) = run_on_bed(&mut bed, &call(0x0000, Scope::DebugReadOnly));
    assert_eq!(r.unwrap().instance, 2);
    assert_eq!(bed.cdb_writes[0], writes[0]);
}

#[test]
fn the_inconvenient_modules_answer_too() {
    for name in Profile::NAMES {
        let mut bed = Bed::new(Profile::by_name(name).unwrap());
        // Past any boot phase.
        bed.now += 10_000 * NS_PER_MS;
        let (r, reply) = run_on_bed(&mut bed, &call(vendor::READ_STATUS, Scope::DebugWriteFull));
        let o = r.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(o.succeeded(), "{name}: {o:?}");
        assert_eq!(&reply[..3], b"EMU", "{name}");
        let (r, _) = run_on_bed(&mut bed, &call(0x0041, Scope::DebugReadOnly));
        assert!(r.unwrap().succeeded(), "{name}");
    }
}

#[test]
fn a_module_without_cdb_is_refused() {
    let mut p = Profile::DEFAULT;
    p.cdb_instances = 0;
    let mut bed = Bed::new(p);
    let r = run_on_bed(&mut bed, &call(0x0000, Scope::DebugReadOnly)).0;
    assert_eq!(r, Err(RpcError::Refused(Refusal::NoCdb)));
    let mut p = Profile::DEFAULT;
    p.identifier = 0x11; // QSFP28: SFF-8636
    let mut bed = Bed::new(p);
    let r = run_on_bed(&mut bed, &call(0x0000, Scope::DebugReadOnly)).0;
    assert_eq!(r, Err(RpcError::Refused(Refusal::NotCmis(0x11))));
    assert_eq!(errno(&r.unwrap_err()), Errno::EOPNOTSUPP);
}

#[test]
fn probe_tells_the_command_groups_the_module_answers() {
    let mut bed = Bed::new(Profile::DEFAULT);
    let p = probe(&mut bed).unwrap();
    // 0040h and 0041h answered; 0042h-0045h unknown to the emulator.
    assert_eq!(p.groups, 0b11);
    assert_eq!(p.busy, None);
    let f = p.features.unwrap();
    assert_eq!(f.lists(CommandId::QUERY_STATUS), Some(true));
    assert_eq!(p.cdb.advert.instances, 1);
    // Busy: nothing asked.
    bed.m.faults.hang_next = true;
    let hang = Call {
        timeout_ms: Some(50),
        ..call(0x0000, Scope::DebugReadOnly)
    };
    assert!(run_on_bed(&mut bed, &hang).0.is_err());
    let commands = bed.m.counters().commands;
    let p = probe(&mut bed).unwrap();
    assert!(p.busy.is_some() && p.groups == 0);
    assert_eq!(bed.m.counters().commands, commands);
}

#[test]
fn a_query_that_hangs_ends_the_probe_with_what_it_learnt() {
    // 0041h hangs: 0040h's answer is kept, the rest not asked.
    let mut bed = Bed::new(Profile::DEFAULT);
    bed.m.faults.hang_next = true;
    bed.m.faults.hang_command = Some(0x0041);
    let p = probe(&mut bed).unwrap();
    assert_eq!(p.groups, 0b1);
    assert!(p.features.is_some() && p.busy.is_some());
}

#[test]
fn run_firmware_image_expects_the_reset_not_a_reply() {
    let mut bed = Bed::new(Profile::DEFAULT);
    // Nothing to run (bank B holds no image): the module's status.
    let c = Call {
        lpl: &[0, 0, 0, 0],
        ..call(0x0109, Scope::DebugWriteFull)
    };
    let (r, reply) = run_on_bed(&mut bed, &c);
    let o = r.unwrap();
    assert!(!o.succeeded() && reply.is_empty(), "{o:?}");
}

#[test]
fn scopes_without_rawio_stop_below_the_full_one() {
    assert_eq!(scopes_for(true), 0b1111);
    assert_eq!(scopes_for(false), 0b0111);
}
