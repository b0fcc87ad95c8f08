//! Fuzzes the CityFlow importer and, when an input is accepted, a short run of the engine.
//! Input: `roadnet.json` text, the line `@@`, `flow.json` text (see `fuzz/seeds/import`).
//! Nothing may panic; accepted scenarios must conserve vehicles.
#![no_main]

use citybrain_sim::{Engine, EngineConfig, Scenario, import};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (roadnet, flow) = text.split_once("\n@@\n").unwrap_or((text, "[]"));
    let _ = import::parse_config(roadnet, "config.json");
    let Ok(s) = Scenario::from_json(roadnet, "roadnet.json", flow, "flow.json") else { return };
    let Ok(mut e) = Engine::new(s.network, s.demand, EngineConfig::default()) else { return };
    e.run(60);
    let m = e.metrics();
    assert_eq!(m.created, m.finished + m.running + m.waiting);
});
