// SPDX-License-Identifier: GPL-2.0

//! The emulated module's CDB engine: trigger, check, execute, reply.
//!
//! A command is captured when the host writes byte 129 of page 9Fh. The
//! engine reports busy (81h captured, 82h checking, 83h executing, by the
//! elapsed share of the command's busy time) and executes the command when
//! its busy time is over, at the first access after that, from what its
//! message area holds then. The checks follow the order of the CMIS status
//! table: lengths (42h), check code (45h), command id (41h), password
//! (46h), then the command's own checks. Completion writes the reply
//! first, then the status, then latches the completion flag, on success
//! and on failure alike. The quirks may delay each of these steps: the
//! status register shows a new command late (status lag), the report
//! follows the execution late, the flag follows the status late.

use super::super::cdb::{check_code, CommandId, Failure, LPL_MAX_LEN, STATUS_SUCCESS};
use super::super::image::Version;
use super::firmware::BankId;
use super::{
    vendor, write_mechanism, BootCdb, Executed, LogEntry, Module, Nanos, Pending, Power, NS_PER_MS,
    NS_PER_US,
};

/// What a successful command leaves behind.
enum Done {
    /// Nothing more than the status.
    Plain,
    /// A reply of this many bytes, already in place at 136.
    Reply(usize),
    /// Run: reset into `bank` after `delay_ms`, hitless or not.
    Reset {
        bank: BankId,
        delay_ms: u16,
        hitless: bool,
    },
    /// Power lost mid-write: the module reboots, no status.
    PowerLoss,
}

/// Largest Get Firmware Info reply (with the factory image).
const FW_INFO_LEN: usize = 110;

impl Module {
    /// Byte of 00h:8 latched when `instance` completes a command.
    pub(super) fn completion_flag(instance: usize) -> u8 {
        if instance == 0 {
            1 << 6
        } else {
            1 << 7
        }
    }

    pub(super) fn status_offset(instance: usize) -> usize {
        37 + instance
    }

    fn busy_us(&self, id: u16) -> u32 {
        let b = &self.profile.busy_us;
        match CommandId(id) {
            CommandId::START_FW_DOWNLOAD => b.start,
            CommandId::WRITE_FW_BLOCK_LPL | CommandId::WRITE_FW_BLOCK_EPL => b.write,
            CommandId::COMPLETE_FW_DOWNLOAD => b.complete,
            CommandId::ABORT_FW_DOWNLOAD => b.abort,
            CommandId::RUN_FW_IMAGE => b.run,
            CommandId::COMMIT_FW_IMAGE => b.commit,
            _ => b.other,
        }
    }

    /// Captures the command in `instance`'s page 9Fh at `now`.
    pub(super) fn trigger(&mut self, now: Nanos, instance: usize) {
        let msg = &self.cdb[instance];
        let id = u16::from_be_bytes([msg[0], msg[1]]);
        self.counters.commands += 1;
        self.counters.count_command(id);
        let hang = self.faults.hang_next && !matches!(self.faults.hang_command, Some(c) if c != id);
        let done_at = if hang {
            self.faults.hang_next = false;
            None
        } else {
            Some(now + u64::from(self.busy_us(id)) * NS_PER_US)
        };
        self.pending[instance] = Some(Pending {
            instance,
            id,
            triggered: now,
            shown_at: now + u64::from(self.profile.quirks.status_lag_us) * NS_PER_US,
            shown: false,
            done_at,
            result: None,
        });
        self.advance(now);
    }

    /// Shows the busy phase of the running commands in their status
    /// bytes, once the status shows them at all.
    pub(super) fn refresh_busy_status(&mut self, now: Nanos) {
        for p in self.pending.into_iter().flatten().filter(|p| p.shown) {
            let code = match p.done_at {
                Some(done) if done > p.triggered && p.result.is_none() => {
                    // The host may look again before the STOP of a
                    // trigger it saw refused (TriggerNack::Captured).
                    let share = now.saturating_sub(p.triggered) * 10 / (done - p.triggered);
                    match share {
                        0 => 0x81,
                        1 => 0x82,
                        _ => 0x83,
                    }
                }
                _ => 0x83,
            };
            self.lower[Self::status_offset(p.instance)] = code;
        }
    }

    /// The next step of `instance`'s command, which is due.
    pub(super) fn command_step(&mut self, instance: usize, report_delay: Nanos) {
        let Some(mut p) = self.pending[instance] else {
            return;
        };
        if !p.shown {
            // The status register and flag show the new command.
            p.shown = true;
            self.pending[instance] = Some(p);
            self.late_flag[instance] = None;
            self.lower[8] &= !Self::completion_flag(instance);
            self.lower[Self::status_offset(instance)] = 0x81;
        } else if p.result.is_none() {
            self.execute_command(p);
        } else {
            self.report_command(p, report_delay);
        }
    }

    /// Executes a command whose busy time is over and writes its reply;
    /// the status follows in [`Module::report_command`].
    fn execute_command(&mut self, mut p: Pending) {
        let done_at = p.done_at.unwrap_or(p.triggered);
        // The command the message area holds now: a host that wrote into
        // it while busy changed it.
        let msg = &self.cdb[p.instance];
        p.id = u16::from_be_bytes([msg[0], msg[1]]);
        let result = self.execute(p.instance, p.id, done_at);
        let (status, reset) = match result {
            Ok(Done::PowerLoss) => {
                self.counters.busy_ns += done_at - p.triggered;
                self.firmware.lose_download();
                let running = self.firmware.running;
                self.begin_reset(done_at, running);
                return;
            }
            Ok(Done::Reset {
                bank,
                delay_ms,
                hitless,
            }) => {
                self.write_reply(p.instance, 0);
                (STATUS_SUCCESS, Some((bank, delay_ms, hitless)))
            }
            Ok(Done::Plain) => {
                self.write_reply(p.instance, 0);
                (STATUS_SUCCESS, None)
            }
            Ok(Done::Reply(len)) => {
                self.write_reply(p.instance, len);
                (STATUS_SUCCESS, None)
            }
            Err(f) => {
                self.write_reply(p.instance, 0);
                (f.status_byte(), None)
            }
        };
        self.update_versions();
        p.result = Some(Executed { status, reset });
        self.pending[p.instance] = Some(p);
    }

    /// Reports an executed command: status, then the completion flag (at
    /// once or later), then for Run the reset DelayToReset after the flag.
    fn report_command(&mut self, p: Pending, report_delay: Nanos) {
        let (Some(ex), Some(at)) = (p.result, p.report_at(report_delay)) else {
            return;
        };
        let i = p.instance;
        self.pending[i] = None;
        let q = self.profile.quirks;
        self.lower[Self::status_offset(i)] = ex.status;
        let flag_at = at + u64::from(q.flag_delay_us) * NS_PER_US;
        self.host_wait.command_end_at = flag_at;
        if flag_at > at {
            self.late_flag[i] = Some(flag_at);
        } else {
            self.lower[8] |= Self::completion_flag(i);
        }
        self.reply_nacks[i] = q.reply_nack_reads;
        if self.cdb[i][6] > 0 {
            self.chk_glitches[i] = q.chk_glitch_reads;
            if self.faults.glitch_reply_chk > 0 {
                self.faults.glitch_reply_chk -= 1;
                self.chk_glitches[i] = self.chk_glitches[i].max(1);
            }
        }
        if let Some((bank, delay_ms, hitless)) = ex.reset {
            // DelayToReset counts from the completion flag.
            self.power = Power::ResetPending {
                at: flag_at + (u64::from(delay_ms) + u64::from(q.reset_extra_ms)) * NS_PER_MS,
                bank,
            };
            self.hitless_pending = hitless;
        }
        let busy = at - p.triggered;
        self.counters.busy_ns += busy;
        self.counters.count_status(ex.status);
        if ex.status == STATUS_SUCCESS {
            self.counters.commands_ok += 1;
        } else {
            self.counters.commands_failed += 1;
        }
        let msg = &self.cdb[i];
        self.log_command(LogEntry {
            triggered: p.triggered,
            busy_ns: busy,
            id: p.id,
            status: ex.status,
            lpl_len: msg[4],
            epl_len: u16::from_be_bytes([msg[2], msg[3]]),
        });
    }

    /// Sets RPLLength and RPLChkCode for a reply of `len` bytes at 136,
    /// corrupting them if told to.
    fn write_reply(&mut self, instance: usize, len: usize) {
        let msg = &mut self.cdb[instance];
        let mut rpl_len = len as u8;
        let mut chk = check_code(&msg[8..8 + len]);
        if self.faults.corrupt_reply_len > 0 && len > 0 {
            self.faults.corrupt_reply_len -= 1;
            rpl_len = rpl_len.wrapping_add(1);
        }
        if self.faults.corrupt_reply_chk > 0 && len > 0 {
            self.faults.corrupt_reply_chk -= 1;
            chk = !chk;
        }
        msg[6] = rpl_len;
        msg[7] = chk;
    }

    fn execute(&mut self, instance: usize, id: u16, now: Nanos) -> Result<Done, Failure> {
        let msg = self.cdb[instance];
        let epl_len = u16::from_be_bytes([msg[2], msg[3]]) as usize;
        let lpl_len = msg[4] as usize;
        if lpl_len > LPL_MAX_LEN || epl_len > self.profile.epl_pages() * 128 {
            return Err(Failure::PARAMETER);
        }
        let mut summed = msg;
        summed[5] = 0;
        summed[6] = 0;
        summed[7] = 0;
        if check_code(&summed[..8 + lpl_len]) != msg[5] {
            return Err(Failure::CHECK_CODE);
        }
        if !self.implements(id) || self.unknown_while_booting(id, now) {
            return Err(Failure::UNKNOWN_COMMAND);
        }
        if (0x0101..=0x010A).contains(&id) && self.profile.password_required && !self.unlocked {
            return Err(Failure::PASSWORD);
        }
        if self.faults.fail_count > 0 && !matches!(self.faults.fail_command, Some(c) if c != id) {
            self.faults.fail_count -= 1;
            return Err(Failure(self.faults.fail_code & 0x3f));
        }
        let lpl = &msg[8..8 + lpl_len];
        let rules = self.profile.rules();
        match CommandId(id) {
            CommandId::QUERY_STATUS => {
                let reply = [2, u8::from(self.unlocked)];
                Ok(self.reply(instance, &reply))
            }
            CommandId::ENTER_PASSWORD => {
                let pw = be32(lpl).ok_or(Failure::PARAMETER)?;
                self.unlocked = pw == self.profile.password;
                if self.unlocked {
                    Ok(Done::Plain)
                } else {
                    Err(Failure::PASSWORD)
                }
            }
            CommandId::CHANGE_PASSWORD => {
                let pw = be32(lpl).ok_or(Failure::PARAMETER)?;
                if !self.unlocked {
                    return Err(Failure::PASSWORD);
                }
                if pw & 0x8000_0000 != 0 {
                    return Err(Failure::PARAMETER);
                }
                self.profile.password = pw;
                Ok(Done::Plain)
            }
            CommandId::MODULE_FEATURES => {
                let mut r = [0u8; 36];
                for cmd in [0x0000u16, 0x0001, 0x0002, 0x0040, 0x0041] {
                    r[2 + cmd as usize / 8] |= 1 << (cmd % 8);
                }
                r[34..36].copy_from_slice(&self.profile.max_completion_ms.to_be_bytes());
                Ok(self.reply(instance, &r))
            }
            CommandId::FW_MGMT_FEATURES => {
                let p = &self.profile;
                let mut r = [0u8; 18];
                r[1] = u8::from(p.abort_supported)
                    | u8::from(p.skip_erased) << 2
                    | u8::from(p.durations_10x) << 3;
                r[2] = p.start_payload_size;
                r[3] = p.erased_byte;
                r[4] = p.rw_len_ext;
                r[5] = p.write_mechanism;
                r[6] = 0; // no read back
                r[7] = u8::from(p.hitless_restart);
                for (i, d) in p.max_durations.iter().enumerate() {
                    r[8 + 2 * i..10 + 2 * i].copy_from_slice(&d.to_be_bytes());
                }
                Ok(self.reply(instance, &r))
            }
            CommandId::GET_FW_INFO => {
                let mut r = [0u8; FW_INFO_LEN];
                let fw = &self.firmware;
                if self.profile.quirks.single_bank {
                    // One bank, A: the image the module runs; no B.
                    r[0] = 0x03 | 0x40;
                    r[1] = 0x01;
                    put_version(&mut r[2..38], &fw.bank(fw.running).version);
                    if fw.factory.valid {
                        r[1] |= 1 << 2;
                        put_version(&mut r[74..110], &fw.factory.version);
                    }
                    return Ok(self.reply(instance, &r));
                }
                for (i, bank) in [BankId::A, BankId::B].into_iter().enumerate() {
                    let b = fw.bank(bank);
                    let shift = 4 * i;
                    r[0] |= (u8::from(fw.running == bank)
                        | u8::from(fw.committed == bank) << 1
                        | u8::from(!b.valid) << 2)
                        << shift;
                    if b.valid {
                        r[1] |= 1 << i;
                        put_version(&mut r[2 + 36 * i..38 + 36 * i], &b.version);
                    }
                }
                if fw.factory.valid {
                    r[1] |= 1 << 2;
                    put_version(&mut r[74..110], &fw.factory.version);
                }
                Ok(self.reply(instance, &r))
            }
            CommandId::START_FW_DOWNLOAD => {
                let size = be32(lpl).ok_or(Failure::PARAMETER)?;
                self.firmware
                    .start(&rules, size, &lpl[8.min(lpl.len())..])?;
                Ok(Done::Plain)
            }
            CommandId::ABORT_FW_DOWNLOAD => {
                self.firmware.abort();
                Ok(Done::Plain)
            }
            CommandId::WRITE_FW_BLOCK_LPL | CommandId::WRITE_FW_BLOCK_EPL => {
                let address = be32(lpl).ok_or(Failure::PARAMETER)?;
                let data = if id == CommandId::WRITE_FW_BLOCK_LPL.0 {
                    &lpl[4..]
                } else {
                    &self.epl[instance][..epl_len]
                };
                if self.firmware.download.is_some() && self.faults.power_loss_on_write {
                    self.faults.power_loss_on_write = false;
                    return Ok(Done::PowerLoss);
                }
                self.firmware.write_block(&rules, address, data)?;
                Ok(Done::Plain)
            }
            CommandId::COMPLETE_FW_DOWNLOAD => {
                let target = self.firmware.download.map(|d| d.target);
                self.firmware.complete(&rules)?;
                if let (true, Some(t)) = (self.profile.quirks.single_bank, target) {
                    // The one bank now holds the new image: any reset
                    // boots it.
                    self.firmware.committed = t;
                }
                Ok(Done::Plain)
            }
            CommandId::RUN_FW_IMAGE => {
                if lpl.len() < 4 {
                    return Err(Failure::PARAMETER);
                }
                let mode = lpl[1];
                let bank = if self.profile.quirks.single_bank {
                    self.single_bank_run_target(mode)?
                } else {
                    self.firmware.run_target(mode)?
                };
                Ok(Done::Reset {
                    bank,
                    delay_ms: u16::from_be_bytes([lpl[2], lpl[3]]),
                    hitless: mode & 1 == 1 && self.profile.hitless_restart,
                })
            }
            CommandId::COMMIT_FW_IMAGE => {
                // One bank: what it holds is what boots; nothing to do.
                if !self.profile.quirks.single_bank {
                    self.firmware.commit();
                }
                Ok(Done::Plain)
            }
            CommandId(vendor::READ_STATUS) => {
                let mut r = [0u8; vendor::STATUS_LEN];
                r[..3].copy_from_slice(b"EMU");
                r[3] = self.vendor_setting;
                // The counter is 64 bits; the reply shows the low 32.
                r[4..8].copy_from_slice(&(self.counters.commands as u32).to_be_bytes());
                Ok(self.reply(instance, &r))
            }
            CommandId(vendor::SET_SETTING) => {
                self.vendor_setting = *lpl.first().ok_or(Failure::PARAMETER)?;
                Ok(Done::Plain)
            }
            _ => Err(Failure::UNKNOWN_COMMAND),
        }
    }

    /// Whether the module implements command `id` with its profile.
    fn implements(&self, id: u16) -> bool {
        let p = &self.profile;
        let download = p.write_mechanism != write_mechanism::NONE;
        match CommandId(id) {
            CommandId::QUERY_STATUS
            | CommandId::ENTER_PASSWORD
            | CommandId::CHANGE_PASSWORD
            | CommandId::MODULE_FEATURES
            | CommandId::FW_MGMT_FEATURES
            | CommandId::GET_FW_INFO
            | CommandId::RUN_FW_IMAGE
            | CommandId::COMMIT_FW_IMAGE
            | CommandId(vendor::READ_STATUS | vendor::SET_SETTING) => true,
            CommandId::START_FW_DOWNLOAD | CommandId::COMPLETE_FW_DOWNLOAD => download,
            CommandId::ABORT_FW_DOWNLOAD => download && p.abort_supported,
            CommandId::WRITE_FW_BLOCK_LPL => write_mechanism::has_lpl(p.write_mechanism),
            CommandId::WRITE_FW_BLOCK_EPL => {
                write_mechanism::has_epl(p.write_mechanism) && p.epl_pages() > 0
            }
            _ => false,
        }
    }

    /// Whether the boot phase makes command `id` unknown at `now`.
    fn unknown_while_booting(&self, id: u16, now: Nanos) -> bool {
        if !self.booting(now) {
            return false;
        }
        match self.profile.quirks.boot_cdb {
            BootCdb::Full | BootCdb::NoCdb => false,
            BootCdb::NoFirmwareInfo => id == CommandId::GET_FW_INFO.0,
            BootCdb::NoFeatures => {
                id == CommandId::GET_FW_INFO.0 || id == CommandId::FW_MGMT_FEATURES.0
            }
        }
    }

    /// The bank Run boots on a module with one bank: the image a
    /// completed download left (modes 0, 1: there must be one) or what
    /// the bank holds (modes 2, 3: restart).
    fn single_bank_run_target(&self, mode: u8) -> Result<BankId, Failure> {
        let fw = &self.firmware;
        match mode {
            0 | 1 if fw.committed == fw.running || fw.download.is_some() => Err(Failure::BAD_STATE),
            0..=3 => Ok(fw.committed),
            _ => Err(Failure::PARAMETER),
        }
    }

    /// Puts `payload` at 136 and returns the reply outcome.
    fn reply(&mut self, instance: usize, payload: &[u8]) -> Done {
        self.cdb[instance][8..8 + payload.len()].copy_from_slice(payload);
        Done::Reply(payload.len())
    }
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn put_version(out: &mut [u8], v: &Version) {
    out[0] = v.major;
    out[1] = v.minor;
    out[2..4].copy_from_slice(&v.build.to_be_bytes());
    out[4..36].copy_from_slice(&v.text);
}
