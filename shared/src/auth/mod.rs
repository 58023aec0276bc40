//! Who is asking: passwords, tokens, sessions, roles.
//!
//! Other functions need only [`authenticate`] (or [`context::require`]) and
//! the [`TenantContext`] it returns: tenant, user, role, permissions and line
//! scope, all derived from the access token. See `context` for what is checked
//! on every request, `rbac` for the roles and permissions of docs/roles.md#roles,
//! `ratelimit` and `audit` for the shared helpers. The SQL of the auth tables
//! is the store's (`dash_store::{users, user_login, audit, rate_limit,
//! tenancy, housekeeping}`).

pub mod account;
pub mod audit;
pub mod context;
pub mod input;
pub mod login;
pub mod ratelimit;
pub mod rbac;
pub mod sessions;
pub mod tokens;

pub use context::{authenticate, require, AuthMethod, TenantContext};
pub use dash_store::housekeeping::{housekeeping, HousekeepingReport};
pub use rbac::{Permission, PermissionSet, Role};
