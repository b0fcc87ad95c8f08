//! HTTP details of the NGSI-LD binding: content negotiation (clause 6.3.4), the JSON-LD
//! `Link` header, query parameters and request bodies.

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

use crate::problem::{ApiError, ApiResult};
use citybrain_ngsi::ErrorKind;

/// The `rel` of a JSON-LD context Link.
pub(crate) const LINK_REL: &str = "http://www.w3.org/ns/json-ld#context";

/// Response media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    /// `application/json` (context in the Link header).
    Json,
    /// `application/ld+json` (context in the body).
    LdJson,
    /// `application/geo+json`.
    GeoJson,
}

impl Media {
    /// The Content-Type text.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json",
            Media::LdJson => "application/ld+json",
            Media::GeoJson => "application/geo+json",
        }
    }
}

/// Chooses the response media type from `Accept` among `offers` (in the spec's order of
/// preference): the highest weight wins, each offer weighted by the most specific matching
/// range; ties go to the earlier offer; `q=0` excludes. No Accept means JSON.
pub(crate) fn negotiate(headers: &HeaderMap, offers: &[Media]) -> ApiResult<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(offers[0]);
    };
    if accept.trim().is_empty() {
        return Ok(offers[0]);
    }
    let ranges: Vec<(String, f32)> = accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let range = pieces.next()?.trim().to_ascii_lowercase();
            let mut q = 1.0f32;
            for p in pieces {
                if let Some(v) = p.trim().strip_prefix("q=") {
                    q = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|q: &f32| (0.0..=1.0).contains(q))
                        .unwrap_or(1.0);
                }
            }
            (!range.is_empty()).then_some((range, q))
        })
        .collect();
    let mut best: Option<(Media, f32)> = None;
    for offer in offers {
        let ct = offer.content_type();
        let (major, _) = ct.split_once('/').unwrap_or((ct, ""));
        let mut weight: Option<(u8, f32)> = None;
        for (range, q) in &ranges {
            let specificity = if range == ct {
                3
            } else if range.strip_suffix("/*") == Some(major) {
                2
            } else if range == "*/*" {
                1
            } else {
                continue;
            };
            if weight.is_none_or(|(s, _)| specificity > s) {
                weight = Some((specificity, *q));
            }
        }
        if let Some((_, q)) = weight
            && q > 0.0
            && best.is_none_or(|(_, bq)| q > bq)
        {
            best = Some((*offer, q));
        }
    }
    best.map(|(m, _)| m).ok_or_else(|| {
        ApiError::kind(
            ErrorKind::NotAcceptable,
            format!("cannot produce any media type in Accept '{accept}'"),
        )
    })
}

/// Request body media types the API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyType {
    /// `application/json` (or merge-patch+json): context from the Link header.
    Json,
    /// `application/ld+json`: context in the body.
    LdJson,
}

/// Checks `Content-Type`; `merge_patch` allows `application/merge-patch+json`.
pub(crate) fn body_type(headers: &HeaderMap, merge_patch: bool) -> ApiResult<BodyType> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" => Ok(BodyType::Json),
        "application/ld+json" => Ok(BodyType::LdJson),
        "application/merge-patch+json" if merge_patch => Ok(BodyType::Json),
        _ => Err(ApiError::kind(
            ErrorKind::UnsupportedMediaType,
            format!(
                "Content-Type '{ct}' is not supported; use application/json or application/ld+json"
            ),
        )),
    }
}

/// Parses a JSON body (`InvalidRequest` on malformed JSON).
pub(crate) fn parse_json(body: &[u8]) -> ApiResult<Value> {
    if body.is_empty() {
        return Err(ApiError::invalid("the request has no body"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))
}

/// Parses a body that must be one JSON object; `what` names it in the error ("the update").
pub(crate) fn parse_json_object(body: &[u8], what: &str) -> ApiResult<Value> {
    let json = parse_json(body)?;
    if !json.is_object() {
        return Err(ApiError::bad_data(format!("{what} must be a JSON object")));
    }
    Ok(json)
}

/// The context URL in a JSON-LD `Link` header, if any.
pub(crate) fn link_context(headers: &HeaderMap) -> ApiResult<Option<String>> {
    for value in headers.get_all(header::LINK) {
        let text = value.to_str().map_err(|_| ApiError::bad_data("the Link header is not text"))?;
        for link in text.split(',') {
            let link = link.trim();
            let Some(rest) = link.strip_prefix('<') else { continue };
            let Some((url, params)) = rest.split_once('>') else {
                return Err(ApiError::bad_data(format!("malformed Link header '{text}'")));
            };
            let is_ctx = params.split(';').any(|p| {
                let p = p.trim();
                p.strip_prefix("rel=").is_some_and(|r| r.trim_matches('"') == LINK_REL)
            });
            if is_ctx {
                if !citybrain_ngsi::parse::is_uri(url) {
                    return Err(ApiError::bad_data(format!(
                        "the Link context '{url}' is not a URI"
                    )));
                }
                return Ok(Some(url.to_string()));
            }
        }
    }
    Ok(None)
}

/// The Link header value for `url`.
pub(crate) fn link_header(url: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("<{url}>; rel=\"{LINK_REL}\"; type=\"application/ld+json\""))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Parsed query parameters with an allow-list.
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `raw` and rejects any parameter not in `allowed` (`InvalidRequest`).
    pub(crate) fn parse(raw: Option<&str>, allowed: &[&str]) -> ApiResult<Params> {
        let pairs: Vec<(String, String)> = match raw {
            Some(q) => url_pairs(q),
            None => Vec::new(),
        };
        for (k, _) in &pairs {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::invalid(format!("unknown query parameter '{k}'")));
            }
        }
        Ok(Params { pairs })
    }

    /// The value of `name` (the last one if repeated).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in request order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Comma-separated list values of `name`, repeated parameters concatenated.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// A boolean parameter (`true`/`false`).
    pub(crate) fn flag(&self, name: &str) -> ApiResult<bool> {
        match self.get(name) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(ApiError::bad_data(format!(
                "parameter '{name}' must be true or false, not '{v}'"
            ))),
        }
    }

    /// Reads a `count` inside `options` as `count=true`. Only Query Temporal Evolution does
    /// this: ngsildclient's `temporal.query` sends the NGSIv2 spelling `options=count` with
    /// every request, and clients like it must work unchanged; elsewhere `count` stays an
    /// unknown option.
    pub(crate) fn with_count_option_as_flag(mut self) -> Params {
        let mut counted = false;
        for (k, v) in &mut self.pairs {
            if k == "options" && v.split(',').any(|o| o.trim() == "count") {
                counted = true;
                *v = v.split(',').filter(|o| o.trim() != "count").collect::<Vec<_>>().join(",");
            }
        }
        if counted {
            self.pairs.retain(|(k, v)| k != "options" || !v.is_empty());
            self.pairs.push(("count".to_string(), "true".to_string()));
        }
        self
    }

    /// A non-negative integer parameter.
    pub(crate) fn usize(&self, name: &str) -> ApiResult<Option<usize>> {
        self.get(name)
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    ApiError::bad_data(format!(
                        "parameter '{name}' must be a non-negative integer, not '{v}'"
                    ))
                })
            })
            .transpose()
    }
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decodes a URL component (`+` is a space).
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Options from `options=` and `format=`: representation and sysAttrs.
pub(crate) struct Options {
    /// Representation.
    pub(crate) format: citybrain_ngsi::render::Format,
    /// `sysAttrs`.
    pub(crate) sys_attrs: bool,
    /// `noOverwrite`.
    pub(crate) no_overwrite: bool,
    /// `temporalValues` / `aggregatedValues`.
    pub(crate) temporal_values: bool,
    /// `aggregatedValues`.
    pub(crate) aggregated: bool,
    /// `replace` / `update` (batch upsert).
    pub(crate) update: bool,
}

impl Options {
    /// Parses `options` and `format` (unknown options are `BadRequestData`).
    pub(crate) fn parse(p: &Params) -> ApiResult<Options> {
        Options::parse_or(p, ErrorKind::BadRequestData)
    }

    /// Parses `options` and `format`, answering an unknown value with an error of `kind`.
    /// Retrieve Entity and Query Temporal Evolution call a value outside the enumerations
    /// of clauses 6.3.7/6.3.20 a malformed request (`InvalidRequest`; conformance 018_16,
    /// 021_20); elsewhere it stays `BadRequestData`.
    pub(crate) fn parse_or(p: &Params, kind: ErrorKind) -> ApiResult<Options> {
        use citybrain_ngsi::render::Format;
        let mut o = Options {
            format: Format::Normalized,
            sys_attrs: false,
            no_overwrite: false,
            temporal_values: false,
            aggregated: false,
            update: false,
        };
        for opt in p.list("options") {
            match opt.as_str() {
                "keyValues" | "simplified" => o.format = Format::KeyValues,
                "concise" => o.format = Format::Concise,
                "normalized" => o.format = Format::Normalized,
                "sysAttrs" => o.sys_attrs = true,
                "noOverwrite" => o.no_overwrite = true,
                "temporalValues" => o.temporal_values = true,
                "aggregatedValues" => o.aggregated = true,
                "update" => o.update = true,
                "replace" => o.update = false,
                other => {
                    return Err(ApiError::kind(kind, format!("options: unknown option '{other}'")));
                }
            }
        }
        if let Some(f) = p.get("format") {
            o.format = match f {
                "keyValues" | "simplified" => Format::KeyValues,
                "concise" => Format::Concise,
                "normalized" => Format::Normalized,
                "temporalValues" => {
                    o.temporal_values = true;
                    o.format
                }
                "aggregatedValues" => {
                    o.aggregated = true;
                    o.format
                }
                other => {
                    return Err(ApiError::kind(kind, format!("format: unknown format '{other}'")));
                }
            };
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str, offers: &[Media]) -> Option<Media> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        negotiate(&h, offers).ok()
    }

    #[test]
    fn accept_negotiation_follows_6_3_4() {
        let all = [Media::Json, Media::LdJson, Media::GeoJson];
        let cases = [
            ("application/ld+json, application/json", Some(Media::Json)),
            ("application/geo+json, application/json", Some(Media::Json)),
            ("application/json;q=0.1, application/ld+json;q=0.9", Some(Media::LdJson)),
            ("application/json;q=0, */*", Some(Media::LdJson)),
            ("*/*;q=0.9, application/ld+json;q=0.8", Some(Media::Json)),
            ("application/ld+json;q=notanumber", Some(Media::LdJson)),
            ("*/*", Some(Media::Json)),
            ("text/html", None),
        ];
        for (accept, expected) in cases {
            assert_eq!(pick(accept, &all), expected, "{accept}");
        }
        assert_eq!(pick("application/geo+json", &[Media::Json, Media::LdJson]), None);
        assert_eq!(
            pick(
                "application/geo+json;q=0.9, application/ld+json;q=0.1",
                &[Media::Json, Media::LdJson]
            ),
            Some(Media::LdJson)
        );
    }

    #[test]
    fn link_and_params() {
        let mut h = HeaderMap::new();
        h.insert(header::LINK, link_header("http://example.org/ctx.jsonld"));
        assert_eq!(link_context(&h).unwrap().as_deref(), Some("http://example.org/ctx.jsonld"));
        let p = Params::parse(Some("type=A,B&q=speed%3E5&count=true"), &["type", "q", "count"])
            .unwrap();
        assert_eq!(p.list("type"), vec!["A", "B"]);
        assert_eq!(p.get("q"), Some("speed>5"));
        assert!(p.flag("count").unwrap());
        assert!(Params::parse(Some("bogus=1"), &["type"]).is_err());
        assert_eq!(decode("a%2Cb+c%"), "a,b c%");
    }
}
