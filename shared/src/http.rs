//! The host-independent request and response every handler sees. The host
//! adapters translate Lambda events, FastCGI records and CGI environments into a
//! [`Request`] and write a [`Response`] back, so a handler is written once.

use ::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use ::http::{HeaderMap, Method, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use dash_store::error::{AppError, AppResult};

/// Largest request body any route accepts (docs/api.md#errors: 413 above 1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub type Response = ::http::Response<Vec<u8>>;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Raw (still percent-encoded) path, with the configured base path removed.
    pub path: String,
    /// Raw query string without the `?`.
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub remote_addr: Option<String>,
    pub is_https: bool,
    /// Filled by the router from `{name}` segments, percent-decoded.
    pub path_params: Vec<(&'static str, String)>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            query: String::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            remote_addr: None,
            is_https: false,
            path_params: Vec::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decoded query pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The last value of a query parameter; empty values count as absent.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .last()
            .filter(|v| !v.is_empty())
    }

    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A numeric id from the path. Anything that is not a positive integer cannot
    /// name a row, so it is simply not found.
    pub fn path_id(&self, name: &str) -> AppResult<i64> {
        self.path_param(name)
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .ok_or(AppError::NotFound)
    }

    /// Parses the body as JSON into `T`; malformed JSON is a 400 naming the field
    /// serde complained about when it can, a repeated key a 422 naming it.
    pub fn json<T: DeserializeOwned>(&self) -> AppResult<T> {
        if let Some(ct) = self.header("content-type") {
            let ct = ct.to_ascii_lowercase();
            if !ct.starts_with("application/json") && !ct.contains("+json") {
                return Err(AppError::bad_request(
                    "send the body as JSON with Content-Type: application/json",
                ));
            }
        }
        if self.body.is_empty() {
            return Err(AppError::bad_request(
                "the request body is empty; JSON expected",
            ));
        }
        let text = std::str::from_utf8(&self.body)
            .map_err(|_| AppError::bad_request("the request body is not valid UTF-8"))?;
        let mut de = serde_json::Deserializer::from_str(text);
        let value = serde_path_to_error_free(&mut de)?;
        crate::auth::input::refuse_repeated_keys(text)?;
        Ok(value)
    }

    /// A cookie's value by name.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// The client's address as the host reported it.
    pub fn client_ip(&self) -> String {
        self.remote_addr.clone().unwrap_or_else(|| "unknown".into())
    }

    pub fn wants_csv(&self) -> bool {
        self.header("accept")
            .map(|a| a.to_ascii_lowercase().contains("text/csv"))
            .unwrap_or(false)
    }
}

/// serde_json reports unknown/missing/mistyped fields in its message; we lift the
/// field name out of it so the error can name it (docs/api.md#errors).
fn serde_path_to_error_free<T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::StrRead<'_>>,
) -> AppResult<T> {
    let value = T::deserialize(&mut *de).map_err(json_error)?;
    de.end().map_err(json_error)?;
    Ok(value)
}

fn json_error(e: serde_json::Error) -> AppError {
    let message = e.to_string();
    let field = message
        .split('`')
        .nth(1)
        .filter(|f| f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_string);
    let clean = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    AppError::BadRequest {
        message: format!("invalid JSON body: {clean}"),
        field,
    }
}

fn set_header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

/// A response with a body and content type.
pub fn response(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response {
    let mut resp = ::http::Response::new(body);
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    resp
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => response(status, "application/json", body),
        Err(e) => error_response(&AppError::internal(e)),
    }
}

/// The envelopes of docs/api.md#shapes, serialized straight from the caller's value
/// (building a `serde_json::Value` first would copy every row once more).
#[derive(Serialize)]
struct DataBody<'a, T: ?Sized> {
    data: &'a T,
}

#[derive(Serialize)]
struct ListBody<'a, T> {
    data: &'a [T],
    next_cursor: Option<String>,
}

/// `{"data": value}` with 200, the shape of one object (docs/api.md#shapes).
pub fn data<T: Serialize>(value: &T) -> Response {
    json(StatusCode::OK, &DataBody { data: value })
}

/// `{"data": [...], "next_cursor": ...}`, the shape of every list.
pub fn list<T: Serialize>(items: &[T], next_cursor: Option<String>) -> Response {
    json(
        StatusCode::OK,
        &ListBody {
            data: items,
            next_cursor,
        },
    )
}

pub fn html(status: StatusCode, body: String) -> Response {
    response(status, "text/html; charset=utf-8", body.into_bytes())
}

pub fn redirect(location: &str) -> Response {
    let mut resp = response(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        Vec::new(),
    );
    set_header(&mut resp, "location", location);
    resp
}

pub fn with_header(mut resp: Response, name: &'static str, value: &str) -> Response {
    set_header(&mut resp, name, value);
    resp
}

/// Appends a `Set-Cookie` (several may be set on one response).
pub fn add_cookie(resp: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(::http::header::SET_COOKIE, v);
    }
}

/// The JSON error response of docs/api.md#errors.
pub fn error_response(err: &AppError) -> Response {
    let body = serde_json::to_vec(&err.to_json()).unwrap_or_default();
    let mut resp = response(err.status(), "application/json", body);
    for (name, value) in err.headers() {
        set_header(&mut resp, name, &value);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_decode_and_take_the_last() {
        let mut r = Request::new(Method::GET, "/x");
        r.query = "line_id=1&q=a%20b&line_id=2&empty=".into();
        assert_eq!(r.query_param("line_id").as_deref(), Some("2"));
        assert_eq!(r.query_param("q").as_deref(), Some("a b"));
        assert_eq!(r.query_param("empty"), None);
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Login {
            username: String,
        }
        let mut r = Request::new(Method::POST, "/x");
        r.body = Bytes::from_static(br#"{"user": "x"}"#);
        let err = r.json::<Login>().unwrap_err();
        assert_eq!(err.field(), Some("username"));
        r.body = Bytes::from_static(b"{not json");
        assert!(matches!(
            r.json::<Login>(),
            Err(AppError::BadRequest { .. })
        ));
        r.body = Bytes::from_static(b"\xff\xfe");
        assert!(r.json::<Login>().is_err());
    }

    #[test]
    fn repeated_keys_are_refused_naming_them() {
        let mut r = Request::new(Method::POST, "/x");
        r.body = Bytes::from_static(br#"{"layout": {"columns": 12, "columns": 4}}"#);
        let err = r.json::<serde_json::Value>().unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.field(), Some("layout.columns"));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut r = Request::new(Method::GET, "/");
        r.headers.insert(
            ::http::header::COOKIE,
            HeaderValue::from_static("a=1; session=xyz; b=2"),
        );
        assert_eq!(r.cookie("session").as_deref(), Some("xyz"));
        assert_eq!(r.cookie("missing"), None);
    }
}
