//! JSON-LD `@context` handling, focused on what NGSI-LD needs: resolving a context (inline
//! objects, URLs, arrays) into a term table, expanding terms to IRIs on the way in and
//! compacting IRIs to terms on the way out.
//!
//! The ETSI core contexts v1.6–v1.9 are embedded; every other URL must be supplied by the
//! caller through a [`DocumentSource`] (the server fetches them over HTTP with a timeout and a
//! cache). The core context is always applied last, so its protected terms win.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

use serde_json::Value;

use crate::error::{ErrorKind, NgsiError, NgsiResult};

/// The newest embedded core context's versioned URL (what responses advertise by default).
pub const CORE_CONTEXT_URL: &str =
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld";
/// The unversioned core context URL; it maps to the newest embedded version.
pub const CORE_CONTEXT_UNVERSIONED: &str =
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld";
/// IRI prefix of NGSI-LD's core vocabulary.
pub const NGSI_LD_NS: &str = "https://uri.etsi.org/ngsi-ld/";
/// The default `@vocab` of the core context, used for terms no context defines.
pub const DEFAULT_VOCAB: &str = "https://uri.etsi.org/ngsi-ld/default-context/";

const MAX_DEPTH: usize = 8;

static CORE_DOCS: LazyLock<Vec<(&'static str, Value)>> = LazyLock::new(|| {
    let raw: [(&str, &str); 4] = [
        ("1.6", include_str!("../contexts/core-v1.6.jsonld")),
        ("1.7", include_str!("../contexts/core-v1.7.jsonld")),
        ("1.8", include_str!("../contexts/core-v1.8.jsonld")),
        ("1.9", include_str!("../contexts/core-v1.9.jsonld")),
    ];
    raw.iter()
        .map(|(v, text)| {
            (*v, serde_json::from_str(text).expect("embedded core context is valid JSON"))
        })
        .collect()
});

static CORE: LazyLock<Arc<Context>> = LazyLock::new(|| {
    let mut builder = Builder::default();
    builder.add_core();
    Arc::new(builder.finish())
});

/// The embedded core context document for `url`, if `url` names a core context version.
pub fn core_document(url: &str) -> Option<&'static Value> {
    let rest = url
        .strip_prefix("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context")
        .or_else(|| url.strip_prefix("http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context"))?;
    let version = match rest {
        ".jsonld" => "1.9",
        _ => rest.strip_prefix("-v")?.strip_suffix(".jsonld")?,
    };
    CORE_DOCS.iter().find(|(v, _)| *v == version).map(|(_, doc)| doc)
}

/// Whether `url` is one of the core context URLs.
pub fn is_core_url(url: &str) -> bool {
    core_document(url).is_some()
}

/// Supplies remote context documents (already fetched) by URL.
pub trait DocumentSource {
    /// The whole document at `url` (an object with an `@context` member), or an error.
    fn document(&self, url: &str) -> NgsiResult<Arc<Value>>;
}

/// A source that knows no remote documents: any non-core URL is `LdContextNotAvailable`.
pub struct NoRemote;

impl DocumentSource for NoRemote {
    fn document(&self, url: &str) -> NgsiResult<Arc<Value>> {
        Err(NgsiError::new(
            ErrorKind::LdContextNotAvailable,
            format!("cannot retrieve @context {url}"),
        ))
    }
}

/// The remote (non-core) URLs that `ctx` references directly.
pub fn remote_urls(ctx: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match ctx {
        Value::String(url) if !is_core_url(url) => out.push(url.clone()),
        Value::Array(items) => {
            for item in items {
                if let Value::String(url) = item
                    && !is_core_url(url)
                {
                    out.push(url.clone());
                }
            }
        }
        _ => {}
    }
    out
}

/// How a term's values are interpreted (`@type` in the term definition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeMapping {
    /// `@vocab`: string values are terms to expand.
    Vocab,
    /// `@id`: string values are IRIs.
    Id,
    /// `@json`: the value is a JSON literal.
    Json,
    /// Any other datatype IRI.
    Other,
}

#[derive(Debug, Clone)]
struct TermDef {
    iri: String,
    type_mapping: Option<TypeMapping>,
}

/// A resolved JSON-LD context: a term table plus the default vocabulary.
#[derive(Debug)]
pub struct Context {
    terms: HashMap<String, TermDef>,
    vocab: Option<String>,
    reverse: OnceLock<HashMap<String, String>>,
    prefixes: OnceLock<Vec<(String, String)>>,
}

impl Context {
    /// The core context alone (used when a request carries no context).
    pub fn core() -> Arc<Context> {
        CORE.clone()
    }

    /// Resolves `ctx` (a URL, an inline object or an array of both) followed by the core
    /// context. Unknown URLs are looked up in `source`.
    pub fn resolve(ctx: &Value, source: &dyn DocumentSource) -> NgsiResult<Context> {
        let mut builder = Builder::default();
        builder.add(ctx, source, 0)?;
        builder.add_core();
        Ok(builder.finish())
    }

    /// Expands a term (attribute name, type name) to its IRI.
    pub fn expand(&self, term: &str) -> String {
        if let Some(def) = self.terms.get(term) {
            return def.iri.clone();
        }
        if let Some((prefix, suffix)) = term.split_once(':') {
            if suffix.starts_with("//") || prefix.is_empty() {
                return term.to_string();
            }
            if let Some(def) = self.terms.get(prefix) {
                return format!("{}{}", def.iri, suffix);
            }
            return term.to_string();
        }
        if term.starts_with('@') {
            return term.to_string();
        }
        match &self.vocab {
            Some(vocab) => format!("{vocab}{term}"),
            None => term.to_string(),
        }
    }

    /// The type mapping of `term`, if the context gives it one.
    pub fn type_mapping(&self, term: &str) -> Option<TypeMapping> {
        self.terms.get(term).and_then(|d| d.type_mapping)
    }

    /// Compacts an IRI to the shortest term that expands to it, else to `vocab`-relative or
    /// `prefix:suffix` form, else leaves it whole.
    pub fn compact(&self, iri: &str) -> String {
        self.compact_ref(iri).into_owned()
    }

    /// [`Context::compact`] without copying when the term is a defined term or the tail of
    /// `iri` (the common cases when rendering).
    pub fn compact_ref<'a>(&'a self, iri: &'a str) -> Cow<'a, str> {
        if let Some(term) = self.reverse().get(iri) {
            return Cow::Borrowed(term);
        }
        if let Some(vocab) = &self.vocab
            && let Some(rest) = iri.strip_prefix(vocab.as_str())
            && !rest.is_empty()
            && !rest.contains(':')
            && !self.terms.contains_key(rest)
        {
            return Cow::Borrowed(rest);
        }
        let mut best: Option<String> = None;
        for (prefix, prefix_iri) in self.prefixes() {
            if let Some(rest) = iri.strip_prefix(prefix_iri.as_str()) {
                if rest.is_empty() {
                    continue;
                }
                let candidate = format!("{prefix}:{rest}");
                if best.as_ref().is_none_or(|b| candidate.len() < b.len()) {
                    best = Some(candidate);
                }
            }
        }
        best.map_or(Cow::Borrowed(iri), Cow::Owned)
    }

    fn reverse(&self) -> &HashMap<String, String> {
        self.reverse.get_or_init(|| {
            let mut map: HashMap<String, String> = HashMap::new();
            for (term, def) in &self.terms {
                if def.iri.starts_with('@') || term.contains(':') {
                    continue;
                }
                let better = match map.get(&def.iri) {
                    None => true,
                    Some(cur) => (term.len(), term.as_str()) < (cur.len(), cur.as_str()),
                };
                if better {
                    map.insert(def.iri.clone(), term.clone());
                }
            }
            map
        })
    }

    fn prefixes(&self) -> &Vec<(String, String)> {
        self.prefixes.get_or_init(|| {
            self.terms
                .iter()
                .filter(|(t, d)| {
                    !t.contains(':') && d.iri.ends_with(['/', '#', ':', '?', '@', '[', ']'])
                })
                .map(|(t, d)| (t.clone(), d.iri.clone()))
                .collect()
        })
    }
}

#[derive(Default)]
struct Builder {
    raw: HashMap<String, Value>,
    order: Vec<String>,
    vocab: Option<Value>,
}

impl Builder {
    fn add_core(&mut self) {
        let doc = core_document(CORE_CONTEXT_UNVERSIONED).expect("newest core context is embedded");
        if let Some(Value::Object(map)) = doc.get("@context") {
            self.add_object(map);
        }
    }

    fn add(&mut self, ctx: &Value, source: &dyn DocumentSource, depth: usize) -> NgsiResult<()> {
        if depth > MAX_DEPTH {
            return Err(NgsiError::bad_data("@context nests remote contexts too deeply"));
        }
        match ctx {
            Value::Null => {
                self.raw.clear();
                self.vocab = None;
            }
            Value::String(url) => {
                if let Some(doc) = core_document(url) {
                    if let Some(Value::Object(map)) = doc.get("@context") {
                        self.add_object(map);
                    }
                    return Ok(());
                }
                let doc = source.document(url)?;
                let inner = doc.get("@context").ok_or_else(|| {
                    NgsiError::bad_data(format!("remote document {url} has no @context member"))
                })?;
                self.add(inner, source, depth + 1)?;
            }
            Value::Array(items) => {
                for item in items {
                    self.add(item, source, depth)?;
                }
            }
            Value::Object(map) => {
                // Clause 5.5.7: a user @context shall not hold scoped contexts.
                if depth == 0
                    && let Some(term) = map.iter().find_map(|(k, v)| {
                        v.as_object().is_some_and(|d| d.contains_key("@context")).then_some(k)
                    })
                {
                    return Err(NgsiError::bad_data(format!(
                        "@context term '{term}' carries a scoped @context, which a user \
                         @context shall not contain (clause 5.5.7)"
                    )));
                }
                self.add_object(map);
            }
            other => {
                return Err(NgsiError::bad_data(format!(
                    "@context must be a URL, an object or an array, not {other}"
                )));
            }
        }
        Ok(())
    }

    fn add_object(&mut self, map: &serde_json::Map<String, Value>) {
        for (key, value) in map {
            match key.as_str() {
                "@vocab" => self.vocab = Some(value.clone()),
                k if k.starts_with('@') => {}
                _ => {
                    if !self.raw.contains_key(key) {
                        self.order.push(key.clone());
                    }
                    self.raw.insert(key.clone(), value.clone());
                }
            }
        }
    }

    fn finish(self) -> Context {
        let mut terms = HashMap::with_capacity(self.raw.len());
        for term in &self.order {
            if let Some(def) = self.define(term, 0) {
                terms.insert(term.clone(), def);
            }
        }
        let vocab = match &self.vocab {
            Some(Value::String(v)) => Some(self.expand_raw(v, 0)),
            _ => None,
        };
        Context { terms, vocab, reverse: OnceLock::new(), prefixes: OnceLock::new() }
    }

    fn define(&self, term: &str, depth: usize) -> Option<TermDef> {
        let raw = self.raw.get(term)?;
        let (id, ty) = match raw {
            Value::String(s) => (Some(s.as_str()), None),
            Value::Object(o) => {
                (o.get("@id").and_then(Value::as_str), o.get("@type").and_then(Value::as_str))
            }
            _ => return None,
        };
        let iri = match id {
            Some(id) => self.expand_raw(id, depth + 1),
            None if term.contains(':') => self.expand_raw(term, depth + 1),
            None => match &self.vocab {
                Some(Value::String(v)) => format!("{v}{term}"),
                _ => term.to_string(),
            },
        };
        let type_mapping = ty.map(|t| match t {
            "@vocab" => TypeMapping::Vocab,
            "@id" => TypeMapping::Id,
            "@json" => TypeMapping::Json,
            _ => TypeMapping::Other,
        });
        Some(TermDef { iri, type_mapping })
    }

    /// Expands an IRI-ish string used inside a context (prefixes resolved recursively).
    fn expand_raw(&self, value: &str, depth: usize) -> String {
        if value.starts_with('@') || depth > MAX_DEPTH * 4 {
            return value.to_string();
        }
        if let Some((prefix, suffix)) = value.split_once(':') {
            if suffix.starts_with("//") {
                return value.to_string();
            }
            if let Some(def) = self.define(prefix, depth + 1) {
                return format!("{}{}", def.iri, suffix);
            }
            return value.to_string();
        }
        if self.raw.get(value).is_some_and(|v| !matches!(v, Value::String(s) if s == value))
            && let Some(def) = self.define(value, depth + 1)
        {
            return def.iri;
        }
        match &self.vocab {
            Some(Value::String(v)) => format!("{v}{value}"),
            _ => value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_terms_expand_and_compact() {
        let ctx = Context::core();
        assert_eq!(ctx.expand("location"), "https://uri.etsi.org/ngsi-ld/location");
        assert_eq!(ctx.expand("speed"), "https://uri.etsi.org/ngsi-ld/default-context/speed");
        assert_eq!(ctx.compact("https://uri.etsi.org/ngsi-ld/default-context/speed"), "speed");
        assert_eq!(ctx.compact("https://uri.etsi.org/ngsi-ld/location"), "location");
        assert_eq!(ctx.expand("urn:x:y"), "urn:x:y");
        assert_eq!(ctx.compact("https://example.org/other"), "https://example.org/other");
    }

    #[test]
    fn user_terms_and_prefixes() {
        let ctx = Context::resolve(
            &json!({"ex": "https://example.org/", "speed": "ex:speed", "Car": "https://example.org/Car"}),
            &NoRemote,
        )
        .unwrap();
        assert_eq!(ctx.expand("speed"), "https://example.org/speed");
        assert_eq!(ctx.expand("ex:power"), "https://example.org/power");
        assert_eq!(ctx.compact("https://example.org/speed"), "speed");
        assert_eq!(ctx.compact("https://example.org/power"), "ex:power");
        assert_eq!(ctx.expand("Car"), "https://example.org/Car");
    }

    #[test]
    fn versioned_and_unversioned_core_urls_are_embedded() {
        for v in ["1.6", "1.7", "1.8", "1.9"] {
            assert!(is_core_url(&format!(
                "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v{v}.jsonld"
            )));
        }
        assert!(is_core_url(CORE_CONTEXT_UNVERSIONED));
        assert!(!is_core_url("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v9.9.jsonld"));
        let ctx = Context::resolve(&json!(CORE_CONTEXT_UNVERSIONED), &NoRemote).unwrap();
        assert_eq!(ctx.expand("observedAt"), "https://uri.etsi.org/ngsi-ld/observedAt");
    }

    #[test]
    fn unknown_remote_context_is_not_available() {
        let err = Context::resolve(&json!("http://127.0.0.1:1/ctx.jsonld"), &NoRemote).unwrap_err();
        assert_eq!(err.kind, ErrorKind::LdContextNotAvailable);
        assert_eq!(
            remote_urls(&json!(["http://a/b", CORE_CONTEXT_URL])),
            vec!["http://a/b".to_string()]
        );
    }
}
