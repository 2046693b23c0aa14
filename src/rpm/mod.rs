//! The RPM family (dnf, yum, zypper): repository metadata shared by the backends. The
//! package lists (`primary`) and the updateinfo advisory feeds.

pub mod primary;
pub mod updateinfo;
