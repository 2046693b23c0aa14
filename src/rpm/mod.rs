//! The RPM family (dnf, yum, zypper): repository metadata shared by the backends. So far: the
//! updateinfo advisory feeds.

pub mod updateinfo;
