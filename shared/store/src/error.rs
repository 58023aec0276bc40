//! The one error type. Every variant knows its HTTP status; [`AppError::to_response`]
//! is the only place an error becomes bytes, so no handler can leak SQL text or a
//! stack trace: internal details go to the log, the client gets a code and a
//! sentence.

use ::http::StatusCode;
use serde_json::json;
use thiserror::Error;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, Error)]
pub enum AppError {
    /// Malformed request: bad JSON, a parameter that does not parse.
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    /// Well-formed but refused by a rule (range too long, unknown reason, weak password).
    #[error("{message}")]
    Validation { message: String, field: String },
    #[error("{message}")]
    Unauthorized { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("not found")]
    NotFound,
    /// An id named by a parameter that does not exist here — or that the
    /// caller may not see: the same answer, so nothing leaks. A 404 that
    /// names the parameter.
    #[error("{message}")]
    UnknownId { field: String, message: String },
    #[error("method not allowed")]
    MethodNotAllowed { allowed: Vec<::http::Method> },
    /// A 409; `field` names the value that collides, when one does (a
    /// client database another tenant uses).
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<String>,
    },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{message}")]
    Locked { message: String, retry_after: u64 },
    #[error("too many requests")]
    RateLimited { retry_after: u64 },
    /// The database (global or the tenant's) cannot be reached now.
    #[error("database unavailable: {detail}")]
    Unavailable { retry_after: u64, detail: String },
    /// The tenant's client database lacks a table or column of the contract.
    #[error("client database schema problem: {detail}")]
    ClientSchema { detail: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest {
            message: message.into(),
            field: None,
        }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation {
            message: message.into(),
            field: field.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        AppError::Unauthorized {
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden {
            message: message.into(),
        }
    }

    pub fn unknown_id(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::UnknownId {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict {
            message: message.into(),
            field: None,
        }
    }

    pub fn conflict_on(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Conflict {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound | AppError::UnknownId { .. } => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Locked { .. } => StatusCode::LOCKED,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::ClientSchema { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable machine-readable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { .. } => "bad_request",
            AppError::Validation { .. } => "validation_failed",
            AppError::Unauthorized { .. } => "unauthorized",
            AppError::Forbidden { .. } => "forbidden",
            AppError::NotFound | AppError::UnknownId { .. } => "not_found",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::Conflict { .. } => "conflict",
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::Locked { .. } => "account_locked",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable { .. } => "database_unavailable",
            AppError::ClientSchema { .. } => "client_database_incomplete",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// What the client may read. Details of 5xx errors stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Unavailable { .. } => {
                "The database is not reachable right now; try again shortly.".into()
            }
            AppError::ClientSchema { .. } => {
                "This plant's database is missing a table or column the dashboard needs; \
                 ask your administrator to run `dashctl verify-client`."
                    .into()
            }
            AppError::Internal(_) => "Something went wrong on our side; it has been logged.".into(),
            AppError::NotFound => "Not found.".into(),
            AppError::MethodNotAllowed { .. } => "This method is not allowed on this path.".into(),
            AppError::RateLimited { retry_after } => {
                let unit = if *retry_after == 1 {
                    "second"
                } else {
                    "seconds"
                };
                format!("Too many requests; retry in {retry_after} {unit}.")
            }
            other => other.to_string(),
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::BadRequest { field, .. } | AppError::Conflict { field, .. } => {
                field.as_deref()
            }
            AppError::Validation { field, .. } | AppError::UnknownId { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Extra headers the status needs (`Retry-After`, `Allow`, `WWW-Authenticate`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            AppError::RateLimited { retry_after }
            | AppError::Unavailable { retry_after, .. }
            | AppError::Locked { retry_after, .. } => {
                vec![("retry-after", retry_after.to_string())]
            }
            AppError::ClientSchema { .. } => vec![("retry-after", "60".into())],
            AppError::MethodNotAllowed { allowed } => {
                let list: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
                vec![("allow", list.join(", "))]
            }
            AppError::Unauthorized { .. } => vec![("www-authenticate", "Bearer".into())],
            _ => Vec::new(),
        }
    }

    /// The JSON body of docs/api.md#errors.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code(), "message": self.public_message() });
        if let Some(field) = self.field() {
            error["field"] = json!(field);
        }
        json!({ "error": error })
    }

    pub fn is_server_error(&self) -> bool {
        self.status().is_server_error()
    }
}

/// A refused window or time parameter (from the core's time rules) is a 422
/// naming the parameter, on every route.
impl From<dash_core::timeutil::WindowError> for AppError {
    fn from(e: dash_core::timeutil::WindowError) -> Self {
        AppError::validation(e.field(), e.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_body() {
        let e = AppError::internal("SELECT * FROM user WHERE password = 'x'");
        let body = e.to_json().to_string();
        assert!(!body.contains("SELECT"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn validation_names_its_field() {
        let e = AppError::validation("end_date", "end_date must be after start_date");
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.to_json()["error"]["field"], "end_date");
    }

    #[test]
    fn a_conflict_on_a_field_is_409_naming_it() {
        let e = AppError::conflict_on("config.db_name", "database x is already used");
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let body = e.to_json();
        assert_eq!(body["error"]["code"], "conflict");
        assert_eq!(body["error"]["field"], "config.db_name");
        assert_eq!(body["error"]["message"], "database x is already used");
    }

    #[test]
    fn an_unknown_id_is_404_naming_its_parameter() {
        let e = AppError::unknown_id("line_id", "line 9 does not exist");
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        let body = e.to_json();
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(body["error"]["field"], "line_id");
        assert_eq!(body["error"]["message"], "line 9 does not exist");
    }

    #[test]
    fn rate_limited_says_the_wait_of_retry_after() {
        for (seconds, text) in [(1, "retry in 1 second."), (13, "retry in 13 seconds.")] {
            let e = AppError::RateLimited {
                retry_after: seconds,
            };
            assert!(e.public_message().ends_with(text), "{}", e.public_message());
            assert_eq!(e.headers(), vec![("retry-after", seconds.to_string())]);
        }
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let e = AppError::Unavailable {
            retry_after: 5,
            detail: "Connection refused (os error 111)".into(),
        };
        assert_eq!(e.headers(), vec![("retry-after", "5".to_string())]);
        assert!(!e.to_json().to_string().contains("os error"));
    }
}
