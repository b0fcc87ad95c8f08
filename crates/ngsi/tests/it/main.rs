//! Property tests: the parsers of user input never panic, and what they accept round-trips.
#![allow(clippy::unwrap_used)]

use citybrain_ngsi::Context;
use citybrain_ngsi::filters::{parse_scope_q, parse_type_expr};
use citybrain_ngsi::parse::parse_entity;
use citybrain_ngsi::query::{matches, parse_q};
use citybrain_ngsi::render::{RenderOptions, render_entity};
use proptest::prelude::*;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-zA-Z:/ .@]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                "(id|type|value|object|observedAt|datasetId|[a-z]{1,6}|@context)",
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn q_parser_never_panics(text in "[a-zA-Z0-9_.;|()\\[\\]=!<>~\"',: -]{0,40}") {
        let ctx = Context::core();
        if let Ok(q) = parse_q(&text, &|t| ctx.expand(t)) {
            let e = parse_entity(&json!({"id": "urn:a:1", "type": "T", "a": 1, "b": "x"}), &ctx, 0).unwrap();
            let _ = matches(&q, &e);
        }
        let _ = parse_type_expr(&text, &|t| t.to_string());
        let _ = parse_scope_q(&text);
    }

    #[test]
    fn entity_parser_never_panics_and_accepted_entities_render(body in arb_json()) {
        let ctx = Context::core();
        if let Ok(e) = parse_entity(&body, &ctx, 0) {
            let rendered = Value::Object(render_entity(&e, &RenderOptions::new(&ctx)));
            let again = parse_entity(&rendered, &ctx, 0).unwrap();
            prop_assert_eq!(again.id, e.id);
            prop_assert_eq!(again.attrs.len(), e.attrs.len());
        }
    }

    #[test]
    fn valid_comparisons_parse(attr in "[a-z]{1,8}", n in -1000i32..1000, op in prop::sample::select(vec!["==", "!=", ">", ">=", "<", "<="])) {
        let ctx = Context::core();
        let q = format!("{attr}{op}{n}");
        prop_assert!(parse_q(&q, &|t| ctx.expand(t)).is_ok(), "{}", q);
    }
}
