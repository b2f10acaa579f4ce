//! The one error type of the HTTP boundary: what every server function and endpoint answers on
//! failure, as JSON `{"error": code, "message": text, "lead"?: current lead}` with a matching
//! status. Shared by server and browser, so the browser gets the same typed error back.

use crate::domain::Lead;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(into = "ErrorBody", try_from = "ErrorBody")]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The lead changed under the caller; carries the lead as it stands now.
    #[error("{message}")]
    Conflict { message: String, lead: Option<Box<Lead>> },
    /// The request's body did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed, but at odds with an earlier request (an `Idempotency-Key` used again with
    /// another body).
    #[error("{0}")]
    UnprocessableEntity(String),
    /// The request named a host this server does not serve (`allowed_hosts`).
    #[error("{0}")]
    MisdirectedRequest(String),
    /// A rate limit was hit; the caller may try again after `retry_after_s` seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_s: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict { .. } => 409,
            ApiError::RequestTimeout(_) => 408,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::UnprocessableEntity(_) => 422,
            ApiError::MisdirectedRequest(_) => 421,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Unavailable(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::UnprocessableEntity(_) => "unprocessable_entity",
            ApiError::MisdirectedRequest(_) => "misdirected_request",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lead: Option<Box<Lead>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_s: Option<u64>,
}

impl From<ApiError> for ErrorBody {
    fn from(e: ApiError) -> Self {
        let (error, message) = (e.code().to_owned(), e.to_string());
        let (lead, retry_after_s) = match e {
            ApiError::Conflict { lead, .. } => (lead, None),
            ApiError::TooManyRequests { retry_after_s, .. } => (None, Some(retry_after_s)),
            _ => (None, None),
        };
        ErrorBody { error, message, lead, retry_after_s }
    }
}

impl TryFrom<ErrorBody> for ApiError {
    type Error = String;
    fn try_from(b: ErrorBody) -> Result<Self, Self::Error> {
        let m = b.message;
        Ok(match b.error.as_str() {
            "bad_request" => ApiError::BadRequest(m),
            "unauthorized" => ApiError::Unauthorized(m),
            "forbidden" => ApiError::Forbidden(m),
            "not_found" => ApiError::NotFound(m),
            "conflict" => ApiError::Conflict { message: m, lead: b.lead },
            "request_timeout" => ApiError::RequestTimeout(m),
            "payload_too_large" => ApiError::PayloadTooLarge(m),
            "unsupported_media_type" => ApiError::UnsupportedMediaType(m),
            "unprocessable_entity" => ApiError::UnprocessableEntity(m),
            "misdirected_request" => ApiError::MisdirectedRequest(m),
            "too_many_requests" => {
                ApiError::TooManyRequests { message: m, retry_after_s: b.retry_after_s.unwrap_or(1) }
            }
            "unavailable" => ApiError::Unavailable(m),
            "internal" => ApiError::Internal(m),
            other => return Err(format!("unknown error code {other:?}")),
        })
    }
}

#[cfg(feature = "ssr")]
impl ApiError {
    /// The status this error answers with, and the header a rate limit adds (`Retry-After`).
    pub fn response_head(&self) -> (axum::http::StatusCode, Option<(axum::http::HeaderName, axum::http::HeaderValue)>) {
        let status =
            axum::http::StatusCode::from_u16(self.status()).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let retry = match self {
            ApiError::TooManyRequests { retry_after_s, .. } => {
                Some((axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*retry_after_s)))
            }
            _ => None,
        };
        (status, retry)
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    /// On the server this is where a server function's error becomes its response (decode
    /// failures included, which never reach the function): the status it names is set on the
    /// response being built, so nothing downstream has to re-read the body to find it.
    #[cfg(feature = "ssr")]
    fn ser(&self) -> leptos::server_fn::Bytes {
        use leptos::server_fn::Encodes;
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            let (status, header) = self.response_head();
            res.set_status(status);
            if let Some((name, value)) = header {
                res.insert_header(name, value);
            }
        }
        JsonEncoding::encode(self).unwrap_or_else(|_| {
            leptos::server_fn::Bytes::from_static(br#"{"error":"internal","message":"internal error"}"#)
        })
    }

    fn from_server_fn_error(e: ServerFnErrorErr) -> Self {
        match e {
            // On the server these mean the request body could not be decoded.
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                ApiError::BadRequest(format!("invalid request: {m}"))
            }
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(m) => ApiError::BadRequest(format!("invalid request body: {m}")),
            ServerFnErrorErr::Request(m) => ApiError::Unavailable(format!("could not reach the server: {m}")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_as_json_with_a_code() {
        let e = ApiError::NotFound("no lead L9".into());
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json, serde_json::json!({"error": "not_found", "message": "no lead L9"}));
        assert_eq!(serde_json::from_value::<ApiError>(json).unwrap(), e);
        assert_eq!(e.status(), 404);
        let limited = ApiError::TooManyRequests { message: "slow down".into(), retry_after_s: 30 };
        let json = serde_json::to_value(&limited).unwrap();
        assert_eq!(json["retry_after_s"], 30);
        assert_eq!(serde_json::from_value::<ApiError>(json).unwrap(), limited);
        assert_eq!(limited.status(), 429);
    }
}
