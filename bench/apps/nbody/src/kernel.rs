//! The compute kernel that relive-bench times both inside a relive app and in
//! its own statically linked binary: the classic n-body simulation of the
//! Jovian planets (five bodies, a symplectic Euler step). The same file is
//! compiled into both (a `#[path]` module), so the code is identical.

/// Steps per timed call (one frame of the app).
pub const STEPS: usize = 100_000;

const PI: f64 = std::f64::consts::PI;
const SOLAR_MASS: f64 = 4.0 * PI * PI;
const DAYS_PER_YEAR: f64 = 365.24;

/// One body: position, velocity, mass.
#[derive(Clone, Copy, Debug)]
pub struct Body {
    pos: [f64; 3],
    vel: [f64; 3],
    mass: f64,
}

fn body(pos: [f64; 3], vel: [f64; 3], mass: f64) -> Body {
    Body {
        pos,
        vel: [
            vel[0] * DAYS_PER_YEAR,
            vel[1] * DAYS_PER_YEAR,
            vel[2] * DAYS_PER_YEAR,
        ],
        mass: mass * SOLAR_MASS,
    }
}

/// The Sun, Jupiter, Saturn, Uranus and Neptune, with the Sun's momentum
/// offset so that the system's total momentum is zero.
pub fn initial() -> [Body; 5] {
    let mut bodies = [
        body([0.0; 3], [0.0; 3], 1.0),
        body(
            [
                4.841_431_442_464_72,
                -1.160_320_044_027_428_4,
                -0.103_622_044_471_123_1,
            ],
            [
                0.001_660_076_642_744_037,
                0.007_699_011_184_197_404,
                -0.000_069_046_001_691_225_7,
            ],
            0.000_954_791_938_424_326_6,
        ),
        body(
            [
                8.343_366_718_244_58,
                4.124_798_564_124_305,
                -0.403_523_417_114_321_4,
            ],
            [
                -0.002_767_425_107_268_624,
                0.004_998_528_012_349_172,
                0.000_023_041_729_757_376_4,
            ],
            0.000_285_885_980_666_130_8,
        ),
        body(
            [
                12.894_369_562_139_131,
                -15.111_151_401_698_631,
                -0.223_307_578_892_655_7,
            ],
            [
                0.002_964_601_375_647_616,
                0.002_378_471_739_594_809_5,
                -0.000_029_658_956_854_023_8,
            ],
            0.000_043_662_440_433_515_6,
        ),
        body(
            [
                15.379_697_114_850_917,
                -25.919_314_609_987_964,
                0.179_258_772_950_371_2,
            ],
            [
                0.002_680_677_724_903_893,
                0.001_628_241_700_382_423,
                -0.000_095_159_225_451_971_59,
            ],
            0.000_051_513_890_204_661_5,
        ),
    ];
    let mut momentum = [0.0; 3];
    for b in &bodies {
        for (m, v) in momentum.iter_mut().zip(b.vel) {
            *m += v * b.mass;
        }
    }
    for (v, m) in bodies[0].vel.iter_mut().zip(momentum) {
        *v = -m / SOLAR_MASS;
    }
    bodies
}

/// Advances the system by `steps` steps of `dt`.
#[inline(never)]
pub fn advance(bodies: &mut [Body; 5], dt: f64, steps: usize) {
    for _ in 0..steps {
        for i in 0..bodies.len() {
            let (left, right) = bodies.split_at_mut(i + 1);
            let a = &mut left[i];
            for b in right.iter_mut() {
                let d = [
                    a.pos[0] - b.pos[0],
                    a.pos[1] - b.pos[1],
                    a.pos[2] - b.pos[2],
                ];
                let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                let mag = dt / (d2 * d2.sqrt());
                let (ma, mb) = (a.mass * mag, b.mass * mag);
                for ((va, vb), dk) in a.vel.iter_mut().zip(b.vel.iter_mut()).zip(d) {
                    *va -= dk * mb;
                    *vb += dk * ma;
                }
            }
        }
        for b in bodies.iter_mut() {
            for (p, v) in b.pos.iter_mut().zip(b.vel) {
                *p += dt * v;
            }
        }
    }
}

/// The system's total energy (kinetic plus potential).
pub fn energy(bodies: &[Body; 5]) -> f64 {
    let mut e = 0.0;
    for (i, a) in bodies.iter().enumerate() {
        e += 0.5 * a.mass * (a.vel[0] * a.vel[0] + a.vel[1] * a.vel[1] + a.vel[2] * a.vel[2]);
        for b in &bodies[i + 1..] {
            let d = [
                a.pos[0] - b.pos[0],
                a.pos[1] - b.pos[1],
                a.pos[2] - b.pos[2],
            ];
            e -= a.mass * b.mass / (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        }
    }
    e
}

/// One frame's work: `steps` steps from the initial state; returns the final
/// energy so that the work cannot be optimised away.
#[inline(never)]
pub fn frame_work(steps: usize) -> f64 {
    let mut bodies = initial();
    advance(&mut bodies, 0.01, steps);
    energy(&bodies)
}
