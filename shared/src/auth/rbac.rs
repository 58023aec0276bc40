//! Roles and permissions (docs/roles.md#roles).
//!
//! A role grants a fixed set of [`Permission`]s; `user.permissions` (JSON)
//! refines it per user:
//!
//! ```json
//! {"extra": ["downtime.justify"], "removed": ["data.export"], "lines": [1, 3]}
//! ```
//!
//! * `extra` adds permissions, `removed` takes them away (applied after `extra`);
//! * `lines` limits the user to those line ids everywhere (lists, data, metrics,
//!   widgets). Absent or `null` = every line; `[]` = no line at all.
//!
//! Only a superadmin (no tenant) can ever hold `tenants.manage`: it is dropped
//! from every tenant user's effective set whatever their JSON says.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use dash_store::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Superadmin,
    Admin,
    Manager,
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Superadmin,
        Role::Admin,
        Role::Manager,
        Role::Operator,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Superadmin => "superadmin",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role's place in the hierarchy, superadmin highest: nobody grants a
    /// role ranked above their own, nor manages a user who holds one.
    pub fn rank(self) -> u8 {
        match self {
            Role::Superadmin => 5,
            Role::Admin => 4,
            Role::Manager => 3,
            Role::Operator => 2,
            Role::Viewer => 1,
        }
    }

    /// What the role may do before any per-user refinement.
    pub fn default_permissions(self) -> PermissionSet {
        use Permission::*;
        match self {
            Role::Superadmin => PermissionSet::from_slice(&Permission::ALL),
            // Everything within the plant: registering and managing plants
            // is the service operator's alone.
            Role::Admin => {
                let mut set = Role::Superadmin.default_permissions();
                set.remove(TenantsManage);
                set
            }
            Role::Manager => PermissionSet::from_slice(&[
                DataRead,
                DataExport,
                DowntimeJustify,
                DowntimeCalculate,
                LayoutEditOwn,
            ]),
            Role::Operator => PermissionSet::from_slice(&[DataRead, DataExport, DowntimeJustify]),
            Role::Viewer => PermissionSet::from_slice(&[DataRead, DataExport]),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a route may require. The string forms (`"data.read"`) are what
/// `user.permissions` and the API use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Read plant data: production metadata, detections, downtime, metrics, dashboards.
    DataRead,
    /// Download data (CSV exports, reports).
    DataExport,
    /// Justify a stop (`PUT /downtime/{id}`).
    DowntimeJustify,
    /// Recompute stops for a window (`POST /downtime/calculate`).
    DowntimeCalculate,
    /// Save the dashboard layout of one's own role.
    LayoutEditOwn,
    /// Save the layout of any role of the tenant.
    LayoutManage,
    /// Change plant configuration: thresholds, reason codes, `system_config`.
    ConfigManage,
    /// List and read the tenant's users.
    UsersRead,
    /// Create, change, deactivate and delete the tenant's users.
    UsersManage,
    /// Register and change tenants (superadmin only).
    TenantsManage,
    /// `GET /system/stats`.
    SystemStats,
    /// Read the audit trail.
    AuditRead,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::DataRead,
        Permission::DataExport,
        Permission::DowntimeJustify,
        Permission::DowntimeCalculate,
        Permission::LayoutEditOwn,
        Permission::LayoutManage,
        Permission::ConfigManage,
        Permission::UsersRead,
        Permission::UsersManage,
        Permission::TenantsManage,
        Permission::SystemStats,
        Permission::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::DataRead => "data.read",
            Permission::DataExport => "data.export",
            Permission::DowntimeJustify => "downtime.justify",
            Permission::DowntimeCalculate => "downtime.calculate",
            Permission::LayoutEditOwn => "layout.edit_own",
            Permission::LayoutManage => "layout.manage",
            Permission::ConfigManage => "config.manage",
            Permission::UsersRead => "users.read",
            Permission::UsersManage => "users.manage",
            Permission::TenantsManage => "tenants.manage",
            Permission::SystemStats => "system.stats",
            Permission::AuditRead => "audit.read",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A small set of permissions (a bit set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub fn empty() -> Self {
        PermissionSet(0)
    }

    pub fn from_slice(list: &[Permission]) -> Self {
        let mut set = PermissionSet(0);
        for p in list {
            set.insert(*p);
        }
        set
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn insert(&mut self, p: Permission) {
        self.0 |= p.bit();
    }

    pub fn remove(&mut self, p: Permission) {
        self.0 &= !p.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::as_str).collect()
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Most line ids one user may be limited to.
pub const MAX_SCOPED_LINES: usize = 1000;

/// `user.permissions` as stored: the refinement of a role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserPermissions {
    pub extra: Vec<Permission>,
    pub removed: Vec<Permission>,
    /// `None` = every line.
    pub lines: Option<Vec<i64>>,
}

impl UserPermissions {
    /// Reads the stored JSON. Unknown permission names are ignored, but a
    /// `lines` entry that cannot be read fails closed (no line at all), so a
    /// damaged row never widens what a scoped user sees.
    pub fn from_stored(json: Option<&str>) -> UserPermissions {
        let Some(text) = json
            .map(str::trim)
            .filter(|t| !t.is_empty() && *t != "null")
        else {
            return UserPermissions::default();
        };
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => {
                tracing::warn!(
                    "user.permissions is not valid JSON; treating the user as limited to no line"
                );
                return UserPermissions {
                    lines: Some(Vec::new()),
                    ..Default::default()
                };
            }
        };
        let names = |key: &str| -> Vec<Permission> {
            value
                .get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter_map(Permission::parse)
                        .collect()
                })
                .unwrap_or_default()
        };
        let lines = match value.get("lines") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| v.as_i64().filter(|id| *id > 0))
                    .collect::<Option<Vec<i64>>>()
                    .unwrap_or_default(),
            ),
            Some(_) => Some(Vec::new()),
        };
        UserPermissions {
            extra: names("extra"),
            removed: names("removed"),
            lines,
        }
    }

    /// Validates a refinement sent by a client; errors name the field
    /// (`permissions.extra`, `permissions.lines`, …).
    pub fn from_input(value: &Value) -> AppResult<UserPermissions> {
        let obj = match value {
            Value::Null => return Ok(UserPermissions::default()),
            Value::Object(obj) => obj,
            _ => {
                return Err(AppError::validation(
                    "permissions",
                    "permissions must be an object such as {\"extra\": [], \"removed\": [], \"lines\": [1, 2]}",
                ))
            }
        };
        for key in obj.keys() {
            if !matches!(key.as_str(), "extra" | "removed" | "lines") {
                return Err(AppError::validation(
                    format!("permissions.{}", crate::auth::input::field_label(key)),
                    "unknown key: permissions take extra, removed and lines",
                ));
            }
        }
        let list = |key: &str| -> AppResult<Vec<Permission>> {
            let field = format!("permissions.{key}");
            match obj.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => {
                    let mut out = Vec::new();
                    for item in items {
                        let p = item.as_str().and_then(Permission::parse).ok_or_else(|| {
                            AppError::validation(
                                field.clone(),
                                format!(
                                    "unknown permission; use one of {}",
                                    Permission::ALL.map(Permission::as_str).join(", ")
                                ),
                            )
                        })?;
                        if !out.contains(&p) {
                            out.push(p);
                        }
                    }
                    Ok(out)
                }
                Some(_) => Err(AppError::validation(
                    field,
                    "must be a list of permission names",
                )),
            }
        };
        let lines = match obj.get("lines") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                if items.len() > MAX_SCOPED_LINES {
                    return Err(AppError::validation(
                        "permissions.lines",
                        format!("at most {MAX_SCOPED_LINES} lines"),
                    ));
                }
                let mut ids = Vec::with_capacity(items.len());
                for item in items {
                    let id = item.as_i64().filter(|id| *id > 0).ok_or_else(|| {
                        AppError::validation(
                            "permissions.lines",
                            "must be a list of line ids (positive integers)",
                        )
                    })?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                ids.sort_unstable();
                Some(ids)
            }
            Some(_) => {
                return Err(AppError::validation(
                    "permissions.lines",
                    "must be a list of line ids, or null for every line",
                ))
            }
        };
        Ok(UserPermissions {
            extra: list("extra")?,
            removed: list("removed")?,
            lines,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.extra.is_empty() && self.removed.is_empty() && self.lines.is_none()
    }

    /// The JSON stored in `user.permissions` (`None` for no refinement).
    pub fn to_stored(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut obj = serde_json::Map::new();
        if !self.extra.is_empty() {
            obj.insert("extra".into(), serde_json::json!(self.extra));
        }
        if !self.removed.is_empty() {
            obj.insert("removed".into(), serde_json::json!(self.removed));
        }
        if let Some(lines) = &self.lines {
            obj.insert("lines".into(), serde_json::json!(lines));
        }
        Some(Value::Object(obj).to_string())
    }
}

/// The permissions a user really has: the role's, plus `extra`, minus
/// `removed`; `tenants.manage` only ever for a user without a tenant.
pub fn effective(role: Role, refinement: &UserPermissions, has_tenant: bool) -> PermissionSet {
    let mut set = role.default_permissions();
    for p in &refinement.extra {
        set.insert(*p);
    }
    for p in &refinement.removed {
        set.remove(*p);
    }
    if has_tenant {
        set.remove(Permission::TenantsManage);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_round_trip_and_rank() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
        let ranks: Vec<u8> = Role::ALL.into_iter().map(Role::rank).collect();
        assert_eq!(ranks, vec![5, 4, 3, 2, 1], "ALL is ordered highest first");
    }

    #[test]
    fn viewer_reads_only() {
        let v = Role::Viewer.default_permissions();
        assert!(v.contains(Permission::DataRead));
        for p in [
            Permission::DowntimeJustify,
            Permission::DowntimeCalculate,
            Permission::LayoutEditOwn,
            Permission::LayoutManage,
            Permission::ConfigManage,
            Permission::UsersManage,
            Permission::TenantsManage,
        ] {
            assert!(!v.contains(p), "viewer must not have {p}");
        }
    }

    #[test]
    fn role_ladder_matches_the_spec() {
        let op = Role::Operator.default_permissions();
        assert!(op.contains(Permission::DowntimeJustify));
        assert!(!op.contains(Permission::LayoutEditOwn));
        let mgr = Role::Manager.default_permissions();
        assert!(mgr.contains(Permission::LayoutEditOwn));
        assert!(!mgr.contains(Permission::LayoutManage));
        assert!(!mgr.contains(Permission::UsersManage));
        let admin = Role::Admin.default_permissions();
        assert!(admin.contains(Permission::UsersManage));
        assert!(admin.contains(Permission::ConfigManage));
        assert!(!admin.contains(Permission::TenantsManage));
        assert_eq!(
            admin.iter().count(),
            Permission::ALL.len() - 1,
            "an admin holds every permission but tenants.manage"
        );
        assert!(Role::Superadmin
            .default_permissions()
            .contains(Permission::TenantsManage));
    }

    #[test]
    fn refinement_adds_then_removes() {
        let r = UserPermissions::from_input(&json!({
            "extra": ["downtime.justify", "tenants.manage"],
            "removed": ["data.export"],
            "lines": [3, 1, 3]
        }))
        .unwrap();
        assert_eq!(r.lines, Some(vec![1, 3]));
        let eff = effective(Role::Viewer, &r, true);
        assert!(eff.contains(Permission::DowntimeJustify));
        assert!(!eff.contains(Permission::DataExport));
        assert!(
            !eff.contains(Permission::TenantsManage),
            "never for a tenant user"
        );
        let stored = r.to_stored().unwrap();
        assert_eq!(UserPermissions::from_stored(Some(&stored)), r);
    }

    #[test]
    fn input_errors_name_the_field() {
        let e = UserPermissions::from_input(&json!({"extra": ["root"]})).unwrap_err();
        assert_eq!(e.field(), Some("permissions.extra"));
        let e = UserPermissions::from_input(&json!({"lines": [1, "2"]})).unwrap_err();
        assert_eq!(e.field(), Some("permissions.lines"));
        let e = UserPermissions::from_input(&json!({"lines": [0]})).unwrap_err();
        assert_eq!(e.field(), Some("permissions.lines"));
        let e = UserPermissions::from_input(&json!({"x": 1})).unwrap_err();
        assert_eq!(e.field(), Some("permissions.x"));
        let e = UserPermissions::from_input(&json!("admin")).unwrap_err();
        assert_eq!(e.field(), Some("permissions"));
        assert_eq!(
            UserPermissions::from_input(&Value::Null).unwrap(),
            UserPermissions::default()
        );
    }

    #[test]
    fn stored_json_fails_closed_on_lines() {
        assert_eq!(UserPermissions::from_stored(None).lines, None);
        assert_eq!(UserPermissions::from_stored(Some("null")).lines, None);
        assert_eq!(
            UserPermissions::from_stored(Some("{broken")).lines,
            Some(vec![])
        );
        assert_eq!(
            UserPermissions::from_stored(Some(r#"{"lines": "all"}"#)).lines,
            Some(vec![])
        );
        assert_eq!(
            UserPermissions::from_stored(Some(r#"{"lines": [1, "x"]}"#)).lines,
            Some(vec![])
        );
        let p =
            UserPermissions::from_stored(Some(r#"{"extra": ["nope", "data.read"], "lines": [2]}"#));
        assert_eq!(p.extra, vec![Permission::DataRead]);
        assert_eq!(p.lines, Some(vec![2]));
    }

    #[test]
    fn permission_names_are_stable() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        let set = PermissionSet::from_slice(&[Permission::UsersRead, Permission::DataRead]);
        assert_eq!(set.names(), vec!["data.read", "users.read"]);
        assert_eq!(
            serde_json::to_value(set).unwrap(),
            json!(["data.read", "users.read"])
        );
    }
}
