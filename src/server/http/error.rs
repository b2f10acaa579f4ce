//! The one place an [`ApiError`] becomes an HTTP response: its JSON body, the status it names and,
//! for a rate limit, `Retry-After`.

use crate::error::ApiError;
use axum::http::response::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self).unwrap_or_default();
        let res = ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
        let (mut parts, body) = res.into_parts();
        set_status(&mut parts, &self);
        Response::from_parts(parts, body)
    }
}

/// The status an error names, and the `Retry-After` of a rate limit.
pub(super) fn set_status(parts: &mut Parts, e: &ApiError) {
    parts.status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let ApiError::TooManyRequests { retry_after_s, .. } = e {
        parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
    }
}
