//! Request bodies, read whole under a size limit and a deadline: the JSON API's (`http`'s API
//! boundary) and the CSV uploads' (`transfer::routes`), each with its own limit.

use crate::error::ApiError;
use axum::body::{to_bytes, Body, Bytes};
use axum::http::{header, HeaderMap};
use std::time::Duration;

/// A request's whole body, at most `limit` bytes (413 past it, before reading when the declared
/// length says so), arriving within `deadline` (408 after: a client that trickles it in holds a
/// connection no longer than that). Bodies without a declared length (chunked) are read up to
/// the limit, so a handler never sees one cut off.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize, deadline: Duration) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::PayloadTooLarge(format!("request body over {}", size(limit)));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    match tokio::time::timeout(deadline, to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) => {
            Err(too_large())
        }
        Ok(Err(e)) => Err(ApiError::BadRequest(format!("could not read the request body: {e}"))),
        Err(_) => {
            Err(ApiError::RequestTimeout(format!("the request body did not arrive within {} s", deadline.as_secs())))
        }
    }
}

/// `limit` as people write it: 64 KiB, 4 MiB.
fn size(limit: usize) -> String {
    match limit {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_named_as_people_write_them() {
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(4 * 1024 * 1024), "4 MiB");
        assert_eq!(size(1000), "1000 bytes");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_or_past_the_deadline_is_refused() {
        let ok = read_body(&HeaderMap::new(), Body::from("abc"), 3, Duration::from_secs(1)).await;
        assert_eq!(ok.unwrap(), "abc");
        let big = read_body(&HeaderMap::new(), Body::from("abcd"), 3, Duration::from_secs(1)).await;
        assert_eq!(big.unwrap_err().status(), 413);
        let declared = HeaderMap::from_iter([(header::CONTENT_LENGTH, "10".parse().unwrap())]);
        assert_eq!(read_body(&declared, Body::empty(), 3, Duration::from_secs(1)).await.unwrap_err().status(), 413);
        let never = Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        assert_eq!(read_body(&HeaderMap::new(), never, 3, Duration::from_millis(20)).await.unwrap_err().status(), 408);
    }
}
