//! Appwrite's error model: every failure is one `ApiError` variant, rendered as
//! `{"message","code","version","type"}` like `app/controllers/general.php` (error handler) does.
//! Types, codes and default messages follow `app/config/errors.php` (1.8.1); what differs by
//! version is applied by [`versioned`], which renders every error body with the profile's
//! `version` field (Appwrite's `APP_VERSION_STABLE`).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::version::Version;
use crate::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Project with the requested ID could not be found. Please check the value of the X-Appwrite-Project header to ensure the correct project ID is being used.")]
    ProjectNotFound,
    #[error("Route not found. Please ensure the endpoint is configured correctly and that the API route is valid for this SDK version. Refer to the API docs for more details.")]
    RouteNotFound,
    #[error("{0}")]
    ArgumentInvalid(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    QueryInvalid(String),
    #[error("{0}")]
    CursorNotFound(String),
    #[error("{0}")]
    UnauthorizedScope(String),
    #[error("{0}")]
    UserUnauthorized(String),
    #[error("API key and session used in the same request. Use either `setSession` or `setKey`. Learn about which authentication method to use in the SSR docs: https://appwrite.io/docs/products/auth/server-side-rendering")]
    ApiKeyAndSessionSet,
    #[error("{0}")]
    JwtInvalid(String),
    #[error("Invalid credentials. Please check the email and password.")]
    InvalidCredentials,
    #[error("Creation of a session is prohibited when a session is active.")]
    SessionAlreadyExists,
    #[error("The current user session could not be found.")]
    SessionNotFound,
    #[error("The current user has been blocked. You can unblock the user by making a request to the User API's \"Update User Status\" endpoint or in the Appwrite Console's Auth section.")]
    UserBlocked,
    #[error("{0}")]
    UserNotFound(String),
    #[error("{0}")]
    UserAlreadyExists(String),
    #[error("Team with the requested ID could not be found.")]
    TeamNotFound,
    #[error("Team with requested ID already exists. Please choose a different ID and try again.")]
    TeamAlreadyExists,
    #[error("Membership is already confirmed.")]
    MembershipAlreadyConfirmed,
    #[error("User has already been invited or is already a member of this team")]
    TeamInviteAlreadyExists,
    #[error("The requested team invitation could not be found.")]
    TeamInviteNotFound,
    #[error("The membership ID does not belong to the team ID.")]
    TeamMembershipMismatch,
    #[error("Database with the requested ID '{0}' could not be found.")]
    DatabaseNotFound(String),
    #[error("Database with the requested ID '{0}' already exists. Try again with a different ID or use ID.unique() to generate a unique ID.")]
    DatabaseAlreadyExists(String),
    #[error("Collection with the requested ID '{0}' could not be found.")]
    CollectionNotFound(String),
    #[error("A collection with the requested ID '{0}' already exists. Try again with a different ID or use ID.unique() to generate a unique ID.")]
    CollectionAlreadyExists(String),
    #[error("Attribute with the requested key '{0}' could not be found.")]
    AttributeNotFound(String),
    #[error("Attribute with the requested key '{0}' already exists. Attribute keys must be unique, try again with a different key.")]
    AttributeAlreadyExists(String),
    #[error("The attribute '{0}' required for the index could not be found. Please confirm all your attributes are in the available state.")]
    AttributeUnknown(String),
    #[error("{0}")]
    AttributeDefaultUnsupported(String),
    #[error("{0}")]
    AttributeValueInvalid(String),
    #[error("Index with the requested key '{0}' already exists. Try again with a different key.")]
    IndexAlreadyExists(String),
    #[error("{0}")]
    IndexInvalid(String),
    #[error("Document with the requested ID '{0}' could not be found.")]
    DocumentNotFound(String),
    #[error("Document with the requested ID '{0}' already exists. Try again with a different ID or use ID.unique() to generate a unique ID.")]
    DocumentAlreadyExists(String),
    #[error("Remote document is newer than local.")]
    DocumentUpdateConflict,
    #[error("{0}")]
    DocumentInvalidStructure(String),
    #[error("{0}")]
    DocumentMissingData(String),
    #[error("The document data and permissions are missing. You must provide either document data or permissions to be updated.")]
    DocumentMissingPayload,
    #[error("Transaction with the requested ID '{0}' could not be found.")]
    TransactionNotFound(String),
    #[error("The transaction is not ready yet. Please try again later.")]
    TransactionNotReady,
    #[error("The transaction has expired. Please create a new transaction and try again.")]
    TransactionExpired,
    #[error("The transaction has a conflict. Please resolve the conflict and try again.")]
    TransactionConflict,
    #[error("{0}")]
    TransactionLimitExceeded(String),
    #[error("{0}")]
    AttributeLimitExceeded(String),
    #[error("{0}")]
    AttributeTypeInvalid(String),
    #[error("Rate limit for the current endpoint has been exceeded. Please try again after some time.")]
    RateLimitExceeded,
    /// Any 5xx. Appwrite hides the message of 500s ("Server Error") but lets 501/503 through.
    #[error("{message}")]
    Server { status: u16, message: String },
}

impl ApiError {
    /// Appwrite's `type` string and HTTP status for this error.
    pub fn type_and_status(&self) -> (&'static str, u16) {
        use ApiError::*;
        match self {
            ProjectNotFound => ("project_not_found", 404),
            RouteNotFound => ("general_route_not_found", 404),
            ArgumentInvalid(_) => ("general_argument_invalid", 400),
            BadRequest(_) => ("general_bad_request", 400),
            QueryInvalid(_) => ("general_query_invalid", 400),
            CursorNotFound(_) => ("general_cursor_not_found", 400),
            UnauthorizedScope(_) => ("general_unauthorized_scope", 401),
            UserUnauthorized(_) => ("user_unauthorized", 401),
            ApiKeyAndSessionSet => ("user_api_key_and_session_set", 403),
            JwtInvalid(_) => ("user_jwt_invalid", 401),
            InvalidCredentials => ("user_invalid_credentials", 401),
            SessionAlreadyExists => ("user_session_already_exists", 401),
            SessionNotFound => ("user_session_not_found", 404),
            UserBlocked => ("user_blocked", 401),
            UserNotFound(_) => ("user_not_found", 404),
            UserAlreadyExists(_) => ("user_already_exists", 409),
            TeamNotFound => ("team_not_found", 404),
            TeamAlreadyExists => ("team_already_exists", 409),
            MembershipAlreadyConfirmed => ("membership_already_confirmed", 409),
            TeamInviteAlreadyExists => ("team_invite_already_exists", 409),
            TeamInviteNotFound => ("team_invite_not_found", 404),
            TeamMembershipMismatch => ("team_membership_mismatch", 404),
            DatabaseNotFound(_) => ("database_not_found", 404),
            DatabaseAlreadyExists(_) => ("database_already_exists", 409),
            CollectionNotFound(_) => ("collection_not_found", 404),
            CollectionAlreadyExists(_) => ("collection_already_exists", 409),
            AttributeNotFound(_) => ("attribute_not_found", 404),
            AttributeAlreadyExists(_) => ("attribute_already_exists", 409),
            AttributeUnknown(_) => ("attribute_unknown", 400),
            AttributeDefaultUnsupported(_) => ("attribute_default_unsupported", 400),
            AttributeValueInvalid(_) => ("attribute_value_invalid", 400),
            IndexAlreadyExists(_) => ("index_already_exists", 409),
            IndexInvalid(_) => ("index_invalid", 400),
            DocumentNotFound(_) => ("document_not_found", 404),
            DocumentAlreadyExists(_) => ("document_already_exists", 409),
            DocumentUpdateConflict => ("document_update_conflict", 409),
            DocumentInvalidStructure(_) => ("document_invalid_structure", 400),
            DocumentMissingData(_) => ("document_missing_data", 400),
            DocumentMissingPayload => ("document_missing_payload", 400),
            TransactionNotFound(_) => ("transaction_not_found", 404),
            TransactionNotReady => ("transaction_not_ready", 400),
            TransactionExpired => ("transaction_expired", 410),
            TransactionConflict => ("transaction_conflict", 409),
            TransactionLimitExceeded(_) => ("transaction_limit_exceeded", 400),
            AttributeLimitExceeded(_) => ("attribute_limit_exceeded", 400),
            AttributeTypeInvalid(_) => ("attribute_type_invalid", 400),
            RateLimitExceeded => ("general_rate_limit_exceeded", 429),
            Server { status, .. } => ("general_unknown", *status),
        }
    }

    /// The default message Appwrite uses for `user_unauthorized`.
    pub fn unauthorized() -> Self {
        Self::UserUnauthorized("The current user is not authorized to perform the requested action.".into())
    }

    /// `user_not_found` with Appwrite's default message.
    pub fn user_not_found() -> Self {
        Self::UserNotFound("User with the requested ID could not be found.".into())
    }

    /// An error for an HTTP status chosen by fault injection.
    pub fn for_status(status: u16) -> Self {
        match status {
            429 => Self::RateLimitExceeded,
            // Appwrite never shows the message of a plain 500.
            500 => Self::Server { status, message: "Server Error".into() },
            _ => Self::Server { status, message: "The server is temporarily unable to handle the request.".into() },
        }
    }

    /// `Invalid `<param>` param: <reason>` as produced by Utopia's param validation.
    pub fn invalid_param(param: &str, reason: impl std::fmt::Display) -> Self {
        Self::ArgumentInvalid(format!("Invalid `{param}` param: {reason}"))
    }
}

/// What an error response carries until [`versioned`] renders it for the profile.
#[derive(Debug, Clone)]
struct Pending {
    kind: &'static str,
    status: u16,
    message: String,
}

impl Pending {
    /// The profile's status and wording (`app/config/errors.php` of that release).
    fn render(self, version: Version) -> Response {
        let (status, message) = match self.kind {
            "user_blocked" if version >= Version::V1_9_0 => {
                (version.user_blocked_status(), "The current user has been blocked.".to_owned())
            }
            _ => (self.status, self.message),
        };
        let body = json!({"message": message, "code": status, "version": version.release(), "type": self.kind});
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(body)).into_response();
        // general.php marks every error response as uncacheable.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, must-revalidate"));
        response
    }
}

impl IntoResponse for ApiError {
    /// Rendered for the newest release; [`versioned`] re-renders it for the running profile.
    fn into_response(self) -> Response {
        let (kind, status) = self.type_and_status();
        let pending = Pending { kind, status, message: self.to_string() };
        let mut response = pending.clone().render(Version::NEWEST);
        response.extensions_mut().insert(pending);
        response
    }
}

/// Middleware over every route: error bodies carry the profile's version and status codes.
pub async fn versioned(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    match response.extensions_mut().remove::<Pending>() {
        Some(pending) => pending.render(state.version),
        None => response,
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
