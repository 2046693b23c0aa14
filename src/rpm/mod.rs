//! The RPM family (dnf, yum, zypper): repository metadata shared by the backends. The
//! package lists (`primary`), the updateinfo advisory feeds, and the sqlite rpm database.

pub mod primary;
pub mod rpmdb;
pub mod updateinfo;
