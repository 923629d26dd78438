//! Migration by field name: values saved by one version of the state types
//! and loaded by another keep every field that kept its name (and a
//! compatible type); new fields come from `Default`.

use std::collections::HashMap;

use proptest::prelude::*;
use relive::State;
use relive::state::{Carry, Load};

fn migrate<A: State, B: State>(value: &A) -> Result<B, String> {
    let bytes = rmp_serde::to_vec_named(&Carry(value)).map_err(|e| e.to_string())?;
    rmp_serde::from_slice::<Load<B>>(&bytes)
        .map(|l| l.0)
        .map_err(|e| e.to_string())
}

mod v1 {
    use std::collections::HashMap;

    #[derive(Debug, Clone, PartialEq, relive::State)]
    pub struct Particle {
        pub x: f32,
        pub y: f32,
        pub tag: u32,
    }

    #[derive(Debug, Clone, PartialEq, relive::State)]
    pub enum Shape {
        Dot,
        Circle { r: f32 },
        Label(String),
    }

    #[derive(Debug, Default, relive::State)]
    pub struct All {
        pub frames: u64,
        pub particles: Vec<Particle>,
        pub name: String,
        pub best: Option<Box<Particle>>,
        pub scores: HashMap<String, u32>,
        pub shapes: Vec<Shape>,
        pub gone: Vec<u8>,
        #[relive(reset)]
        pub mode: u8,
    }
}

mod v2 {
    use std::collections::HashMap;

    #[derive(Debug, Clone, PartialEq, relive::State)]
    pub struct Particle {
        pub x: f32,
        pub mass: f32,
        pub y: f32,
        pub tag: u64,
    }

    impl Default for Particle {
        fn default() -> Self {
            Particle {
                x: 0.0,
                mass: 1.0,
                y: 0.0,
                tag: 0,
            }
        }
    }

    #[derive(Debug, Clone, PartialEq, relive::State)]
    pub enum Shape {
        Label(String),
        Circle { r: f64, filled: Option<bool> },
        Dot,
    }

    #[derive(Debug, relive::State)]
    pub struct All {
        pub name: String,
        pub scores: HashMap<String, Option<u64>>,
        pub added: String,
        pub best: Option<Box<Particle>>,
        pub particles: Vec<Particle>,
        pub frames: u64,
        pub shapes: Vec<Shape>,
        #[relive(reset)]
        pub mode: String,
        #[relive(skip)]
        pub handle: Option<std::fs::File>,
    }

    impl Default for All {
        fn default() -> Self {
            All {
                name: String::new(),
                scores: HashMap::new(),
                added: "from default".into(),
                best: None,
                particles: Vec::new(),
                frames: 0,
                shapes: Vec::new(),
                mode: "fresh mode".into(),
                handle: None,
            }
        }
    }
}

#[test]
fn fields_inserted_reordered_removed_and_widened_keep_their_values() {
    let old = v1::All {
        frames: 42,
        particles: vec![
            v1::Particle {
                x: 1.5,
                y: -2.0,
                tag: 7,
            },
            v1::Particle {
                x: 0.1,
                y: 3.25,
                tag: 9,
            },
        ],
        name: "tank".into(),
        best: Some(Box::new(v1::Particle {
            x: 9.0,
            y: 8.0,
            tag: 1,
        })),
        scores: HashMap::from([("a".to_string(), 3), ("b".to_string(), 5)]),
        shapes: vec![
            v1::Shape::Dot,
            v1::Shape::Circle { r: 2.5 },
            v1::Shape::Label("hi".into()),
        ],
        gone: vec![1, 2, 3],
        mode: 3,
    };
    let new: v2::All = migrate(&old).expect("migrates");
    assert_eq!(new.frames, 42);
    assert_eq!(new.name, "tank");
    assert_eq!(
        new.added, "from default",
        "a new field takes the struct's Default"
    );
    assert_eq!(
        new.mode, "fresh mode",
        "a reset field whose type changed is reset"
    );
    assert_eq!(new.particles.len(), 2);
    assert_eq!(new.particles[0].x, 1.5);
    assert_eq!(new.particles[0].y, -2.0);
    assert_eq!(
        new.particles[0].mass, 1.0,
        "the element type's Default fills new fields"
    );
    assert_eq!(new.particles[1].tag, 9, "u32 widened to u64");
    assert_eq!(new.particles[1].x, 0.1f32, "exact f32");
    assert_eq!(new.best.as_ref().map(|b| b.tag), Some(1));
    assert_eq!(new.scores["b"], Some(5), "u32 -> Option<u64> in map values");
    assert_eq!(
        new.shapes,
        vec![
            v2::Shape::Dot,
            v2::Shape::Circle {
                r: 2.5,
                filled: None
            },
            v2::Shape::Label("hi".into())
        ],
        "variants by name, fields by name, f32 widened to f64"
    );
}

#[test]
fn a_value_that_does_not_fit_is_an_error_not_a_guess() {
    #[derive(Debug, Default, relive::State)]
    struct Before {
        count: String,
    }
    #[derive(Debug, Default, relive::State)]
    struct After {
        count: u32,
    }
    let err = migrate::<Before, After>(&Before { count: "x".into() }).expect_err("refused");
    assert!(!err.is_empty());
}

// Property: for generated values and a set of struct edits (insert in the
// middle, reorder, remove, widen, wrap in Option), every field that kept its
// name keeps its value and new fields take their default.
mod before {
    #[derive(Debug, Default, Clone, relive::State)]
    pub struct S {
        pub a: u32,
        pub b: String,
        pub c: Vec<i16>,
        pub d: f32,
        pub e: (u8, bool),
    }
}
mod inserted {
    #[derive(Debug, Default, relive::State)]
    pub struct S {
        pub a: u32,
        pub new1: Vec<String>,
        pub b: String,
        pub c: Vec<i16>,
        pub d: f32,
        pub e: (u8, bool),
    }
}
mod reordered_removed {
    #[derive(Debug, Default, relive::State)]
    pub struct S {
        pub e: (u8, bool),
        pub c: Vec<i16>,
        pub a: u32,
        pub new2: u64,
    }
}
mod widened {
    #[derive(Debug, Default, relive::State)]
    pub struct S {
        pub d: f64,
        pub a: u64,
        pub b: Option<String>,
        pub c: Vec<i64>,
        pub e: (u16, bool),
    }
}

proptest! {
    #[test]
    fn kept_fields_keep_their_values(
        a in any::<u32>(),
        b in ".{0,12}",
        c in proptest::collection::vec(any::<i16>(), 0..20),
        d in any::<f32>().prop_filter("comparable", |d| !d.is_nan()),
        e in any::<(u8, bool)>(),
    ) {
        let old = before::S { a, b: b.clone(), c: c.clone(), d, e };

        let s: inserted::S = migrate(&old).expect("insert");
        prop_assert_eq!(s.a, a);
        prop_assert_eq!(&s.b, &b);
        prop_assert_eq!(&s.c, &c);
        prop_assert_eq!(s.d, d);
        prop_assert_eq!(s.e, e);
        prop_assert!(s.new1.is_empty());

        let s: reordered_removed::S = migrate(&old).expect("reorder");
        prop_assert_eq!(s.a, a);
        prop_assert_eq!(&s.c, &c);
        prop_assert_eq!(s.e, e);
        prop_assert_eq!(s.new2, 0);

        let s: widened::S = migrate(&old).expect("widen");
        prop_assert_eq!(s.a, u64::from(a));
        prop_assert_eq!(s.b, Some(b));
        prop_assert_eq!(s.c, c.iter().map(|&x| i64::from(x)).collect::<Vec<_>>());
        prop_assert_eq!(s.d, f64::from(d));
        prop_assert_eq!(s.e, (u16::from(e.0), e.1));
    }
}

#[test]
fn plain_data_is_marked_and_snapshots_copy_it_exactly() {
    const {
        assert!(
            !<before::S as State>::POD,
            "a String field is not plain data"
        )
    };
    #[derive(Debug, Default, Clone, PartialEq, relive::State)]
    struct P {
        x: f32,
        tag: (u8, bool),
        cells: [u16; 3],
    }
    const { assert!(<P as State>::POD) };
    let items: Vec<P> = (0..1000)
        .map(|i| P {
            x: i as f32,
            tag: (i as u8, i % 2 == 0),
            cells: [i as u16; 3],
        })
        .collect();
    assert_eq!(items.snapshot(), items);
}

// A number saved by one version never becomes a `fn` pointer in the next:
// `p.f: u64 = 42` changed to `#[relive(reset)] f: Option<fn() -> u32>`
// starts from `Default`, it does not come back as `Some(<address 42>)`.
mod number {
    #[derive(Debug, Default, relive::State)]
    pub struct P {
        pub f: u64,
    }
    #[derive(Debug, Default, relive::State)]
    pub struct All {
        pub p: P,
    }
}
mod pointer {
    #[derive(Debug, Default, relive::State)]
    pub struct P {
        #[relive(reset)]
        pub f: Option<fn() -> u32>,
    }
    #[derive(Debug, Default, relive::State)]
    pub struct All {
        pub p: P,
    }
}

#[test]
fn a_saved_number_never_becomes_a_fn_pointer() {
    let old = number::All {
        p: number::P { f: 42 },
    };
    let new: pointer::All = migrate(&old).expect("a reset field loads");
    assert!(new.p.f.is_none(), "reset to Default, not an address");

    fn seven() -> u32 {
        7
    }
    let with_pointer = pointer::All {
        p: pointer::P { f: Some(seven) },
    };
    let again: pointer::All = migrate(&with_pointer).expect("a reset field loads");
    assert!(
        again.p.f.is_none(),
        "a migrated fn pointer starts from Default too"
    );
}
