//! Test helpers: an in-process server, a raw HTTP client speaking Appwrite's headers, and a
//! Realtime client.

use std::time::Duration;

use appwrite_testserver::{spawn, CacheMode, Config, Running, Version};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const PROJECT: &str = "leadboard";
pub const KEY: &str = "secret-key";
pub const DB: &str = "main";
pub const LEADS: &str = "leads";

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Server {
    pub running: Running,
    pub http: reqwest::Client,
}

/// Who sends a request.
#[derive(Clone, Copy)]
pub enum As<'a> {
    Key,
    Session(&'a str),
    Jwt(&'a str),
    Guest,
}

impl Server {
    /// The default profile (the newest release).
    pub async fn start() -> Self {
        Self::start_with(Version::NEWEST, None).await
    }

    pub async fn start_as(version: Version) -> Self {
        Self::start_with(version, None).await
    }

    pub async fn start_with(version: Version, document_cache: Option<CacheMode>) -> Self {
        let config =
            Config { project: PROJECT.into(), api_key: KEY.into(), version, document_cache, ..Config::default() };
        let running = spawn(config).await.expect("server starts");
        Server { running, http: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.addr)
    }

    pub fn request(&self, who: As, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, self.url(path)).header("X-Appwrite-Project", PROJECT);
        match who {
            As::Key => request.header("X-Appwrite-Key", KEY),
            As::Session(secret) => request.header("X-Appwrite-Session", secret),
            As::Jwt(jwt) => request.header("X-Appwrite-JWT", jwt),
            As::Guest => request,
        }
    }

    /// Sends and returns status and JSON body (`null` for empty bodies).
    pub async fn call(&self, who: As<'_>, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.request(who, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn post(&self, who: As<'_>, path: &str, body: Value) -> (u16, Value) {
        self.call(who, Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, who: As<'_>, path: &str) -> (u16, Value) {
        self.call(who, Method::GET, path, None).await
    }

    /// `GET path` with each query as a `queries[]` parameter.
    pub async fn list(&self, who: As<'_>, path: &str, queries: &[Value]) -> (u16, Value) {
        let params: Vec<(&str, String)> = queries.iter().map(|q| ("queries[]", q.to_string())).collect();
        read(self.request(who, Method::GET, path).query(&params).send().await.expect("request sent")).await
    }

    pub async fn admin(&self, path: &str, body: Value) -> (u16, Value) {
        read(self.http.post(self.url(path)).json(&body).send().await.expect("admin call")).await
    }

    /// Database `main`, collection `leads` (document security on, signed-in users may create)
    /// with a few attributes and a unique index on `email`.
    pub async fn setup_leads(&self) {
        let (status, _) = self.post(As::Key, "/v1/databases", json!({"databaseId": DB, "name": "Main"})).await;
        assert_eq!(status, 201);
        let (status, _) = self
            .post(
                As::Key,
                &format!("/v1/databases/{DB}/collections"),
                json!({"collectionId": LEADS, "name": "Leads", "permissions": ["create(\"users\")"], "documentSecurity": true}),
            )
            .await;
        assert_eq!(status, 201);
        let attributes = [
            ("string", json!({"key": "name", "size": 64, "required": true})),
            ("string", json!({"key": "status", "size": 16, "required": false, "default": "open"})),
            ("string", json!({"key": "email", "size": 128, "required": false})),
            ("integer", json!({"key": "value", "required": false, "min": 0})),
            ("boolean", json!({"key": "hot", "required": false})),
            ("datetime", json!({"key": "closedAt", "required": false})),
        ];
        for (kind, body) in attributes {
            let (status, attr) = self.post(As::Key, &format!("{}/attributes/{kind}", collection_path()), body).await;
            assert_eq!(status, 202, "{attr}");
        }
        let (status, _) = self
            .post(
                As::Key,
                &format!("{}/indexes", collection_path()),
                json!({"key": "email_unique", "type": "unique", "attributes": ["email"]}),
            )
            .await;
        assert_eq!(status, 202);
    }

    /// Creates `id@example.com` with password `password123` and returns a session secret.
    pub async fn user_session(&self, id: &str) -> String {
        let email = format!("{id}@example.com");
        let (status, user) = self
            .post(As::Key, "/v1/users", json!({"userId": id, "email": email, "password": "password123", "name": id}))
            .await;
        assert_eq!(status, 201, "{user}");
        let (status, session) =
            self.post(As::Key, "/v1/account/sessions/email", json!({"email": email, "password": "password123"})).await;
        assert_eq!(status, 201, "{session}");
        session["secret"].as_str().expect("secret for API keys").to_owned()
    }

    pub async fn create_lead(&self, who: As<'_>, id: &str, data: Value, permissions: Option<Value>) -> (u16, Value) {
        let mut body = json!({"documentId": id, "data": data});
        if let Some(permissions) = permissions {
            body["permissions"] = permissions;
        }
        self.post(who, &documents_path(), body).await
    }

    /// Opens a Realtime socket with extra handshake headers.
    pub async fn socket(&self, query: &str, headers: &[(&str, &str)]) -> Socket {
        let url = format!("ws://{}/v1/realtime?{query}", self.running.addr);
        let mut request = url.into_client_request().expect("ws request");
        for (name, value) in headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("header name");
            request.headers_mut().insert(name, value.parse().expect("header value"));
        }
        tokio_tungstenite::connect_async(request).await.expect("ws connects").0
    }

    /// A socket on `channels` (already past the `connected` message).
    pub async fn subscribe(&self, channels: &[&str], headers: &[(&str, &str)]) -> Socket {
        let query: String = channels.iter().map(|c| format!("&channels[]={c}")).collect();
        let mut socket = self.socket(&format!("project={PROJECT}{query}"), headers).await;
        let connected = next_json(&mut socket).await;
        assert_eq!(connected["type"], "connected", "{connected}");
        socket
    }
}

pub fn collection_path() -> String {
    format!("/v1/databases/{DB}/collections/{LEADS}")
}

pub fn documents_path() -> String {
    format!("{}/documents", collection_path())
}

pub fn document_path(id: &str) -> String {
    format!("{}/{id}", documents_path())
}

pub async fn read(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
    (status, body)
}

/// Asserts an Appwrite error body.
pub fn assert_error(result: &(u16, Value), status: u16, kind: &str) {
    let (actual, body) = result;
    assert_eq!((*actual, body["type"].as_str()), (status, Some(kind)), "{body}");
    assert_eq!(body["code"], status);
    assert!(body["message"].is_string() && body["version"].is_string(), "{body}");
}

/// The next text message as JSON, failing after 3 s.
pub async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(3), socket.next())
            .await
            .expect("a message within 3s")
            .expect("socket open")
            .expect("valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON message"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The `$id`s of the payloads of the next `n` events.
pub async fn payload_ids(socket: &mut Socket, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(next_json(socket).await["data"]["payload"]["$id"].as_str().expect("event payload").to_owned());
    }
    ids
}

pub async fn send_json(socket: &mut Socket, value: Value) {
    socket.send(Message::Text(value.to_string().into())).await.expect("send");
}

/// Waits until the socket ends; returns the close frame's code if one was sent.
pub async fn closed(socket: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(3), socket.next()).await.expect("socket ends within 3s") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}
