//! What a data or metrics request selects, once its ids are checked.

use crate::metadata::TenantMetadata;

/// What a request selects: lines (in scope), and optional areas, products
/// and shift, every id checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub line_ids: Vec<i64>,
    /// The parameter the lines came from (`line_id`, `line_ids`, or `line_id`
    /// when defaulted), for messages.
    pub line_field: &'static str,
    pub areas: Option<Vec<i64>>,
    pub products: Option<Vec<i64>>,
    pub shift_id: Option<i64>,
}

impl Selection {
    /// Areas of `line_id` to read: the chosen ones on that line, else every
    /// area of the line (optionally only of these `area_type`s).
    pub fn areas_of(
        &self,
        meta: &TenantMetadata,
        line_id: i64,
        types: Option<&[&str]>,
    ) -> Vec<i64> {
        meta.areas_of_line(line_id)
            .filter(|a| {
                self.areas
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&a.area_id))
            })
            .filter(|a| types.is_none_or(|t| t.iter().any(|t| a.area_type.eq_ignore_ascii_case(t))))
            .map(|a| a.area_id)
            .collect()
    }
}
