//! NGSI-LD error kinds and the one table that maps each to its ProblemDetails type URI,
//! HTTP status and title (ETSI GS CIM 009, clause 5.5.2 and 6.3.2).

use thiserror::Error;

/// The kinds of errors the NGSI-LD API defines (plus the HTTP-level ones the hub needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed (syntax, parameters).
    InvalidRequest,
    /// The request is well-formed but its content is not valid NGSI-LD.
    BadRequestData,
    /// The entity, subscription or attribute already exists.
    AlreadyExists,
    /// The operation is not supported by this broker.
    OperationNotSupported,
    /// The target resource does not exist.
    ResourceNotFound,
    /// An unexpected fault inside the broker.
    InternalError,
    /// The query is too complex to be executed.
    TooComplexQuery,
    /// The query would return too many results.
    TooManyResults,
    /// A remote JSON-LD `@context` could not be retrieved.
    LdContextNotAvailable,
    /// The broker does not support tenants for this operation.
    NoMultiTenantSupport,
    /// The tenant named in `NGSILD-Tenant` does not exist.
    NonexistentTenant,
    /// None of the media types in `Accept` can be produced.
    NotAcceptable,
    /// The request body's media type is not supported.
    UnsupportedMediaType,
    /// The request body exceeds the size limit.
    PayloadTooLarge,
    /// The storage layer is unavailable (disk full, I/O error).
    ServiceUnavailable,
}

/// One row of the error table.
#[derive(Debug, Clone, Copy)]
pub struct ErrorInfo {
    /// ProblemDetails `type` URI.
    pub type_uri: &'static str,
    /// HTTP status code.
    pub status: u16,
    /// ProblemDetails `title`.
    pub title: &'static str,
}

impl ErrorKind {
    /// The table: every kind, its ProblemDetails type URI, HTTP status and title.
    pub const fn info(self) -> ErrorInfo {
        macro_rules! row {
            ($name:literal, $status:literal, $title:literal) => {
                ErrorInfo {
                    type_uri: concat!("https://uri.etsi.org/ngsi-ld/errors/", $name),
                    status: $status,
                    title: $title,
                }
            };
        }
        match self {
            ErrorKind::InvalidRequest => row!("InvalidRequest", 400, "Invalid request"),
            ErrorKind::BadRequestData => row!("BadRequestData", 400, "Bad request data"),
            ErrorKind::AlreadyExists => row!("AlreadyExists", 409, "Already exists"),
            ErrorKind::OperationNotSupported => {
                row!("OperationNotSupported", 422, "Operation not supported")
            }
            ErrorKind::ResourceNotFound => row!("ResourceNotFound", 404, "Resource not found"),
            ErrorKind::InternalError => row!("InternalError", 500, "Internal error"),
            ErrorKind::TooComplexQuery => row!("TooComplexQuery", 403, "Too complex query"),
            ErrorKind::TooManyResults => row!("TooManyResults", 403, "Too many results"),
            ErrorKind::LdContextNotAvailable => {
                row!("LdContextNotAvailable", 503, "JSON-LD context not available")
            }
            ErrorKind::NoMultiTenantSupport => {
                row!("NoMultiTenantSupport", 501, "No multi-tenant support")
            }
            ErrorKind::NonexistentTenant => row!("NonexistentTenant", 404, "Nonexistent tenant"),
            ErrorKind::NotAcceptable => row!("NotAcceptable", 406, "Not acceptable"),
            ErrorKind::UnsupportedMediaType => {
                row!("UnsupportedMediaType", 415, "Unsupported media type")
            }
            ErrorKind::PayloadTooLarge => row!("PayloadTooLarge", 413, "Payload too large"),
            ErrorKind::ServiceUnavailable => {
                row!("ServiceUnavailable", 503, "Storage unavailable")
            }
        }
    }
}

/// An NGSI-LD error: a kind from the table plus a detail that names what is wrong.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{}: {detail}", kind.info().title)]
pub struct NgsiError {
    /// Which row of the table.
    pub kind: ErrorKind,
    /// Human-readable detail naming the field or parameter at fault.
    pub detail: String,
}

impl NgsiError {
    /// A new error of `kind` with `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        NgsiError { kind, detail: detail.into() }
    }
    /// `InvalidRequest` (malformed request).
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, detail)
    }
    /// `BadRequestData` (invalid content).
    pub fn bad_data(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequestData, detail)
    }
    /// `ResourceNotFound`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, detail)
    }
    /// `AlreadyExists`.
    pub fn exists(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, detail)
    }
    /// `InternalError`.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::InternalError, detail)
    }
    /// The ProblemDetails JSON body for this error.
    pub fn problem_details(&self) -> serde_json::Value {
        let info = self.kind.info();
        serde_json::json!({ "type": info.type_uri, "title": info.title, "detail": self.detail })
    }
}

/// Result alias for NGSI-LD operations.
pub type NgsiResult<T> = Result<T, NgsiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_have_the_spec_uris_and_statuses() {
        let cases = [
            (ErrorKind::BadRequestData, 400, "BadRequestData"),
            (ErrorKind::ResourceNotFound, 404, "ResourceNotFound"),
            (ErrorKind::AlreadyExists, 409, "AlreadyExists"),
            (ErrorKind::LdContextNotAvailable, 503, "LdContextNotAvailable"),
            (ErrorKind::NonexistentTenant, 404, "NonexistentTenant"),
        ];
        for (kind, status, name) in cases {
            let info = kind.info();
            assert_eq!(info.status, status);
            assert_eq!(info.type_uri, format!("https://uri.etsi.org/ngsi-ld/errors/{name}"));
        }
    }

    #[test]
    fn problem_details_title_differs_from_detail() {
        let body = NgsiError::bad_data("attribute 'speed' has no value").problem_details();
        assert_ne!(body["title"], body["detail"]);
        assert_eq!(body["type"], "https://uri.etsi.org/ngsi-ld/errors/BadRequestData");
    }
}
