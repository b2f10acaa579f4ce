//! The browser's half of the CSV import: the chosen file is posted as it is (the server reads
//! its bytes, so a file that is not UTF-8 is told so), the import's answer is read line by line
//! as it streams in, and the refused rows become a file to download.

use crate::domain::import::{ImportProgress, Preview};
use crate::error::ApiError;
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, File, HtmlInputElement, Request, RequestInit, Response};

thread_local! {
    /// The file chosen last; preview and import both send it.
    static CHOSEN: RefCell<Option<File>> = const { RefCell::new(None) };
}

/// Keeps the file an `<input type=file>` change event chose; returns its name.
pub fn choose(ev: &leptos::ev::Event) -> Option<String> {
    let input: HtmlInputElement = ev.target()?.dyn_into().ok()?;
    let file = input.files()?.get(0)?;
    let name = file.name();
    CHOSEN.with(|c| *c.borrow_mut() = Some(file));
    Some(name)
}

fn failed(e: JsValue) -> ApiError {
    ApiError::Unavailable(format!("could not reach the server: {}", e.as_string().unwrap_or_else(|| format!("{e:?}"))))
}

/// Posts the chosen file to `url`; an error status becomes its `ApiError`.
async fn post(url: &str) -> Result<Response, ApiError> {
    let file =
        CHOSEN.with(|c| c.borrow().clone()).ok_or_else(|| ApiError::BadRequest("choose a CSV file first".into()))?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&file);
    let request = Request::new_with_str_and_init(url, &init).map_err(failed)?;
    request.headers().set("content-type", "text/csv").map_err(failed)?;
    let response: Response =
        JsFuture::from(leptos::prelude::window().fetch_with_request(&request)).await.map_err(failed)?.unchecked_into();
    if response.ok() {
        return Ok(response);
    }
    let text = JsFuture::from(response.text().map_err(failed)?).await.map_err(failed)?.as_string().unwrap_or_default();
    Err(serde_json::from_str(&text).unwrap_or_else(|_| ApiError::Internal(format!("status {}", response.status()))))
}

pub async fn preview() -> Result<Preview, ApiError> {
    let response = post("/csv/preview").await?;
    let text = JsFuture::from(response.text().map_err(failed)?).await.map_err(failed)?.as_string().unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| ApiError::Internal(format!("unreadable preview: {e}")))
}

/// Runs the import with `query` (the mapping), handing each progress line to `on_line` as it
/// arrives.
pub async fn import(query: &str, mut on_line: impl FnMut(ImportProgress)) -> Result<(), ApiError> {
    let response = post(&format!("/csv/import?{query}")).await?;
    let body = response.body().ok_or_else(|| ApiError::Internal("the import answered without a body".into()))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(failed)?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map_err(failed)?.as_bool().unwrap_or(true);
        if let Ok(value) = js_sys::Reflect::get(&chunk, &"value".into()) {
            if let Some(bytes) = value.dyn_ref::<js_sys::Uint8Array>() {
                pending.extend(bytes.to_vec());
            }
        }
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            match serde_json::from_slice::<ImportProgress>(&line) {
                Ok(progress) => on_line(progress),
                Err(e) => leptos::logging::warn!("unreadable import progress: {e}"),
            }
        }
        if done {
            return Ok(());
        }
    }
}

/// A link target (`blob:` URL) for `text` as a CSV file.
pub fn csv_link(text: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = BlobPropertyBag::new();
    options.set_type("text/csv;charset=utf-8");
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}
