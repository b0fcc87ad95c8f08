//! The `pick`/`omit` projection grammar (clause 4.21): members separated by `,` or `|`, each
//! an entity member name optionally followed by `{…}`, the projection of the entities its
//! Relationship links to (used with `join`). Anything else — an empty member, an unclosed
//! or doubled brace, a character no attribute name may hold — is BadRequestData.

use citybrain_ngsi::parse::is_valid_name;

use crate::problem::{ApiError, ApiResult};

/// One member of a projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The member as written (`id`, `type`, a term or an IRI).
    pub(crate) name: String,
    /// `name{…}`: the projection of the linked entities.
    pub(crate) linked: Option<Vec<Member>>,
}

/// Parses the value of the `param` parameter (named in errors).
pub(crate) fn parse(param: &str, text: &str) -> ApiResult<Vec<Member>> {
    let mut parser = Parser { param, text, pos: 0 };
    let members = parser.members()?;
    if parser.pos < text.len() {
        return Err(parser.error(&format!("an unmatched '}}' at position {}", parser.pos)));
    }
    Ok(members)
}

struct Parser<'a> {
    param: &'a str,
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn error(&self, what: &str) -> ApiError {
        ApiError::bad_data(format!(
            "{}='{}' has {what}; members are names separated by ',' or '|', a linked entity's \
             members go in '{{…}}'",
            self.param, self.text
        ))
    }

    fn members(&mut self) -> ApiResult<Vec<Member>> {
        let mut out = vec![self.member()?];
        while let Some(',' | '|') = self.peek() {
            self.pos += 1;
            out.push(self.member()?);
        }
        Ok(out)
    }

    fn member(&mut self) -> ApiResult<Member> {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| !matches!(c, ',' | '|' | '{' | '}')) {
            self.pos += c.len_utf8();
        }
        // Spaces around a name are tolerated, as in `pick=name, street`.
        let name = self.text[start..self.pos].trim();
        if name.is_empty() {
            return Err(self.error(&format!("an empty member at position {start}")));
        }
        if !is_valid_name(name) {
            return Err(self.error(&format!("'{name}', which is not a valid member name")));
        }
        let linked = if self.peek() == Some('{') {
            self.pos += 1;
            let inner = self.members()?;
            if self.peek() != Some('}') {
                return Err(self.error(&format!("an unclosed '{{' after '{name}'")));
            }
            self.pos += 1;
            Some(inner)
        } else {
            None
        };
        Ok(Member { name: name.to_string(), linked })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(members: &[Member]) -> Vec<String> {
        members
            .iter()
            .map(|m| match &m.linked {
                Some(inner) => format!("{}{{{}}}", m.name, names(inner).join(",")),
                None => m.name.clone(),
            })
            .collect()
    }

    #[test]
    fn nested_members_parse_at_every_level() {
        let m = parse("pick", "id,locatedAt{id,name,isInCountry{id|description}}").unwrap();
        assert_eq!(names(&m), ["id", "locatedAt{id,name,isInCountry{id,description}}"]);
        let m = parse("omit", "name, street").unwrap();
        assert_eq!(names(&m), ["name", "street"]);
    }

    #[test]
    fn malformed_projections_are_refused() {
        // 018_18_04..09: ';', unclosed and doubled braces, consecutive separators, an
        // expression starting with a separator, empty braces; plus a stray '}'.
        for bad in [
            "id;name",
            "id,locatedAt{name",
            "id,locatedAt{{name}",
            "id,,name",
            "id,locatedAt{,name}",
            "id,locatedAt{}",
            "id, ,name",
            "id}",
            "",
        ] {
            assert!(parse("pick", bad).is_err(), "{bad}");
        }
    }
}
