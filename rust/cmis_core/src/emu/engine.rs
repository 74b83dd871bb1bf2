// SPDX-License-Identifier: GPL-2.0

//! The emulated module's CDB engine: trigger, check, execute, reply.
//!
//! A command is captured when the host writes byte 129 of page 9Fh. The
//! engine reports busy (81h captured, 82h checking, 83h executing, by the
//! elapsed share of the command's busy time) and executes the command when
//! its busy time is over, at the first access after that. The checks
//! follow the order of the CMIS status table: lengths (42h), check code
//! (45h), command id (41h), password (46h), then the command's own checks.
//! Completion writes the reply first, then the status, then latches the
//! completion flag, on success and on failure alike.

use super::super::cdb::{check_code, CommandId, Failure, LPL_MAX_LEN, STATUS_SUCCESS};
use super::super::image::Version;
use super::firmware::BankId;
use super::{write_mechanism, LogEntry, Module, Nanos, Pending, Power, NS_PER_MS};

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
    fn completion_flag(instance: usize) -> u8 {
        if instance == 0 {
            1 << 6
        } else {
            1 << 7
        }
    }

    fn status_offset(instance: usize) -> usize {
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
        self.lower[8] &= !Self::completion_flag(instance);
        self.lower[Self::status_offset(instance)] = 0x81;
        let hang = self.faults.hang_next && self.faults.hang_command.map_or(true, |c| c == id);
        let done_at = if hang {
            self.faults.hang_next = false;
            None
        } else {
            Some(now + self.busy_us(id) as u64 * 1_000)
        };
        self.pending[instance] = Some(Pending {
            instance,
            id,
            triggered: now,
            done_at,
        });
        self.advance(now);
    }

    /// Shows the busy phase of the running commands in their status
    /// bytes.
    pub(super) fn refresh_busy_status(&mut self, now: Nanos) {
        for p in self.pending.into_iter().flatten() {
            let code = match p.done_at {
                Some(done) if done > p.triggered => {
                    let share = (now - p.triggered) * 10 / (done - p.triggered);
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

    /// Executes a command whose busy time is over and reports it.
    pub(super) fn finish_command(&mut self, p: Pending) {
        let done_at = p.done_at.unwrap_or(p.triggered);
        self.pending[p.instance] = None;
        let result = self.execute(p.instance, p.id);
        let busy = done_at - p.triggered;
        self.counters.busy_ns += busy;

        let status = match result {
            Ok(Done::PowerLoss) => {
                self.firmware.lose_download();
                let running = self.firmware.running;
                self.begin_reset(done_at, running);
                self.advance(done_at);
                return;
            }
            Ok(Done::Reset {
                bank,
                delay_ms,
                hitless,
            }) => {
                self.power = Power::ResetPending {
                    at: done_at + delay_ms as u64 * NS_PER_MS,
                    bank,
                };
                self.hitless_pending = hitless;
                self.write_reply(p.instance, 0);
                STATUS_SUCCESS
            }
            Ok(Done::Plain) => {
                self.write_reply(p.instance, 0);
                STATUS_SUCCESS
            }
            Ok(Done::Reply(len)) => {
                self.write_reply(p.instance, len);
                STATUS_SUCCESS
            }
            Err(f) => {
                self.write_reply(p.instance, 0);
                f.status_byte()
            }
        };
        self.counters.count_status(status);
        if status == STATUS_SUCCESS {
            self.counters.commands_ok += 1;
        } else {
            self.counters.commands_failed += 1;
        }
        self.update_versions();
        self.lower[Self::status_offset(p.instance)] = status;
        self.lower[8] |= Self::completion_flag(p.instance);
        let msg = &self.cdb[p.instance];
        self.log_command(LogEntry {
            triggered: p.triggered,
            busy_ns: busy,
            id: p.id,
            status,
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

    fn execute(&mut self, instance: usize, id: u16) -> Result<Done, Failure> {
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
        if !self.implements(id) {
            return Err(Failure::UNKNOWN_COMMAND);
        }
        if (0x0101..=0x010A).contains(&id) && self.profile.password_required && !self.unlocked {
            return Err(Failure::PASSWORD);
        }
        if self.faults.fail_count > 0 && self.faults.fail_command.map_or(true, |c| c == id) {
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
                self.firmware.complete(&rules)?;
                Ok(Done::Plain)
            }
            CommandId::RUN_FW_IMAGE => {
                if lpl.len() < 4 {
                    return Err(Failure::PARAMETER);
                }
                let mode = lpl[1];
                let bank = self.firmware.run_target(mode)?;
                Ok(Done::Reset {
                    bank,
                    delay_ms: u16::from_be_bytes([lpl[2], lpl[3]]),
                    hitless: mode & 1 == 1 && self.profile.hitless_restart,
                })
            }
            CommandId::COMMIT_FW_IMAGE => {
                self.firmware.commit();
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
            | CommandId::COMMIT_FW_IMAGE => true,
            CommandId::START_FW_DOWNLOAD | CommandId::COMPLETE_FW_DOWNLOAD => download,
            CommandId::ABORT_FW_DOWNLOAD => download && p.abort_supported,
            CommandId::WRITE_FW_BLOCK_LPL => p.write_mechanism & write_mechanism::LPL != 0,
            CommandId::WRITE_FW_BLOCK_EPL => {
                p.write_mechanism & write_mechanism::EPL != 0 && p.epl_pages() > 0
            }
            _ => false,
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
