//! A compact binary record of a run for drawing: vehicle positions and signal phases over
//! time.
//!
//! # Format (version 1, all numbers little-endian)
//! ```text
//! header  = "CBREPLAY" (8 bytes)  u32 version=1  f64 interval_s  u32 every_steps
//!           u32 intersections      -- phases per frame; ids are the roadnet's order
//! frame   = u8 'F'  u32 step  u32 vehicles  (intersections × u16 phase)  (vehicles × vehicle)
//! vehicle = u32 id  f32 x  f32 y  i16 heading  u8 flags  u8 reserved   -- 16 bytes
//! end     = u8 'E'
//! ```
//! - `step`: steps done when the frame was taken (time = step × interval).
//! - `phase`: the light's phase index, `0xFFFF` for virtual and unsignalised intersections.
//! - `id`: the dense vehicle id (creation order; `VehicleId` in the API, `id` in the
//!   vehicles CSV, whose `vehicle_id` column holds CityFlow's name).
//! - `x`, `y`: the vehicle's front, metres, in the roadnet's coordinates; `heading`: direction
//!   of travel in units of 1/10 000 radian, counter-clockwise from east (−π..π).
//! - `flags`: bit 0 emergency vehicle, bit 1 halted (speed < 0.1 m/s).
//!
//! Draw the map from the roadnet itself (see [`crate::network`]); a frame is 13 + 2 × phases
//! + 16 × vehicles bytes.

use std::io::{self, Read, Write};

use crate::engine::Engine;

const MAGIC: &[u8; 8] = b"CBREPLAY";
const VERSION: u32 = 1;
/// Phase value of intersections without a light.
pub const NO_PHASE: u16 = u16::MAX;

/// One vehicle in a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplayVehicle {
    /// Dense vehicle id.
    pub id: u32,
    /// Front position, metres.
    pub x: f32,
    /// Front position, metres.
    pub y: f32,
    /// Heading, radians counter-clockwise from east (quantised to 1e-4).
    pub heading: f32,
    /// Emergency vehicle.
    pub emergency: bool,
    /// Speed below 0.1 m/s.
    pub halted: bool,
}

/// One snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Steps done.
    pub step: u32,
    /// Per intersection: phase, or [`NO_PHASE`].
    pub phases: Vec<u16>,
    /// Running vehicles.
    pub vehicles: Vec<ReplayVehicle>,
}

/// Header fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Header {
    /// Step length, seconds.
    pub interval_s: f64,
    /// Steps between frames.
    pub every_steps: u32,
    /// Intersections (phases per frame).
    pub intersections: u32,
}

/// Writes frames of an engine's state to any `Write`.
pub struct ReplayWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> ReplayWriter<W> {
    /// Writes the header.
    pub fn new(mut out: W, engine: &Engine, every_steps: u32) -> io::Result<Self> {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&engine.config().interval_s.to_le_bytes());
        buf.extend_from_slice(&every_steps.to_le_bytes());
        let n = engine.network().intersections().len() as u32;
        buf.extend_from_slice(&n.to_le_bytes());
        out.write_all(&buf)?;
        Ok(Self { out, buf })
    }

    /// Writes the engine's current state as a frame.
    pub fn frame(&mut self, engine: &Engine) -> io::Result<()> {
        let b = &mut self.buf;
        b.clear();
        b.push(b'F');
        b.extend_from_slice(&(engine.steps() as u32).to_le_bytes());
        let count_at = b.len();
        b.extend_from_slice(&0u32.to_le_bytes());
        for i in 0..engine.network().intersections().len() {
            let phase = engine.phase(crate::IntersectionId::from_index(i));
            let p = phase.map_or(NO_PHASE, |p| p.min(usize::from(NO_PHASE - 1)) as u16);
            b.extend_from_slice(&p.to_le_bytes());
        }
        let mut n = 0u32;
        for v in engine.vehicles() {
            let (p, heading) = engine.vehicle_xy(&v);
            b.extend_from_slice(&v.id.0.to_le_bytes());
            b.extend_from_slice(&(p.x as f32).to_le_bytes());
            b.extend_from_slice(&(p.y as f32).to_le_bytes());
            b.extend_from_slice(&((heading * 1e4).round() as i16).to_le_bytes());
            b.push(u8::from(v.emergency) | (u8::from(v.speed_mps < 0.1) << 1));
            b.push(0);
            n += 1;
        }
        b[count_at..count_at + 4].copy_from_slice(&n.to_le_bytes());
        self.out.write_all(b)
    }

    /// Writes the end marker and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"E")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a replay.
pub struct ReplayReader<R: Read> {
    input: R,
    header: Header,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

impl<R: Read> ReplayReader<R> {
    /// Reads and checks the header.
    pub fn new(mut input: R) -> io::Result<Self> {
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(bad("not a Citybrain replay (bad magic)"));
        }
        if read_u32(&mut input)? != VERSION {
            return Err(bad("unsupported replay version"));
        }
        let interval_s = f64::from_le_bytes(read_array(&mut input)?);
        let every_steps = read_u32(&mut input)?;
        let intersections = read_u32(&mut input)?;
        Ok(Self { input, header: Header { interval_s, every_steps, intersections } })
    }

    /// The header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The next frame, or `None` at the end marker.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        let [tag] = read_array::<1>(&mut self.input)?;
        match tag {
            b'E' => return Ok(None),
            b'F' => {}
            _ => return Err(bad("corrupt replay: expected a frame or the end marker")),
        }
        let step = read_u32(&mut self.input)?;
        let n = read_u32(&mut self.input)?;
        let phases = (0..self.header.intersections)
            .map(|_| read_array::<2>(&mut self.input).map(u16::from_le_bytes))
            .collect::<io::Result<Vec<_>>>()?;
        let mut vehicles = Vec::with_capacity(n.min(1 << 20) as usize);
        for _ in 0..n {
            let r: [u8; 16] = read_array(&mut self.input)?;
            let word = |i: usize| [r[i], r[i + 1], r[i + 2], r[i + 3]];
            vehicles.push(ReplayVehicle {
                id: u32::from_le_bytes(word(0)),
                x: f32::from_le_bytes(word(4)),
                y: f32::from_le_bytes(word(8)),
                heading: f32::from(i16::from_le_bytes([r[12], r[13]])) / 1e4,
                emergency: r[14] & 1 != 0,
                halted: r[14] & 2 != 0,
            });
        }
        Ok(Some(Frame { step, phases, vehicles }))
    }
}

fn read_array<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut a = [0u8; N];
    r.read_exact(&mut a)?;
    Ok(a)
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    read_array(r).map(u32::from_le_bytes)
}
