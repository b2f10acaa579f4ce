//! An [`ApiError`] as the response of a plain axum handler (the websocket upgrade, the API
//! boundary): its JSON body, and the status and header of [`ApiError::response_head`]; an error
//! that leaves the request's body unread also closes the connection. Server
//! functions' errors get the same through `FromServerFnError::ser` (src/error.rs).

use crate::error::ApiError;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self).unwrap_or_default();
        let res = ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
        let (mut parts, body) = res.into_parts();
        let (status, header) = self.response_head();
        parts.status = status;
        parts.headers.extend(header);
        // The request's body was not read to its end: the connection cannot carry another
        // request, and a client that reuses it must know before it tries.
        if matches!(self, ApiError::PayloadTooLarge(_) | ApiError::RequestTimeout(_)) {
            parts.headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Response::from_parts(parts, body)
    }
}
