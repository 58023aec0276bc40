//! Reading and checking the fields of a JSON body so that every refusal names
//! its field (docs/api.md#errors): empty values, oversized values, bytes that are not
//! UTF-8, wrong types, unknown and repeated keys are all told apart.

use std::cell::RefCell;
use std::collections::HashSet;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::http::Request;
use dash_store::error::{AppError, AppResult};

/// A field name fit to be echoed in an error: printable ASCII, at most 64 chars.
pub fn field_label(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(64)
        .collect();
    if clean.is_empty() {
        "(unnamed)".into()
    } else {
        clean
    }
}

/// The fields of a JSON object body.
#[derive(Debug, Clone)]
pub struct Fields {
    map: Map<String, Value>,
    /// The body held bytes that are not UTF-8 (replaced by U+FFFD while parsing).
    lossy: bool,
}

impl Fields {
    /// Parses the body as a JSON object whose keys are all in `allowed`.
    pub fn parse(req: &Request, allowed: &[&str]) -> AppResult<Fields> {
        if let Some(ct) = req.header("content-type") {
            let ct = ct.to_ascii_lowercase();
            if !ct.starts_with("application/json") && !ct.contains("+json") {
                return Err(AppError::bad_request(
                    "send the body as JSON with Content-Type: application/json",
                ));
            }
        }
        if req.body.is_empty() {
            return Err(AppError::bad_request(
                "the request body is empty; a JSON object is expected",
            ));
        }
        let (text, lossy) = match std::str::from_utf8(&req.body) {
            Ok(t) => (std::borrow::Cow::Borrowed(t), false),
            Err(_) => (String::from_utf8_lossy(&req.body), true),
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            let msg = e.to_string();
            let clean = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            AppError::bad_request(format!("the body is not valid JSON: {clean}"))
        })?;
        let Value::Object(map) = value else {
            return Err(AppError::bad_request("the body must be a JSON object"));
        };
        refuse_repeated_keys(&text)?;
        if lossy && map.keys().any(|k| k.contains('\u{FFFD}')) {
            return Err(AppError::bad_request("a field name is not valid UTF-8"));
        }
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(AppError::validation(
                    field_label(key),
                    format!("unknown field; this route takes {}", allowed.join(", ")),
                ));
            }
        }
        let fields = Fields { map, lossy };
        if lossy {
            for (key, value) in &fields.map {
                if let Some(path) = replacement_path(key, value) {
                    // Bytes that are not text: the body cannot be read (400), and
                    // the field that holds them is named.
                    return Err(AppError::BadRequest {
                        message: format!("{path} is not valid UTF-8"),
                        field: Some(path),
                    });
                }
            }
            return Err(AppError::bad_request("the request body is not valid UTF-8"));
        }
        Ok(fields)
    }

    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    /// A string field; `None` when absent or `null`. Wrong types are refused.
    pub fn opt_str(&self, name: &str) -> AppResult<Option<&str>> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                if self.lossy && s.contains('\u{FFFD}') {
                    return Err(AppError::BadRequest {
                        message: format!("{name} is not valid UTF-8"),
                        field: Some(name.to_string()),
                    });
                }
                Ok(Some(s.as_str()))
            }
            Some(_) => Err(AppError::validation(
                name,
                format!("{name} must be a string"),
            )),
        }
    }

    /// A string field that must be present and non-empty.
    pub fn req_str(&self, name: &str) -> AppResult<&str> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(AppError::validation(name, format!("{name} is required"))),
        }
    }

    pub fn opt_bool(&self, name: &str) -> AppResult<Option<bool>> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(AppError::validation(
                name,
                format!("{name} must be true or false"),
            )),
        }
    }

    /// A positive integer id.
    pub fn opt_id(&self, name: &str) -> AppResult<Option<i64>> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().filter(|id| *id > 0).map(Some).ok_or_else(|| {
                AppError::validation(name, format!("{name} must be a positive whole number"))
            }),
        }
    }
}

/// The path below a value to the U+FFFD a lossy decoding left: `""` for the
/// value itself, `.key` or `[i]` further down.
fn replacement_suffix(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.contains('\u{FFFD}').then(String::new),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| replacement_suffix(item).map(|rest| format!("[{i}]{rest}"))),
        Value::Object(map) => map.iter().find_map(|(k, inner)| {
            if k.contains('\u{FFFD}') {
                return Some(String::new());
            }
            replacement_suffix(inner).map(|rest| format!(".{}{rest}", field_label(k)))
        }),
        _ => None,
    }
}

fn replacement_path(key: &str, v: &Value) -> Option<String> {
    replacement_suffix(v).map(|rest| format!("{}{rest}", field_label(key)))
}

/// The first key that an object in this JSON text repeats, as a path
/// (`username`, `config.timezone`, `widgets[2].type`); `None` when every
/// object's keys are unique. serde_json keeps the last of repeated keys without
/// a word, so `{"role":"viewer","role":"admin"}` would mean whatever the parser
/// reading it decides (issue 12). Meant for text that has parsed as JSON.
pub fn repeated_key(text: &str) -> Option<String> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    // The walk stops with an error at the first repeat; `found` says which.
    let _ = UniqueKeys {
        path: JsonPath::Root,
        found: &found,
    }
    .deserialize(&mut de);
    found.into_inner()
}

/// 422 naming the first repeated key of a JSON body (see [`repeated_key`]).
/// Every reader of JSON bodies calls it once the body has parsed.
pub fn refuse_repeated_keys(text: &str) -> AppResult<()> {
    match repeated_key(text) {
        Some(path) => Err(AppError::validation(
            path.clone(),
            format!("{path} is given more than once; send each field once"),
        )),
        None => Ok(()),
    }
}

/// Where a value sits in a JSON document: a chain of links on the stack, made
/// into text only for the one path an error names.
#[derive(Clone, Copy)]
enum JsonPath<'a> {
    Root,
    Key(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl JsonPath<'_> {
    fn render(&self) -> String {
        match self {
            JsonPath::Root => String::new(),
            JsonPath::Key(JsonPath::Root, key) => field_label(key),
            JsonPath::Key(parent, key) => format!("{}.{}", parent.render(), field_label(key)),
            JsonPath::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

/// Walks one JSON value and everything below it; at the first object that
/// repeats a key, records its path in `found` and stops with an error.
struct UniqueKeys<'a> {
    path: JsonPath<'a>,
    found: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let mut index = 0;
        while items
            .next_element_seed(UniqueKeys {
                path: JsonPath::Index(&self.path, index),
                found: self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = entries.next_key::<String>()? {
            let path = JsonPath::Key(&self.path, &key);
            if seen.contains(&key) {
                *self.found.borrow_mut() = Some(path.render());
                return Err(A::Error::custom("a key is repeated"));
            }
            entries.next_value_seed(UniqueKeys {
                path,
                found: self.found,
            })?;
            seen.insert(key);
        }
        Ok(())
    }
}

/// Length in characters, bounded, with the field named in the error.
pub fn check_len(field: &str, value: &str, min: usize, max: usize) -> AppResult<()> {
    // Count at most max + 1 characters: a 1 MiB value costs no more than needed.
    let n = value.chars().take(max + 1).count();
    if n < min {
        return Err(AppError::validation(
            field,
            if min <= 1 {
                format!("{field} is required")
            } else {
                format!("{field} must have at least {min} characters")
            },
        ));
    }
    if n > max {
        return Err(AppError::validation(
            field,
            format!("{field} must have at most {max} characters"),
        ));
    }
    Ok(())
}

/// User names: 3–100 of letters, digits and `. _ - @` (the rule `dashctl` applies too).
pub fn check_username(field: &str, value: &str) -> AppResult<()> {
    check_len(field, value, 3, 100)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(AppError::validation(
            field,
            format!("{field} may hold letters, digits and . _ - @ only"),
        ));
    }
    Ok(())
}

/// Free text shown to people (company names): no control characters and no
/// angle brackets, so nothing that looks like markup is ever stored.
pub fn check_text(field: &str, value: &str, max: usize) -> AppResult<()> {
    if value.trim().is_empty() {
        return Err(AppError::validation(field, format!("{field} is required")));
    }
    check_len(field, value, 1, max)?;
    if value
        .chars()
        .any(|c| c.is_control() || matches!(c, '<' | '>'))
    {
        return Err(AppError::validation(
            field,
            format!("{field} must not contain control characters or < >"),
        ));
    }
    if value.trim() != value {
        return Err(AppError::validation(
            field,
            format!("{field} must not start or end with spaces"),
        ));
    }
    Ok(())
}

/// A plain e-mail address (at most 255 characters).
pub fn check_email(field: &str, value: &str) -> AppResult<()> {
    check_len(field, value, 3, 255)?;
    let ok = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@' | '%'));
    if !ok {
        return Err(AppError::validation(
            field,
            format!("{field} is not an e-mail address"),
        ));
    }
    Ok(())
}

/// Longest password accepted anywhere (hashing a megabyte is a denial of service).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The policy for a new password.
pub fn check_new_password(
    field: &str,
    value: &str,
    min: usize,
    username: Option<&str>,
) -> AppResult<()> {
    let n = value.chars().take(MAX_PASSWORD_CHARS + 1).count();
    if n < min.max(1) {
        return Err(AppError::validation(
            field,
            format!("{field} must have at least {min} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(AppError::validation(
            field,
            format!("{field} must have at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(AppError::validation(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    if value.trim().is_empty() {
        return Err(AppError::validation(
            field,
            format!("{field} must not be only spaces"),
        ));
    }
    if username.is_some_and(|u| u.eq_ignore_ascii_case(value)) {
        return Err(AppError::validation(
            field,
            format!("{field} must not be the user name"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn req(body: &[u8]) -> Request {
        let mut r = Request::new(::http::Method::POST, "/x");
        r.body = Bytes::copy_from_slice(body);
        r
    }

    #[test]
    fn unknown_and_mistyped_fields_are_named() {
        let e = Fields::parse(&req(br#"{"username": "a", "evil": 1}"#), &["username"]).unwrap_err();
        assert_eq!(e.field(), Some("evil"));
        let f = Fields::parse(&req(br#"{"username": 5}"#), &["username"]).unwrap();
        assert_eq!(f.opt_str("username").unwrap_err().field(), Some("username"));
        assert_eq!(f.req_str("password").unwrap_err().field(), Some("password"));
    }

    #[test]
    fn non_utf8_names_the_field() {
        let e = Fields::parse(
            &req(b"{\"username\": \"ab\xff\xfe\", \"password\": \"x\"}"),
            &["username", "password"],
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("username"));
        assert_eq!(e.status(), 400);
        let e = Fields::parse(&req(b"{\"config\": {\"timezone\": \"\xff\"}}"), &["config"])
            .unwrap_err();
        assert_eq!(e.field(), Some("config.timezone"));
        let e = Fields::parse(&req(b"{\"list\": [\"ok\", \"\xff\"]}"), &["list"]).unwrap_err();
        assert_eq!(e.field(), Some("list[1]"));
    }

    #[test]
    fn repeated_keys_are_found_at_any_depth() {
        for (body, path) in [
            (r#"{"username":"a","username":"b"}"#, "username"),
            (r#"{"a":1,"\u0061":2}"#, "a"),
            (
                r#"{"config":{"timezone":"UTC","theme":1,"timezone":"x"}}"#,
                "config.timezone",
            ),
            (
                r#"{"widgets":[{"type":1},{"type":1,"type":2}]}"#,
                "widgets[1].type",
            ),
            (r#"[[{"k":{"x":[0,{"y":1,"y":1}]}}]]"#, "[0][0].k.x[1].y"),
        ] {
            assert_eq!(repeated_key(body).as_deref(), Some(path), "{body}");
        }
        for body in [
            r#"{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":null,"d":[1,2.5,"x",true]}"#,
            r#"{"A":1,"a":2}"#,
            "[]",
        ] {
            assert_eq!(repeated_key(body), None, "{body}");
        }
    }

    #[test]
    fn a_repeated_field_is_refused_naming_it() {
        let e = Fields::parse(
            &req(br#"{"username": "a", "username": "b", "password": "x"}"#),
            &["username", "password"],
        )
        .unwrap_err();
        assert_eq!(e.status(), 422);
        assert_eq!(e.field(), Some("username"));
        // A body that is not JSON stays a 400, whatever it repeats.
        let e = Fields::parse(&req(br#"{"username": "a", "username": "b""#), &["username"])
            .unwrap_err();
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn bodies_that_are_not_objects() {
        assert!(Fields::parse(&req(b""), &[]).is_err());
        assert!(Fields::parse(&req(b"[1]"), &[]).is_err());
        assert!(Fields::parse(&req(b"{"), &[]).is_err());
    }

    #[test]
    fn username_rules() {
        assert!(check_username("username", "plant.admin@x-y_z").is_ok());
        for bad in [
            "",
            "ab",
            "a b c",
            "' OR 1=1 --",
            "<script>",
            "émile",
            "🙂🙂🙂",
        ] {
            assert_eq!(
                check_username("username", bad).unwrap_err().field(),
                Some("username"),
                "{bad}"
            );
        }
        assert!(check_username("username", &"a".repeat(101)).is_err());
    }

    #[test]
    fn text_rules() {
        assert!(check_text("company_name", "Planta Norte 🙂 O'Brien", 150).is_ok());
        for bad in ["", "   ", "<script>alert(1)</script>", "a\u{0}b", " lead"] {
            assert!(check_text("company_name", bad, 150).is_err(), "{bad:?}");
        }
        assert!(check_text("company_name", &"x".repeat(151), 150).is_err());
    }

    #[test]
    fn email_rules() {
        assert!(check_email("email", "ana.perez+plant@example.com").is_ok());
        for bad in ["x", "a@b", "<a@b.c>", "a b@c.d", "a@b.c'; DROP", "@b.c"] {
            assert!(check_email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_policy() {
        assert!(check_new_password("new_password", "long enough 🙂", 8, Some("ana")).is_ok());
        assert!(check_new_password("new_password", "short", 8, None).is_err());
        assert!(check_new_password("new_password", &"x".repeat(257), 8, None).is_err());
        assert!(check_new_password("new_password", "ana.perez", 8, Some("ANA.PEREZ")).is_err());
        assert!(check_new_password("new_password", "        ", 8, None).is_err());
    }
}
