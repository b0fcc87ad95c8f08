//! A small boolean-expression parser shared by the query language `q`, `scopeQ` and type
//! expressions: `;` is AND, `|` (and `,` where allowed) is OR, AND binds tighter, and
//! parentheses group. Atoms are parsed by the caller.

use crate::error::{NgsiError, NgsiResult};

/// A boolean expression over atoms of type `A`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr<A> {
    /// All must hold.
    And(Vec<Expr<A>>),
    /// At least one must hold.
    Or(Vec<Expr<A>>),
    /// A leaf.
    Atom(A),
}

impl<A> Expr<A> {
    /// Evaluates with `f` deciding each atom.
    pub fn eval(&self, f: &mut impl FnMut(&A) -> bool) -> bool {
        match self {
            Expr::And(items) => items.iter().all(|e| e.eval(f)),
            Expr::Or(items) => items.iter().any(|e| e.eval(f)),
            Expr::Atom(a) => f(a),
        }
    }

    /// Every atom, depth first.
    pub fn atoms(&self) -> Vec<&A> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    /// Applies `f` to every atom.
    pub fn for_each_atom_mut(&mut self, f: &mut impl FnMut(&mut A)) {
        match self {
            Expr::And(items) | Expr::Or(items) => {
                items.iter_mut().for_each(|e| e.for_each_atom_mut(f));
            }
            Expr::Atom(a) => f(a),
        }
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a A>) {
        match self {
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| e.collect(out)),
            Expr::Atom(a) => out.push(a),
        }
    }
}

/// Parses an atom at the start of the text; returns it and how many bytes it used.
pub type AtomParser<'p, A> = dyn FnMut(&str) -> NgsiResult<(A, usize)> + 'p;

/// Parses `text` with `atom` for leaves; `comma_is_or` makes `,` an OR too.
pub fn parse_expr<A>(
    text: &str,
    what: &str,
    comma_is_or: bool,
    atom: &mut AtomParser<'_, A>,
) -> NgsiResult<Expr<A>> {
    let mut p = Parser { text, pos: 0, what, comma_is_or, depth: 0 };
    let expr = p.or(atom)?;
    if p.pos != text.len() {
        return Err(p.error("unexpected text"));
    }
    Ok(expr)
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
    what: &'t str,
    comma_is_or: bool,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, msg: &str) -> NgsiError {
        NgsiError::bad_data(format!(
            "invalid {} '{}': {msg} at position {}",
            self.what, self.text, self.pos
        ))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn or<A>(&mut self, atom: &mut AtomParser<'_, A>) -> NgsiResult<Expr<A>> {
        let mut items = vec![self.and(atom)?];
        while matches!(self.peek(), Some(b'|')) || (self.comma_is_or && self.peek() == Some(b',')) {
            self.pos += 1;
            items.push(self.and(atom)?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Or(items) })
    }

    fn and<A>(&mut self, atom: &mut AtomParser<'_, A>) -> NgsiResult<Expr<A>> {
        let mut items = vec![self.primary(atom)?];
        while self.peek() == Some(b';') {
            self.pos += 1;
            items.push(self.primary(atom)?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::And(items) })
    }

    fn primary<A>(&mut self, atom: &mut AtomParser<'_, A>) -> NgsiResult<Expr<A>> {
        if self.peek() == Some(b'(') {
            self.depth += 1;
            if self.depth > 32 {
                return Err(self.error("too deeply nested"));
            }
            self.pos += 1;
            let inner = self.or(atom)?;
            if self.peek() != Some(b')') {
                return Err(self.error("missing ')'"));
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(inner);
        }
        let rest = &self.text[self.pos..];
        if rest.is_empty() {
            return Err(self.error("expected a term"));
        }
        let (a, used) = atom(rest).map_err(|e| {
            NgsiError::new(e.kind, format!("invalid {} '{}': {}", self.what, self.text, e.detail))
        })?;
        if used == 0 {
            return Err(self.error("expected a term"));
        }
        self.pos += used;
        Ok(Expr::Atom(a))
    }
}

/// Takes a plain token (up to the next operator character) from the start of `text`.
pub fn plain_token(text: &str, stops: &[u8]) -> (String, usize) {
    let end = text.bytes().position(|b| stops.contains(&b)).unwrap_or(text.len());
    (text[..end].to_string(), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> NgsiResult<Expr<String>> {
        parse_expr(text, "test", true, &mut |t: &str| {
            let (tok, n) = plain_token(t, b";|,()");
            Ok((tok, n))
        })
    }

    #[test]
    fn precedence_and_groups() {
        let e = parse("a;b|c").unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                Expr::And(vec![Expr::Atom("a".into()), Expr::Atom("b".into())]),
                Expr::Atom("c".into())
            ])
        );
        let e = parse("a;(b,c)").unwrap();
        assert!(matches!(e, Expr::And(_)));
        assert!(parse("(a;b").is_err());
        assert!(parse("a;").is_err());
        assert!(parse("a)").is_err());
    }
}
