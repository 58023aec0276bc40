//! Who is asking: passwords, tokens, sessions, roles.
//!
//! Other functions need only [`authenticate`] (or [`context::require`]) and
//! the [`TenantContext`] it returns: tenant, user, role, permissions and line
//! scope, all derived from the access token. See `context` for what is checked
//! on every request, `rbac` for the roles and permissions of docs/roles.md#roles,
//! `ratelimit` and `audit` for the shared helpers.

pub mod account;
pub mod audit;
pub mod context;
pub mod housekeeping;
pub mod input;
pub mod login;
pub mod ratelimit;
pub mod rbac;
pub mod sessions;
pub mod tokens;

pub use context::{authenticate, require, AuthMethod, TenantContext};
pub use housekeeping::{housekeeping, HousekeepingReport};
pub use rbac::{Permission, PermissionSet, Role};
