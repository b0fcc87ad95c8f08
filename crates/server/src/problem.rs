//! Turning errors into responses: NGSI-LD ProblemDetails bodies with the status from the
//! error table in `citybrain-ngsi`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citybrain_ngsi::error::{ErrorKind, NgsiError};

/// An error on its way out as a ProblemDetails response.
#[derive(Debug)]
pub struct ApiError(pub NgsiError);

impl From<NgsiError> for ApiError {
    fn from(e: NgsiError) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    /// `InvalidRequest` with `detail`.
    pub fn invalid(detail: impl Into<String>) -> Self {
        ApiError(NgsiError::invalid(detail))
    }
    /// `BadRequestData` with `detail`.
    pub fn bad_data(detail: impl Into<String>) -> Self {
        ApiError(NgsiError::bad_data(detail))
    }
    /// An error of `kind`.
    pub fn kind(kind: ErrorKind, detail: impl Into<String>) -> Self {
        ApiError(NgsiError::new(kind, detail))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let info = self.0.kind.info();
        let status = StatusCode::from_u16(info.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.0.problem_details().to_string();
        let mut resp = (status, body).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        resp
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
