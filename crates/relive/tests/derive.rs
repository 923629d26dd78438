//! `#[derive(relive::State)]` on the shapes of types real programs use:
//! `#[relive(serde)]` fields of foreign types (at any depth, in tuple and
//! enum fields, inside `Option`), maps with any hasher, skipped fields that
//! take the state's own `Default`, const generics, where clauses,
//! `repr(transparent)`, unit and tuple structs.

use std::collections::HashMap;

use indexmap::IndexMap;
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64;
use relive::State;
use relive::state::{Carry, LayoutBuilder, Load};
use relive_abi::layout::Kind;
use rustc_hash::FxBuildHasher;

fn migrate<A: State, B: State>(value: &A) -> Result<B, String> {
    let bytes = rmp_serde::to_vec_named(&Carry(value)).map_err(|e| e.to_string())?;
    rmp_serde::from_slice::<Load<B>>(&bytes)
        .map(|l| l.0)
        .map_err(|e| e.to_string())
}

/// A newtype around a foreign type, carried through serde.
#[derive(Debug, Clone, PartialEq, relive::State)]
pub struct Pos(#[relive(serde)] pub glam::Vec2);

#[derive(Debug, relive::State)]
pub enum Spawn {
    Idle,
    At(#[relive(serde)] glam::Vec2, u32),
    Seeded {
        #[relive(serde)]
        rng: Pcg64,
    },
}

mod v1 {
    use super::*;

    #[derive(Debug, Clone, PartialEq, relive::State)]
    pub struct Body {
        #[relive(serde)]
        pub pos: glam::Vec2,
        pub id: u32,
    }

    #[derive(Debug, Default, relive::State)]
    pub struct All {
        pub bodies: Vec<Body>,
        #[relive(serde)]
        pub rng: Option<Pcg64>,
        #[relive(serde)]
        pub names: IndexMap<String, u32>,
        pub counts: HashMap<u64, u64, FxBuildHasher>,
    }
}

mod v2 {
    use super::*;

    #[derive(Debug, Clone, PartialEq, relive::State)]
    pub struct Body {
        #[relive(serde)]
        pub pos: glam::Vec2,
        pub id: u32,
        pub mass: f32,
    }

    #[derive(Debug, Default, relive::State)]
    pub struct All {
        pub counts: HashMap<u64, u64, FxBuildHasher>,
        pub bodies: Vec<Body>,
        #[relive(serde)]
        pub rng: Option<Pcg64>,
        #[relive(serde)]
        pub names: IndexMap<String, u32>,
    }
}

#[test]
fn serde_fields_keep_values_and_random_streams_across_a_nested_field_added() {
    let mut old = v1::All {
        bodies: vec![v1::Body {
            pos: glam::Vec2::new(1.5, -2.0),
            id: 7,
        }],
        rng: Some(Pcg64::seed_from_u64(42)),
        names: [("z", 1), ("a", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        counts: [(3, 4), (5, 6)].into_iter().collect(),
    };
    old.rng.as_mut().map(RngCore::next_u64);
    let mut expected = old.rng.clone();
    let mut new: v2::All = migrate(&old).expect("migrates");
    assert_eq!(new.bodies[0].pos, glam::Vec2::new(1.5, -2.0));
    assert_eq!((new.bodies[0].id, new.bodies[0].mass), (7, 0.0));
    assert_eq!(new.names.keys().collect::<Vec<_>>(), ["z", "a"]);
    assert_eq!(new.counts, old.counts);
    let next = |rng: &mut Option<Pcg64>| rng.as_mut().map(RngCore::next_u64);
    assert_eq!(
        next(&mut new.rng),
        next(&mut expected),
        "the stream carries on"
    );
}

#[test]
fn serde_fields_are_described_opaquely_and_never_plain() {
    let layout = LayoutBuilder::layout_of::<v1::All>();
    let serde_types: Vec<&str> = layout
        .types
        .values()
        .filter_map(|t| match &t.kind {
            Kind::Serde { ty } => Some(ty.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(serde_types.len(), 3, "{serde_types:?}");
    assert!(serde_types.iter().any(|t| t.ends_with("Vec2")));
    // A serde field is never copied as bytes.
    const { assert!(!<v1::Body as State>::POD && !<Pos as State>::POD) };
}

#[test]
fn snapshots_and_saves_work_in_tuple_and_enum_fields() {
    let pos = Pos(glam::Vec2::new(3.0, 4.0));
    assert_eq!(pos.snapshot(), pos);
    assert_eq!(migrate::<Pos, Pos>(&pos).expect("round trip"), pos);
    let spawns = vec![
        Spawn::Idle,
        Spawn::At(glam::Vec2::X, 2),
        Spawn::Seeded {
            rng: Pcg64::seed_from_u64(1),
        },
    ];
    let mut back: Vec<Spawn> = migrate(&spawns).expect("round trip");
    let mut copy = spawns.snapshot();
    match (&mut back[..], &mut copy[..]) {
        (
            [Spawn::Idle, Spawn::At(p, 2), Spawn::Seeded { rng: a }],
            [_, Spawn::At(q, 2), Spawn::Seeded { rng: b }],
        ) => {
            assert_eq!((*p, *q), (glam::Vec2::X, glam::Vec2::X));
            assert_eq!(a.next_u64(), b.next_u64());
        }
        other => panic!("lost variants: {other:?}"),
    }
}

#[test]
fn a_serde_value_that_does_not_load_names_the_field() {
    #[derive(Debug, Default, relive::State)]
    struct Before {
        pos: String,
    }
    #[derive(Debug, Default, relive::State)]
    struct After {
        #[relive(serde)]
        pos: glam::Vec2,
    }
    let err = migrate::<Before, After>(&Before { pos: "x".into() }).expect_err("refused");
    assert!(err.contains("field `pos`") && err.contains("Vec2"), "{err}");
}

/// Not `Default`, not `State`: only the state struct's own `Default` makes it.
#[derive(Debug)]
pub struct Handle(u32);

#[derive(Debug, relive::State)]
pub struct WithSkip {
    pub kept: u32,
    #[relive(skip)]
    pub handle: Handle,
}

impl Default for WithSkip {
    fn default() -> Self {
        WithSkip {
            kept: 0,
            handle: Handle(99),
        }
    }
}

#[test]
fn skipped_fields_come_from_the_structs_own_default() {
    let value = WithSkip {
        kept: 5,
        handle: Handle(1),
    };
    let copy = value.snapshot();
    assert_eq!((copy.kept, copy.handle.0), (5, 99));
    let loaded: WithSkip = migrate(&value).expect("loads");
    assert_eq!((loaded.kept, loaded.handle.0), (5, 99));
}

#[derive(Debug, Clone, PartialEq, relive::State)]
pub struct Grid<T: Copy + Default, const N: usize>
where
    T: PartialEq,
{
    pub cells: [T; N],
    pub extra: Vec<[T; N]>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, relive::State)]
#[repr(transparent)]
pub struct Meters(pub f64);

#[derive(Debug, Default, Clone, PartialEq, relive::State)]
pub struct Marker;

#[derive(Debug, Default, Clone, PartialEq, relive::State)]
pub struct Pair(pub u8, pub String);

#[test]
fn const_generics_where_clauses_transparent_unit_and_tuple_structs() {
    let grid = Grid::<u16, 3> {
        cells: [1, 2, 3],
        extra: vec![[4, 5, 6]],
    };
    assert_eq!(grid.snapshot(), grid);
    assert_eq!(migrate::<_, Grid<u16, 3>>(&grid).expect("round trip"), grid);
    const { assert!(<Meters as State>::POD && <Marker as State>::POD) };
    assert_eq!(
        migrate::<_, Meters>(&Meters(2.5)).expect("round trip"),
        Meters(2.5)
    );
    assert_eq!(migrate::<_, Marker>(&Marker).expect("round trip"), Marker);
    let pair = Pair(1, "b".into());
    assert_eq!(migrate::<_, Pair>(&pair).expect("round trip"), pair);
    let layout = LayoutBuilder::layout_of::<Meters>();
    assert_eq!(layout.root_def().map(|d| d.size), Some(8));
}
