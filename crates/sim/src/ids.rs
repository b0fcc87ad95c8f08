//! Dense ids: every network element and vehicle is a small integer index into a `Vec`.
//!
//! External string ids (`"road_1_1_0"`) are mapped to these once, at import; the engine never
//! hashes a string. Ids are `u32` so that per-vehicle state stays small.

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            /// The id as a `usize` index.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }

            /// The id of the element at `index`.
            ///
            /// # Panics
            /// If `index` does not fit in `u32` (networks are far smaller).
            #[inline]
            pub fn from_index(index: usize) -> Self {
                Self(u32::try_from(index).expect("network element counts fit in u32"))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}#{}", stringify!($name), self.0)
            }
        }
    };
}

dense_id!(
    /// An intersection (signalised, unsignalised or virtual boundary node).
    IntersectionId
);
dense_id!(
    /// A directed road between two intersections.
    RoadId
);
dense_id!(
    /// A lane of a road. Lanes of one road have consecutive ids, innermost (index 0) first.
    LaneId
);
dense_id!(
    /// A road link: one movement (turn) from a start road to an end road at an intersection.
    RoadLinkId
);
dense_id!(
    /// A lane link: the path through an intersection from one lane to another.
    LaneLinkId
);
dense_id!(
    /// A vehicle, numbered in creation order from 0.
    VehicleId
);
dense_id!(
    /// A flow of the demand file, in file order (CityFlow names it `flow_<index>`).
    FlowId
);
dense_id!(
    /// Anything a vehicle can drive on: lanes first (`0..lanes`), then lane links.
    DrivableId
);

/// A vehicle's position on the network: the drivable it is on and how far its front is from
/// the drivable's start, in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Location {
    /// The lane or lane link the vehicle's front is on.
    pub drivable: DrivableId,
    /// Distance of the vehicle's front from the start of the drivable, metres.
    pub distance_m: f64,
}
