// SPDX-License-Identifier: GPL-2.0

//! What a module is and holds, read without changing it: the counterpart
//! of `devlink dev info` for a port's module, and of SONiC's
//! `sfputil show fwversion`. The identity comes from page 00h, the CDB's
//! capabilities from page 01h and Firmware Management Features (0041h),
//! and each bank's image and state from Get Firmware Info (0100h) where
//! the module answers it, else from the version registers (which say
//! what runs and what is inactive, not which bank holds which).
//!
//! Nothing is written but the commands' own pages (and the password, if
//! one is given): no command that changes the module is sent. A CDB busy
//! with a command is not written at all.

use super::super::cdb::advert::{fw_info_image, BankStatus, ImageVersion};
use super::*;

/// Page 00h: vendor name (129-144), OUI, part number (148-163), revision
/// (164-165) and serial number (166-181), read in one access.
const IDENTITY_STRINGS: Access = Access::new(0, 129, 53);

/// An ASCII field of the memory map, as the module filled it. Shown with
/// its trailing spaces (the padding CMIS asks for) and NULs cut and any
/// byte that is not printable ASCII as `?`: a module's bytes are not
/// trusted to be text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ascii<const N: usize>(pub [u8; N]);

impl<const N: usize> Ascii<N> {
    fn from_slice(b: &[u8]) -> Self {
        let mut a = [0u8; N];
        let n = b.len().min(N);
        a[..n].copy_from_slice(&b[..n]);
        Self(a)
    }

    /// The field without its padding.
    fn trimmed(&self) -> &[u8] {
        let end = self
            .0
            .iter()
            .rposition(|&c| c != b' ' && c != 0)
            .map_or(0, |i| i + 1);
        &self.0[..end]
    }

    /// Whether the field holds nothing but padding.
    pub fn is_empty(&self) -> bool {
        self.trimmed().is_empty()
    }
}

impl<const N: usize> fmt::Display for Ascii<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in self.trimmed() {
            let shown = if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            };
            fmt::Write::write_char(f, shown)?;
        }
        Ok(())
    }
}

impl<const N: usize> fmt::Debug for Ascii<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// An image a module describes in Get Firmware Info.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    /// Major, minor, build.
    pub version: ImageVersion,
    /// The vendor's extra version string.
    pub extra: Ascii<32>,
}

/// One bank, as Get Firmware Info describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bank {
    /// Running, committed, valid.
    pub status: BankStatus,
    /// The image, if the reply describes it.
    pub image: Option<Image>,
}

/// The firmware images and where their description comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// Get Firmware Info (0100h): both banks, and the factory image if
    /// the module keeps one.
    Banks {
        /// Bank A.
        a: Bank,
        /// Bank B.
        b: Bank,
        /// The factory (fallback) image.
        factory: Option<Image>,
    },
    /// The version registers (00h:39-40 and 01h:128-129): the module does
    /// not answer Get Firmware Info (or did not now: `why`), so which
    /// bank holds which image, and what is committed, is not known.
    Registers {
        /// The running image's version (00h:39-40).
        active: RegVersion,
        /// The other image's (01h:128-129; 0.0 or FF.FF: none).
        inactive: RegVersion,
        /// Why Get Firmware Info did not tell.
        why: NoBanks,
    },
}

/// Why an inventory has no bank view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoBanks {
    /// The module advertises no CDB.
    NoCdb,
    /// The CDB is busy with a command (its status byte), which is not
    /// disturbed.
    CdbBusy(u8),
    /// The module does not list Get Firmware Info among its commands.
    NotSupported,
    /// Get Firmware Info, or a command before it, failed (or gave an
    /// unusable reply).
    Failed(Step),
    /// The caller did not let the CDB be asked (a flash uses it).
    CdbInUse,
    /// The module is in ModuleFault.
    ModuleFault,
}

impl NoBanks {
    /// Its number in the netlink interface ([`uapi::no_banks`]).
    pub const fn code(&self) -> u32 {
        match self {
            Self::NoCdb => uapi::no_banks::NO_CDB,
            Self::CdbBusy(_) => uapi::no_banks::CDB_BUSY,
            Self::NotSupported => uapi::no_banks::NOT_SUPPORTED,
            Self::Failed(_) => uapi::no_banks::FAILED,
            Self::CdbInUse => uapi::no_banks::CDB_IN_USE,
            Self::ModuleFault => uapi::no_banks::MODULE_FAULT,
        }
    }
}

/// The CDB's capabilities, in brief.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CdbCaps {
    /// Page 01h: instances, background mode, EPL pages, auto paging.
    pub advert: CdbAdvert,
    /// Firmware Management Features (0041h), if the module answered it:
    /// abort, hitless restart, write mechanism, durations.
    pub firmware: Option<FwFeatures>,
}

/// What a module is and holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inventory {
    /// Identifier, CMIS revision, module state.
    pub identity: Identity,
    /// Vendor name (00h:129-144).
    pub vendor: Ascii<16>,
    /// Vendor part number (00h:148-163).
    pub part_number: Ascii<16>,
    /// Vendor revision (00h:164-165).
    pub revision: Ascii<2>,
    /// Vendor serial number (00h:166-181).
    pub serial: Ascii<16>,
    /// `None` for a module without a CDB.
    pub cdb: Option<CdbCaps>,
    /// The firmware images.
    pub firmware: Firmware,
}

/// Reads what the module behind `io` is and holds (see the module
/// documentation); the CDB is asked only if `ask_cdb` (the caller owns
/// it). Fails only when the module cannot be read or is no CMIS module
/// with pages; a module in ModuleFault is described all the same (its
/// state says so), as one whose CDB cannot answer.
pub fn inventory(
    io: &mut impl ModuleIo,
    opts: &Options,
    ask_cdb: bool,
) -> Result<Inventory, Error> {
    Session::new(io, opts).inventory(ask_cdb)
}

impl<I: ModuleIo> Session<'_, I> {
    fn inventory(&mut self, ask_cdb: bool) -> Result<Inventory, Error> {
        let mut b = [0u8; 4];
        self.read(Step::Identify, Access::new(0, lower::IDENTIFIER, 4), &mut b)?;
        let identity = Identity::decode(b);
        if !identity.is_cmis() {
            return Err(Error::new(
                Step::Identify,
                Cause::NotCmis(identity.identifier),
            ));
        }
        if identity.flat_memory {
            return Err(Error::new(Step::Identify, Cause::FlatMemory));
        }
        let mut strings = [0u8; IDENTITY_STRINGS.len];
        self.read(Step::Identify, IDENTITY_STRINGS, &mut strings)?;
        let field = |at: usize, len: usize| &strings[at - 129..at - 129 + len];
        let mut inv = Inventory {
            identity,
            vendor: Ascii::from_slice(field(129, 16)),
            part_number: Ascii::from_slice(field(148, 16)),
            revision: Ascii::from_slice(field(164, 2)),
            serial: Ascii::from_slice(field(166, 16)),
            cdb: None,
            firmware: Firmware::Registers {
                active: RegVersion::default(),
                inactive: RegVersion::default(),
                why: NoBanks::NoCdb,
            },
        };
        let why = if identity.major() >= 4 {
            let mut a = [0u8; 5];
            self.read(Step::Advertisement, Access::new(1, 163, 5), &mut a)?;
            let advert = CdbAdvert::decode(a);
            if advert.instances > 0 {
                let mut caps = CdbCaps {
                    advert,
                    firmware: None,
                };
                let banks = if ask_cdb {
                    self.bank_view(&identity, &mut caps)
                } else {
                    Err(NoBanks::CdbInUse)
                };
                inv.cdb = Some(caps);
                match banks {
                    Ok(firmware) => {
                        inv.firmware = firmware;
                        return Ok(inv);
                    }
                    Err(why) => why,
                }
            } else {
                NoBanks::NoCdb
            }
        } else {
            NoBanks::NoCdb
        };
        inv.firmware = Firmware::Registers {
            active: self.active_version(Step::Versions)?,
            inactive: self.inactive_version(Step::Versions)?,
            why,
        };
        Ok(inv)
    }

    /// The banks as Get Firmware Info describes them, asking Module
    /// Features and Firmware Management Features on the way (the latter
    /// goes into `caps`). Errors say why there is no bank view; none of
    /// them ends the inventory.
    fn bank_view(&mut self, identity: &Identity, caps: &mut CdbCaps) -> Result<Firmware, NoBanks> {
        let failed = |e: Error| NoBanks::Failed(e.step);
        if identity.state == module_state::FAULT {
            return Err(NoBanks::ModuleFault);
        }
        let mut status = [0u8];
        self.read(
            Step::Versions,
            Access::new(0, lower::CDB_STATUS_1, 1),
            &mut status,
        )
        .map_err(failed)?;
        if let Status::Busy(_) = Status::from_byte(status[0]) {
            return Err(NoBanks::CdbBusy(status[0]));
        }
        self.has_cdb = true;
        self.link.major = identity.major();
        self.link.background = caps.advert.background;
        self.link.lpl_access = lpl_access_max(caps.advert.rw_len_ext);
        self.link.fw_lpl_access = self.link.lpl_access;
        if let Some(pw) = &self.opts.password {
            self.password(pw, MIN_TIMEOUT_MS).map_err(failed)?;
        }
        // A request waits for its answer: every query gets the shortest
        // timeout (a module slower than that is read by its registers).
        let t = self.ms(MIN_TIMEOUT_MS);
        let len = MODULE_FEATURES_LEN;
        let id = CommandId::MODULE_FEATURES;
        match self.query(Step::ModuleFeatures, id, (len, len), t) {
            Ok(_) => self.features = ModuleFeatures::decode(&self.reply),
            // A module may not know 0040h and still know 0100h.
            Err(e) if e.command_may_still_run() => return Err(failed(e)),
            Err(_) => {}
        }
        if self.features.lists(CommandId::FW_MGMT_FEATURES) != Some(false) {
            let len = FW_FEATURES_LEN;
            let id = CommandId::FW_MGMT_FEATURES;
            match self.query(Step::FwFeatures, id, (len, len), t) {
                Ok(_) => {
                    let fw = FwFeatures::decode(&self.reply);
                    self.link.fw_lpl_access = lpl_access_max(fw.rw_len_ext);
                    caps.firmware = Some(fw);
                }
                Err(e) if e.command_may_still_run() => return Err(failed(e)),
                Err(_) => {}
            }
        }
        if self.features.lists(CommandId::GET_FW_INFO) == Some(false) {
            return Err(NoBanks::NotSupported);
        }
        let limits = (FW_INFO_MIN_LEN, FW_INFO_MAX_LEN);
        let len = self
            .query(Step::FwInfo, CommandId::GET_FW_INFO, limits, t)
            .map_err(failed)?;
        let reply = &self.reply[..len];
        let info = FwInfo::decode(reply);
        if info.running().is_none() {
            return Err(NoBanks::Failed(Step::FwInfo));
        }
        let image = |i: usize| {
            fw_info_image(reply, i).map(|(version, extra)| Image {
                version,
                extra: Ascii::from_slice(extra),
            })
        };
        let bank = |id: BankId| Bank {
            status: info.bank(id),
            image: image(id as usize),
        };
        Ok(Firmware::Banks {
            a: bank(BankId::A),
            b: bank(BankId::B),
            factory: image(2),
        })
    }
}
