//! Counter-based randomness: every random choice is a pure function of (seed, subject,
//! decision site), so results never depend on the order in which choices are made or on the
//! number of threads.

/// Decision sites (what the random number is for).
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub(crate) enum Site {
    /// Which of the allowed lanes a new vehicle starts on.
    FirstLane = 1,
    /// A vehicle's tie-break priority at conflict points.
    Priority = 2,
    /// Generator choices (origin/destination picks and the like).
    Generator = 3,
}

/// SplitMix64's finaliser: a good 64-bit mix.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniformly distributed 64-bit number for (seed, subject, site).
pub(crate) fn draw(seed: u64, subject: u64, site: Site) -> u64 {
    let a = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
    let b = mix(a ^ subject.wrapping_mul(0xd1b5_4a32_d192_ed03));
    mix(b ^ (site as u64).wrapping_mul(0x8cb9_2ba7_2f3d_8dd7))
}

/// A number in `0..n` for (seed, subject, site). `n` must be > 0.
pub(crate) fn below(seed: u64, subject: u64, site: Site, n: usize) -> usize {
    (draw(seed, subject, site) % n as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_stable_and_spread() {
        assert_eq!(draw(1, 2, Site::Priority), draw(1, 2, Site::Priority));
        assert_ne!(draw(1, 2, Site::Priority), draw(1, 2, Site::FirstLane));
        assert_ne!(draw(1, 2, Site::Priority), draw(2, 2, Site::Priority));
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[below(7, i, Site::FirstLane, 4)] += 1;
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
    }
}
