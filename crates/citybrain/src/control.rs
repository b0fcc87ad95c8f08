//! Signal controllers the `sim` command can run, by name.
//!
//! A controller sees the engine before every step and may set phases through the engine's
//! control API. Register new controllers in [`CONTROLLERS`]; `--control` accepts exactly the
//! names listed there (anything else is a usage error that lists them).

use citybrain_sim::{ControlMode, Engine};

/// Decides signal phases before each step.
pub(crate) trait Controller {
    /// Called before every step.
    fn before_step(&mut self, engine: &mut Engine);
}

/// A named controller.
pub(crate) struct ControllerSpec {
    /// Name given to `--control`.
    pub(crate) name: &'static str,
    /// One line for `--help` and error messages.
    pub(crate) about: &'static str,
    /// How the engine's lights run under this controller.
    pub(crate) mode: ControlMode,
    /// Builds the controller; `None` when the engine's own logic is all there is.
    pub(crate) build: fn(&Engine) -> Option<Box<dyn Controller>>,
}

/// Every controller, in the order `--help` lists them. The brain's controllers (fixed,
/// max-pressure, sotl, adaptive) are built from their flags by `brain_cli`.
pub(crate) const CONTROLLERS: &[ControllerSpec] = &[
    ControllerSpec {
        name: "native",
        about: "each light cycles its own lightphases from phase 0 (CityFlow rlTrafficLight: false)",
        mode: ControlMode::Native,
        build: |_| None,
    },
    ControllerSpec {
        name: "hold",
        about: "lights keep phase 0; nobody changes them (CityFlow rlTrafficLight: true, no agent)",
        mode: ControlMode::External,
        build: |_| None,
    },
    ControllerSpec {
        name: "fixed",
        about: "the brain: every green phase in turn for --green seconds (--yellow transitions)",
        mode: ControlMode::External,
        build: |_| None,
    },
    ControllerSpec {
        name: "max-pressure",
        about: "the brain: largest pressure every --action-interval seconds (--yellow transitions)",
        mode: ControlMode::External,
        build: |_| None,
    },
    ControllerSpec {
        name: "sotl",
        about: "the brain: self-organising traffic lights (--yellow transitions)",
        mode: ControlMode::External,
        build: |_| None,
    },
    ControllerSpec {
        name: "adaptive",
        about: "the brain: Citybrain's adaptive control (5 s transitions, bounded red)",
        mode: ControlMode::External,
        build: |_| None,
    },
];

/// Looks a controller up by name.
pub(crate) fn find(name: &str) -> anyhow::Result<&'static ControllerSpec> {
    CONTROLLERS.iter().find(|c| c.name == name).ok_or_else(|| {
        let valid: Vec<String> =
            CONTROLLERS.iter().map(|c| format!("  {:8} {}", c.name, c.about)).collect();
        anyhow::anyhow!(
            "unknown controller {name:?} for --control; valid controllers:\n{}",
            valid.join("\n")
        )
    })
}
