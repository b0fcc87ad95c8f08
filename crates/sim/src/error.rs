//! Errors. Import errors are the user's mistakes (bad files) and always say which file, where
//! in it (a JSON path such as `intersections[3].roadLinks[2].laneLinks[0].endLaneIndex`) and
//! what was expected. Control errors are a caller's mistakes (an id or phase out of range).

/// A problem in an input file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// The text is not JSON at all.
    #[error("{file}: malformed JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// The file name (or label) given by the caller.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The JSON is well formed but something in it is wrong.
    #[error("{file}: at {path}: {message}")]
    Invalid {
        /// The file name (or label) given by the caller.
        file: String,
        /// JSON path of the offending value, e.g. `roads[3].lanes[0].maxSpeed`.
        path: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl ImportError {
    pub(crate) fn invalid(file: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        let path = path.into();
        Self::Invalid {
            file: file.to_owned(),
            path: if path.is_empty() { "(top level)".to_owned() } else { path },
            message: message.into(),
        }
    }

    /// Parses `text` as `T`, turning serde's errors into [`ImportError`]s with a JSON path.
    /// The fast path parses without tracking the path; only a failing document is parsed a
    /// second time to find where it went wrong.
    pub(crate) fn parse<'de, T: serde::Deserialize<'de>>(
        file: &str,
        text: &'de str,
    ) -> Result<T, Self> {
        match serde_json::from_str::<T>(text) {
            Ok(value) => Ok(value),
            Err(_) => Err(Self::locate::<T>(file, text)),
        }
    }

    fn locate<'de, T: serde::Deserialize<'de>>(file: &str, text: &'de str) -> Self {
        let de = &mut serde_json::Deserializer::from_str(text);
        let err = match serde_path_to_error::deserialize::<_, T>(&mut *de) {
            Ok(_) => match de.end() {
                Err(e) => {
                    return Self::Syntax {
                        file: file.to_owned(),
                        line: e.line(),
                        column: e.column(),
                        message: strip_position(&e.to_string()),
                    };
                }
                Ok(()) => return Self::invalid(file, "", "cannot be read"),
            },
            Err(err) => err,
        };
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Self::Syntax {
                file: file.to_owned(),
                line: inner.line(),
                column: inner.column(),
                message: strip_position(&inner.to_string()),
            }
        } else {
            let path = if path == "." { String::new() } else { path };
            Self::invalid(file, path, strip_position(&inner.to_string()))
        }
    }
}

/// serde_json appends " at line L column C"; the path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A control or query request the engine cannot honour.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// No intersection with this id.
    #[error("no intersection {0}")]
    UnknownIntersection(u32),
    /// The intersection is virtual or has no traffic light.
    #[error("intersection {0} has no traffic light")]
    NoSignal(String),
    /// The phase index is out of range.
    #[error("intersection {intersection} has {phases} phases; phase {requested} does not exist")]
    NoSuchPhase {
        /// External id of the intersection.
        intersection: String,
        /// How many phases it has.
        phases: usize,
        /// The index asked for.
        requested: usize,
    },
    /// No lane with this id.
    #[error("no lane {0}")]
    UnknownLane(u32),
    /// No vehicle with this id.
    #[error("no vehicle {0}")]
    UnknownVehicle(u32),
    /// A parameter is out of its valid range.
    #[error("{0}")]
    InvalidArgument(String),
}
