//! The predefined AWS baselines for Linux (spec §2.7), compiled into the binary from
//! `baselines/*.json` so that the tool works without that folder.

use super::{Baseline, BaselineError};
use crate::model::OperatingSystem;

/// A predefined baseline as shipped: its AWS name, operating system and JSON text (API shape).
#[derive(Debug, Clone, Copy)]
pub struct BuiltinBaseline {
    /// The AWS name, e.g. `AWS-AmazonLinux2DefaultPatchBaseline`.
    pub name: &'static str,
    /// The operating system it is the default for.
    pub operating_system: OperatingSystem,
    /// The JSON text, as `aws ssm get-patch-baseline` printed it.
    pub json: &'static str,
}

impl BuiltinBaseline {
    /// Loads and validates the baseline.
    pub fn load(&self) -> Result<Baseline, BaselineError> {
        Baseline::from_json(self.json, &format!("built-in {}", self.name))
    }
}

macro_rules! builtin {
    ($name:literal, $os:ident) => {
        BuiltinBaseline {
            name: $name,
            operating_system: OperatingSystem::$os,
            json: include_str!(concat!("../../baselines/", $name, ".json")),
        }
    };
}

/// Every predefined Linux baseline, one per operating system.
pub const BUILTIN_BASELINES: &[BuiltinBaseline] = &[
    builtin!("AWS-AmazonLinuxDefaultPatchBaseline", AmazonLinux),
    builtin!("AWS-AmazonLinux2DefaultPatchBaseline", AmazonLinux2),
    builtin!("AWS-AmazonLinux2022DefaultPatchBaseline", AmazonLinux2022),
    builtin!("AWS-AmazonLinux2023DefaultPatchBaseline", AmazonLinux2023),
    builtin!("AWS-RedHatDefaultPatchBaseline", RedhatEnterpriseLinux),
    builtin!("AWS-CentOSDefaultPatchBaseline", Centos),
    builtin!("AWS-OracleLinuxDefaultPatchBaseline", OracleLinux),
    builtin!("AWS-RockyLinuxDefaultPatchBaseline", RockyLinux),
    builtin!("AWS-AlmaLinuxDefaultPatchBaseline", AlmaLinux),
    builtin!("AWS-SuseDefaultPatchBaseline", Suse),
    builtin!("AWS-UbuntuDefaultPatchBaseline", Ubuntu),
    builtin!("AWS-DebianDefaultPatchBaseline", Debian),
    builtin!("AWS-RaspbianDefaultPatchBaseline", Raspbian),
];

/// The predefined baseline for an operating system.
pub fn builtin_for(operating_system: OperatingSystem) -> Option<&'static BuiltinBaseline> {
    BUILTIN_BASELINES
        .iter()
        .find(|b| b.operating_system == operating_system)
}

/// The predefined baseline with this AWS name (case-insensitive).
pub fn find_builtin(name: &str) -> Option<&'static BuiltinBaseline> {
    BUILTIN_BASELINES
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads_for_its_os() {
        for builtin in BUILTIN_BASELINES {
            let baseline = builtin.load().unwrap();
            assert_eq!(baseline.operating_system, builtin.operating_system);
            assert_eq!(baseline.name, builtin.name);
            assert!(baseline.id.starts_with("pb-"), "{}", baseline.id);
        }
    }
}
