//! Request parameters with Appwrite's validation errors instead of axum's rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::errors::ApiError;

/// A JSON request body deserialised into `T`. An empty body counts as `{}`, like a request
/// without parameters; missing required parameters and wrong types are `400
/// general_argument_invalid` as Utopia's param validation reports them.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| ApiError::ArgumentInvalid(e.to_string()))?;
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(&bytes).map_err(|e| ApiError::ArgumentInvalid(format!("Invalid JSON body: {e}")))?
        };
        serde_json::from_value(value).map(Body).map_err(|e| {
            let text = e.to_string();
            match text.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
                Some(param) => ApiError::ArgumentInvalid(format!("Param \"{param}\" is not optional.")),
                None => ApiError::ArgumentInvalid(format!("Invalid param: {text}")),
            }
        })
    }
}

/// All values of an array parameter in a query string, in order: PHP accepts `name[]=a`,
/// `name[0]=a` (what the SDKs send) and a plain `name=a`.
pub fn list(raw_query: Option<&str>, name: &str) -> Vec<String> {
    form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
        .filter(|(key, _)| {
            key == name
                || key
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('['))
                    .is_some_and(|rest| rest.ends_with(']'))
        })
        .map(|(_, value)| value.into_owned())
        .collect()
}

/// A single query-string parameter.
pub fn single(raw_query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The `data` parameter of document calls: an object, or an object encoded as a JSON string
/// (Utopia's `JSON` validator accepts both).
pub fn json_object(param: &str, value: Value) -> Result<Map<String, Value>, ApiError> {
    let value = match value {
        Value::String(text) => serde_json::from_str(&text)
            .map_err(|_| ApiError::invalid_param(param, "Value must be a valid JSON string"))?,
        other => other,
    };
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        Value::Array(items) if items.is_empty() => Ok(Map::new()),
        _ => Err(ApiError::invalid_param(param, "Value must be a valid JSON string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_php_style_arrays() {
        let q = "queries%5B0%5D=a&channels[]=x&queries[1]=b&queries=c&other=d";
        assert_eq!(list(Some(q), "queries"), vec!["a", "b", "c"]);
        assert_eq!(list(Some(q), "channels"), vec!["x"]);
        assert_eq!(single(Some(q), "other").as_deref(), Some("d"));
    }
}
