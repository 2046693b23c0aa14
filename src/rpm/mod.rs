//! The RPM family (dnf, yum, zypper): everything the backends share. The package lists
//! (`primary`), the updateinfo advisory feeds, the sqlite rpm database, repository files and
//! priorities ([`repos`]), the parsed-metadata cache ([`cache`]), the installed packages and
//! advisory linking ([`system`]), and the native reboot rule ([`reboot`]). Nothing here runs dnf
//! or zypper; `dnf/` and `zypper/` are adapters over it and do not import each other.

pub mod cache;
pub mod primary;
pub mod reboot;
pub mod repos;
pub mod rpmdb;
pub mod system;
pub mod updateinfo;
