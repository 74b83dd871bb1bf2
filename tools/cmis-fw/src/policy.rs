// SPDX-License-Identifier: GPL-2.0

//! `cmis-fw update --policy FILE`: bring every port to the firmware
//! version its module's part number calls for, as FBOSS's upgrader does
//! with its version map. The inventory says what each module is and runs;
//! a port that runs its wanted version is left alone (its link may stay
//! up); the others are flashed at once with their files, each stating the
//! wanted version, so that the kernel checks it too (no download if the
//! inactive bank holds it, an image of another version never committed).

use crate::info::ModuleInfo;
use crate::jobs::PortJob;
use crate::netlink::Job;
use anyhow::{anyhow, bail, Context, Result};
use cmis_core::fw_update::version::{Match, Version};
use serde::Deserialize;

/// A policy file: `{"schema": 1, "modules": [RULE, ...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Policy {
    schema: u32,
    modules: Vec<Rule>,
}

/// Which modules a rule is for, and what they should run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rule {
    /// The module's part number (00h page, as `info` shows it).
    part_number: String,
    /// Its vendor name, if the part number alone is ambiguous.
    #[serde(default)]
    vendor: Option<String>,
    /// The wanted version, MAJOR.MINOR[.BUILD].
    version: String,
    /// The image holding it, relative to the firmware search path.
    file: String,
}

impl Policy {
    /// Parses and checks a policy file's text.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let p: Self = serde_json::from_str(text).context("policy file")?;
        if p.schema != 1 {
            bail!(
                "policy file: schema {} unknown (this tool reads 1)",
                p.schema
            );
        }
        for r in &p.modules {
            if Version::parse(r.version.as_bytes()).is_none() {
                bail!(
                    "policy file: version {:?} of {} is not MAJOR.MINOR[.BUILD]",
                    r.version,
                    r.part_number
                );
            }
        }
        Ok(p)
    }

    /// The rule for a module: the one naming its part number and vendor,
    /// else the one naming its part number only; an error if two rules
    /// are equally specific.
    fn rule_for(&self, m: &ModuleInfo) -> Result<Option<&Rule>> {
        let pn = m.part_number.as_deref().unwrap_or_default();
        let vendor = m.vendor.as_deref().unwrap_or_default();
        for specific in [true, false] {
            let mut rules = self.modules.iter().filter(|r| {
                r.part_number == pn
                    && match r.vendor.as_deref() {
                        Some(v) => specific && v == vendor,
                        None => !specific,
                    }
            });
            if let Some(first) = rules.next() {
                if rules.next().is_some() {
                    bail!("policy file: several rules for {vendor} {pn}");
                }
                return Ok(Some(first));
            }
        }
        Ok(None)
    }
}

/// What an update does to one port.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Flash this job.
    Flash(Job),
    /// Leave it: why, and the version it runs.
    Skip(String, Option<String>),
}

/// The version a module runs, as its inventory shows it: the running
/// bank's image (with the build) if Get Firmware Info described it, else
/// the active version register; and whether it is committed (`None`:
/// the registers do not tell).
fn running(m: &ModuleInfo) -> Option<(Version, Option<bool>)> {
    let bank = m.images.iter().find(|i| i.running == Some(true));
    let text = bank
        .and_then(|i| i.version.as_deref())
        .or(m.active_version.as_deref())?;
    // A register view "3.2" or an image's "3.2.17".
    let v = Version::parse(text.as_bytes())?;
    Some((v, bank.and_then(|i| i.committed)))
}

/// What to do to the port `m` describes.
pub(crate) fn plan(policy: &Policy, m: &ModuleInfo) -> Result<Plan> {
    let Some(rule) = policy.rule_for(m)? else {
        let pn = m.part_number.as_deref().unwrap_or("(no part number)");
        return Ok(Plan::Skip(format!("no policy for {pn}"), None));
    };
    let wanted = Version::parse(rule.version.as_bytes())
        .ok_or_else(|| anyhow!("policy file: bad version {}", rule.version))?;
    if let Some((v, committed)) = running(m) {
        // A build the module does not show is not taken for the wanted
        // one: the flash is asked for, and the kernel proves or refuses.
        // An uncommitted one is left to the flash, which commits it.
        if wanted.matches(&v) == Match::Yes && committed != Some(false) {
            return Ok(Plan::Skip(
                format!("up to date ({})", rule.version),
                Some(v.to_string()),
            ));
        }
    }
    Ok(Plan::Flash(Job::Flash {
        file: rule.file.clone(),
        until: None,
        version: Some(rule.version.clone()),
        link_up: false,
        hitless: false,
    }))
}

/// An update's work: the flashes to run (device, job), and the ports left
/// alone.
pub(crate) struct Work {
    pub(crate) flashes: Vec<(String, Job)>,
    pub(crate) settled: Vec<PortJob>,
}

/// Splits ports into flashes to run and ports left alone (a port the
/// policy cannot decide is refused, the others go on).
pub(crate) fn split(policy: &Policy, modules: &[ModuleInfo]) -> Work {
    let (mut flashes, mut settled) = (Vec::new(), Vec::new());
    for m in modules {
        match plan(policy, m) {
            Ok(Plan::Flash(job)) => flashes.push((m.device.clone(), job)),
            Ok(Plan::Skip(why, version)) => {
                settled.push(PortJob::skipped(&m.device, why, version));
            }
            Err(e) => settled.push(PortJob::refused(&m.device, format!("{e:#}"))),
        }
    }
    Work { flashes, settled }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::ImageInfo;

    const POLICY: &str = r#"{"schema": 1, "modules": [
        {"part_number": "QDD-400G-DR4", "version": "2.1.7", "file": "acme/dr4-2.1.7.bin"},
        {"part_number": "OSFP-800G", "vendor": "ACME", "version": "3.0", "file": "acme/osfp-3.0.bin"}
    ]}"#;

    fn module(pn: &str, vendor: &str, running: Option<&str>, active: Option<&str>) -> ModuleInfo {
        ModuleInfo {
            device: "eth3".into(),
            part_number: Some(pn.into()),
            vendor: Some(vendor.into()),
            images: running
                .map(|v| {
                    vec![ImageInfo {
                        slot: "A",
                        running: Some(true),
                        valid: true,
                        version: Some(v.into()),
                        ..ImageInfo::default()
                    }]
                })
                .unwrap_or_default(),
            active_version: active.map(Into::into),
            ..ModuleInfo::default()
        }
    }

    #[test]
    fn each_port_gets_what_its_part_number_calls_for() {
        let p = Policy::parse(POLICY).unwrap();
        // Runs it: left alone.
        let m = module("QDD-400G-DR4", "X", Some("2.1.7"), None);
        assert!(matches!(plan(&p, &m).unwrap(), Plan::Skip(w, _) if w.starts_with("up to date")));
        // Another build, or only the registers (no build): flashed,
        // stating the version.
        for m in [
            module("QDD-400G-DR4", "X", Some("2.1.6"), None),
            module("QDD-400G-DR4", "X", None, Some("2.1")),
        ] {
            let Plan::Flash(Job::Flash { file, version, .. }) = plan(&p, &m).unwrap() else {
                panic!("not flashed: {m:?}");
            };
            assert_eq!(
                (file.as_str(), version.as_deref()),
                ("acme/dr4-2.1.7.bin", Some("2.1.7"))
            );
        }
        // A rule with a vendor applies to that vendor's modules only.
        let other_vendor = module("OSFP-800G", "OTHER", None, Some("2.0"));
        assert!(
            matches!(plan(&p, &other_vendor).unwrap(), Plan::Skip(w, _) if w.starts_with("no policy"))
        );
        let acme = module("OSFP-800G", "ACME", None, Some("3.0"));
        assert!(
            matches!(plan(&p, &acme).unwrap(), Plan::Skip(w, _) if w.starts_with("up to date"))
        );
        // Running the version uncommitted: flashed (the kernel commits it).
        let mut uncommitted = module("QDD-400G-DR4", "X", Some("2.1.7"), None);
        uncommitted.images[0].committed = Some(false);
        assert!(matches!(plan(&p, &uncommitted).unwrap(), Plan::Flash(_)));
    }

    #[test]
    fn a_vendor_rule_wins_over_a_generic_one() {
        let p = Policy::parse(
            r#"{"schema": 1, "modules": [
                {"part_number": "X", "version": "2.1", "file": "generic"},
                {"part_number": "X", "vendor": "ACME", "version": "2.2", "file": "acme"}]}"#,
        )
        .unwrap();
        let file = |m| match plan(&p, &m).unwrap() {
            Plan::Flash(Job::Flash { file, .. }) => file,
            other => panic!("{other:?}"),
        };
        assert_eq!(file(module("X", "ACME", None, Some("1.0"))), "acme");
        assert_eq!(file(module("X", "OTHER", None, Some("1.0"))), "generic");
    }

    #[test]
    fn bad_policies_are_refused() {
        for bad in [
            r#"{"schema": 2, "modules": []}"#,
            r#"{"schema": 1, "modules": [{"part_number": "X", "version": "2.x", "file": "f"}]}"#,
            r#"{"schema": 1, "modules": [{"part_number": "X", "version": "2.1"}]}"#,
            r#"{"schema": 1, "modules": [], "extra": 1}"#,
            "not json",
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad}");
        }
        let twice = Policy::parse(
            r#"{"schema": 1, "modules": [
                {"part_number": "X", "version": "2.1", "file": "a"},
                {"part_number": "X", "version": "2.2", "file": "b"}]}"#,
        )
        .unwrap();
        assert!(plan(&twice, &module("X", "V", None, Some("1.0"))).is_err());
    }
}
