//! Shared harness for the integration tests: fresh databases, and the real hosts
//! (CGI, Apache with mod_cgid/mod_fcgid, the Lambda runtime interface) the
//! release binaries run under.

pub mod app;
pub mod cpanel_apache;
pub mod hosts;
pub mod testdb;
pub mod wire;
