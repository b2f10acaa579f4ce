//! An [`ApiError`] as the response of a plain axum handler (the websocket upgrade, the API
//! boundary): its JSON body, and the status and header of [`ApiError::response_head`]. Server
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
        Response::from_parts(parts, body)
    }
}
